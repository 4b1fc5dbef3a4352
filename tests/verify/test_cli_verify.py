"""`toolgen verify`: the funnel from the command line, and what it says when there is nothing."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.io import read_jsonl

from .test_funnel import mixed_records, write_trajectories

runner = CliRunner()


def test_verify_prints_the_funnel_and_writes_the_verdicts(tmp_path: Path) -> None:
    write_trajectories(tmp_path, mixed_records())
    result = runner.invoke(app, ["verify", "--out", str(tmp_path), "--engine", "local"])
    assert result.exit_code == 0, result.output
    assert "offline-rule-judge" in result.output and "5" in result.output
    # no catalog in this run: the offline judge cannot resolve relevant APIs, so only grounding counts
    accepted = [r["query_id"] for r in read_jsonl(tmp_path / "verified" / "accepted.jsonl")]
    assert sorted(accepted) == [1, 5]


def test_verify_without_trajectories_says_what_to_run(tmp_path: Path) -> None:
    result = runner.invoke(app, ["verify", "--out", str(tmp_path), "--engine", "local"])
    assert result.exit_code == 1 and "toolgen annotate" in result.output


def test_an_llm_judge_without_a_backend_is_a_clear_failure(tmp_path: Path) -> None:
    write_trajectories(tmp_path, mixed_records())
    config = tmp_path / "toolgen.toml"
    config.write_text('[verify]\njudge = "llm"\n')
    result = runner.invoke(app, ["verify", "--out", str(tmp_path), "--engine", "local", "--config", str(config)])
    assert result.exit_code == 2 and "configuration error" in result.output and "llm.backend" in result.output
