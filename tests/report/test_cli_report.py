"""`toolgen report` from the command line."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.settings import load_settings

runner = CliRunner()


def test_report_on_a_run_without_a_manifest_says_what_to_run(tmp_path: Path) -> None:
    result = runner.invoke(app, ["report", "--out", str(tmp_path), "--engine", "local"])
    assert result.exit_code == 1 and "toolgen run" in result.output


def test_report_writes_the_markdown_for_an_existing_run(tmp_path: Path) -> None:
    from pipeline.manifest import record_stage

    record_stage(tmp_path, "collect", {"tools": 0}, load_settings(run_dir=tmp_path))
    result = runner.invoke(app, ["report", "--out", str(tmp_path), "--engine", "local"])
    assert result.exit_code == 0, result.output
    text = (tmp_path / "report" / "report.md").read_text()
    assert "has not run" in text
