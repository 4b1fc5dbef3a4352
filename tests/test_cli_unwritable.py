"""An ``--out`` (or an export folder) that cannot be written is one line naming the path and
exit 2, for every command, before any work or Prefect starts; never a traceback."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline.cli import app

AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0

STAGE_COMMANDS = [
    ["collect"],
    ["env", "probe"],
    ["generate"],
    ["annotate"],
    ["verify"],
    ["export"],
    ["run"],
]


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def assert_one_line_exit_2(code: int, output: str, path: object) -> None:
    assert code == 2, output
    assert "Traceback" not in output and str(path) in output
    assert len([line for line in output.splitlines() if line.strip()]) == 1, output


@pytest.fixture
def a_file(tmp_path: Path) -> Path:
    path = tmp_path / "a-file"
    path.write_text("not a folder")
    return path


@pytest.fixture
def read_only(tmp_path: Path) -> Iterator[Path]:
    if AS_ROOT:
        pytest.skip("root writes into read-only folders")
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    yield folder
    folder.chmod(0o755)


@pytest.mark.parametrize("command", STAGE_COMMANDS, ids=" ".join)
def test_an_out_that_is_a_file_is_one_line_and_exit_2(command: list[str], a_file: Path) -> None:
    code, output = invoke(*command, "--out", str(a_file), "--engine", "local")
    assert_one_line_exit_2(code, output, a_file)


@pytest.mark.parametrize("command", STAGE_COMMANDS, ids=" ".join)
def test_an_out_under_proc_is_one_line_and_exit_2(command: list[str]) -> None:
    code, output = invoke(*command, "--out", "/proc/toolgen-cannot-be-here/run", "--engine", "local")
    assert_one_line_exit_2(code, output, "/proc/toolgen-cannot-be-here/run")


def test_an_unwritable_out_fails_before_prefect_starts(a_file: Path) -> None:
    code, output = invoke("verify", "--out", str(a_file / "run"))  # the default engine: Prefect
    assert_one_line_exit_2(code, output, a_file / "run")


@pytest.mark.parametrize("command", STAGE_COMMANDS, ids=" ".join)
def test_a_read_only_out_is_one_line_and_exit_2(command: list[str], read_only: Path) -> None:
    for out in (read_only, read_only / "run"):
        code, output = invoke(*command, "--out", str(out), "--engine", "local")
        assert_one_line_exit_2(code, output, out)


def test_report_into_a_file_is_exit_2(a_file: Path) -> None:
    code, output = invoke("report", "--out", str(a_file), "--engine", "local")
    assert_one_line_exit_2(code, output, a_file)


def test_report_into_a_read_only_run_is_exit_2(tmp_path: Path, read_only: Path) -> None:
    (read_only / "manifest.json").parent.chmod(0o755)
    (read_only / "manifest.json").write_text('{"stages": {}}\n')
    read_only.chmod(0o555)
    code, output = invoke("report", "--out", str(read_only), "--engine", "local")
    assert_one_line_exit_2(code, output, read_only)


def test_a_report_folder_in_the_way_is_exit_2(tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert invoke("collect", "--out", str(run), "--engine", "local")[0] == 0
    (run / "report").write_text("a file where the report folder goes")
    code, output = invoke("report", "--out", str(run), "--engine", "local")
    assert_one_line_exit_2(code, output, run / "report")


@pytest.fixture(scope="module")
def collected(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("collected") / "run"
    code, output = invoke("collect", "--out", str(run), "--engine", "local")
    assert code == 0, output
    return run


@pytest.mark.parametrize("where", ["file", "under-file", "proc"])
def test_catalog_export_into_an_unwritable_folder_is_exit_2(where: str, collected: Path, a_file: Path) -> None:
    target = {"file": a_file, "under-file": a_file / "docs", "proc": Path("/proc/toolgen-no/docs")}[where]
    code, output = invoke("catalog", "export", str(target), "--out", str(collected))
    assert_one_line_exit_2(code, output, target)


def test_catalog_export_into_a_read_only_folder_is_exit_2(collected: Path, read_only: Path) -> None:
    code, output = invoke("catalog", "export", str(read_only), "--out", str(collected))
    assert_one_line_exit_2(code, output, read_only)


def test_env_call_with_an_unwritable_cache_is_exit_2(collected: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(collected, run)
    shutil.rmtree(run / "env", ignore_errors=True)
    (run / "env").write_text("a file where the response cache goes")
    code, output = invoke("env", "call", "a", "b", "--out", str(run))
    assert_one_line_exit_2(code, output, run / "env")
