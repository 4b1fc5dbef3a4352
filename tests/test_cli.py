"""The `toolgen` command: exit codes, outputs and messages a user sees."""

from __future__ import annotations

import functools
import http.server
import threading
from pathlib import Path

import orjson
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.io import read_jsonl

runner = CliRunner()


def test_collect_writes_the_catalog_and_exits_zero_despite_a_broken_file(tmp_path: Path, spec_folder: Path) -> None:
    out = tmp_path / "run"
    result = runner.invoke(app, ["collect", str(spec_folder), "--out", str(out), "--engine", "local", "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert len(list(read_jsonl(out / "catalog" / "tools.jsonl"))) == 3
    assert len(list(read_jsonl(out / "catalog" / "errors.jsonl"))) == 1
    assert "tools" in result.stdout and "3" in result.stdout


def test_collect_exits_one_when_nothing_is_collected(tmp_path: Path) -> None:
    result = runner.invoke(app, ["collect", str(tmp_path / "absent"), "--out", str(tmp_path / "run"), "--engine", "local"])
    assert result.exit_code == 1
    assert "errors.jsonl" in result.output
    assert f"{tmp_path / 'absent'}: no such file or folder" in result.output


def test_bad_configuration_exits_two_and_names_the_field(tmp_path: Path) -> None:
    config = tmp_path / "toolgen.toml"
    config.write_text("[collect]\nworkers = 'two'\n")
    result = runner.invoke(app, ["collect", "x", "--config", str(config), "--engine", "local"])
    assert result.exit_code == 2
    assert "collect.workers" in result.output


def test_an_unknown_option_is_a_usage_error() -> None:
    assert runner.invoke(app, ["collect", "--frobnicate"]).exit_code == 2


def test_catalog_export_writes_toolbench_layout_and_show_summarises(tmp_path: Path, spec_folder: Path) -> None:
    out = tmp_path / "run"
    assert runner.invoke(app, ["collect", str(spec_folder), "--out", str(out), "--engine", "local", "--workers", "0"]).exit_code == 0
    exported = tmp_path / "tb"
    result = runner.invoke(app, ["catalog", "export", str(exported), "--format", "toolbench", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert (exported / "Finance" / "stock_quotes.json").is_file()
    shown = runner.invoke(app, ["catalog", "show", "--out", str(out)])
    assert shown.exit_code == 0 and "Weather" in shown.stdout and "parse" in shown.stdout


def test_catalog_commands_without_a_catalog_say_what_to_run(tmp_path: Path) -> None:
    result = runner.invoke(app, ["catalog", "export", str(tmp_path / "x"), "--out", str(tmp_path / "empty")])
    assert result.exit_code == 1 and "toolgen collect" in result.output


def test_serve_without_schedules_is_a_usage_error(tmp_path: Path) -> None:
    config = tmp_path / "toolgen.toml"
    config.write_text('run_name = "x"\n')
    result = runner.invoke(app, ["serve", "--config", str(config)])
    assert result.exit_code == 2 and "[[schedules]]" in result.output


def test_collect_trust_host_lets_an_index_lead_to_a_local_server(tmp_path: Path, spec_folder: Path) -> None:
    index = {"example.com:weather": {"preferred": "1", "versions": {"1": {"swaggerYamlUrl": "weather.yaml"}}}}
    (spec_folder / "list.json").write_bytes(orjson.dumps(index))
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(spec_folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        common = ["collect", f"{base}/list.json", f"{base}/hotels.json", "--engine", "local", "--workers", "0"]
        env = {"TOOLGEN_CACHE_DIR": str(tmp_path / "cache")}
        untrusted = runner.invoke(app, [*common, "--out", str(tmp_path / "a")], env=env)
        trusted = runner.invoke(
            app, [*common, "--out", str(tmp_path / "b"), "--trust-host", base.removeprefix("http://")], env=env
        )
    finally:
        server.shutdown()
        server.server_close()

    assert untrusted.exit_code == 0, untrusted.output
    [refused] = read_jsonl(tmp_path / "a" / "catalog" / "errors.jsonl")
    assert refused["source"] == f"{base}/weather.yaml" and "loopback" in refused["reason"]
    assert trusted.exit_code == 0, trusted.output
    assert list(read_jsonl(tmp_path / "b" / "catalog" / "errors.jsonl")) == []
    assert len(list(read_jsonl(tmp_path / "b" / "catalog" / "tools.jsonl"))) == 2
