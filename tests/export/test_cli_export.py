"""`toolgen export` from the command line: usage errors and the missing-stage message."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from pipeline.cli import app

runner = CliRunner()


def test_an_unknown_format_is_a_usage_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["export", "--out", str(tmp_path), "--format", "alpaca", "--engine", "local"])
    assert result.exit_code == 2 and "alpaca" in result.output and "sharegpt" in result.output


def test_export_before_verify_says_what_to_run(tmp_path: Path) -> None:
    result = runner.invoke(app, ["export", "--out", str(tmp_path), "--format", "openai", "--engine", "local"])
    assert result.exit_code == 1 and "toolgen verify" in result.output
