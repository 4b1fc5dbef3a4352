"""The environment commands of `toolgen`: `env probe`, `env call`, `sandbox serve` and `run`,
with the exit codes and outputs a user (or a script) relies on."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import orjson
import pytest
from click.testing import Result
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.io import read_jsonl
from pipeline.manifest import read_manifest

REPO = Path(__file__).resolve().parents[1]
SANDBOX_SPECS = REPO / "api_specs" / "sandbox"
TOOLGEN = Path(sys.executable).with_name("toolgen")

runner = CliRunner()


@pytest.fixture(scope="module")
def collected(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run folder holding the collected sandbox catalog (collected once per module)."""
    out = tmp_path_factory.mktemp("cli-env") / "collected"
    result = runner.invoke(
        app, ["collect", str(SANDBOX_SPECS), "--out", str(out), "--engine", "local", "--workers", "0"]
    )
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture
def run_dir(collected: Path, tmp_path: Path) -> Path:
    """A fresh copy per test, so one test's response cache never answers another's calls."""
    return Path(shutil.copytree(collected, tmp_path / "run"))


def call(run_dir: Path, *arguments: str) -> Result:
    return runner.invoke(app, ["env", "call", *arguments, "--out", str(run_dir)])


def test_env_probe_after_collect_probes_every_api_and_prints_a_summary(run_dir: Path) -> None:
    result = runner.invoke(app, ["env", "probe", "--out", str(run_dir), "--engine", "local"])

    assert result.exit_code == 0, result.output
    assert "APIs probed" in result.stdout and "84" in result.stdout and "{'real': 84}" in result.stdout
    assert len(list(read_jsonl(run_dir / "env" / "probe.jsonl"))) == 84
    assert set(read_manifest(run_dir)["stages"]) == {"collect", "probe"}


def test_env_call_prints_the_observation_as_json_and_exits_zero(run_dir: Path) -> None:
    result = call(run_dir, "city_atlas_geo", "get_city", "--args", '{"city_id": 2988507}')

    assert result.exit_code == 0, result.output
    observation = orjson.loads(result.stdout)
    assert observation["error"] == "" and observation["status"] == 200 and observation["mode"] == "real"
    assert observation["response"]["name"] == "Paris"


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        (["city_atlas_geo", "get_city", "--args", '{"city_id": 1}'], "HTTP 404: No city with id 1."),
        (["city_atlas_geo", "get_city"], "missing required argument 'city_id'"),
        (["city_atlas", "get_city"], "unknown tool 'city_atlas' (known: "),
    ],
    ids=["api-error", "bad-arguments", "unknown-tool"],
)
def test_env_call_exits_one_on_an_error_observation_and_still_prints_it(
    run_dir: Path, arguments: list[str], error: str
) -> None:
    result = call(run_dir, *arguments)

    assert result.exit_code == 1, result.output
    assert orjson.loads(result.stdout)["error"].startswith(error)


@pytest.mark.parametrize(
    ("text", "message"),
    [("{city_id: 1}", "--args is not JSON"), ("[2988507]", "--args must be a JSON object")],
)
def test_env_call_exits_two_when_args_are_not_a_json_object(run_dir: Path, text: str, message: str) -> None:
    result = call(run_dir, "city_atlas_geo", "get_city", "--args", text)

    assert result.exit_code == 2
    assert message in result.output and result.stdout == ""


def test_env_commands_without_a_catalog_say_what_to_run(tmp_path: Path) -> None:
    probed = runner.invoke(app, ["env", "probe", "--out", str(tmp_path / "empty"), "--engine", "local"])
    called = call(tmp_path / "empty", "city_atlas_geo", "get_city")

    assert probed.exit_code == 1 and "toolgen collect" in probed.output
    assert called.exit_code == 1 and "toolgen collect" in called.output


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get_json(url: str) -> object:
    with urllib.request.urlopen(url, timeout=2) as response:
        return orjson.loads(response.read())


def test_sandbox_serve_answers_http_until_terminated(tmp_path: Path) -> None:
    port = _free_port()
    server = subprocess.Popen(
        [str(TOOLGEN), "sandbox", "serve", "--port", str(port)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                index = _get_json(f"http://127.0.0.1:{port}/")
                break
            except (urllib.error.URLError, ConnectionError):
                assert server.poll() is None, server.stdout.read() if server.stdout else ""
                assert time.monotonic() < deadline, "the sandbox did not answer within 30 s"
                time.sleep(0.1)
        city = _get_json(f"http://127.0.0.1:{port}/geo/cities/2988507")
    finally:
        server.terminate()
        output = server.communicate(timeout=10)[0].decode()

    assert isinstance(index, dict) and len(index["tools"]) == 15
    assert isinstance(city, dict) and city["name"] == "Paris"
    assert server.returncode == 0, output
    assert f"http://127.0.0.1:{port}" in output


def test_run_local_on_the_bundled_specs_records_collect_and_probe(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no toolgen.toml from the working directory
    out = tmp_path / "run"

    result = runner.invoke(app, ["run", "--engine", "local", "--out", str(out)])

    assert result.exit_code == 0, result.output
    stages = read_manifest(out)["stages"]
    assert stages["collect"]["tools"] == 15 and stages["collect"]["apis"] == 84
    assert stages["probe"]["apis"] == 84 and stages["probe"]["ok"] == 84
    assert stages["probe"]["modes"] == {"real": 84}
    assert (out / "catalog" / "tools.jsonl").is_file() and (out / "env" / "probe.jsonl").is_file()
    assert "done" in result.output
