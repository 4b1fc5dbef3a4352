"""A resumed stage adds its model spend to what earlier invocations spent; unknown stays unknown."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.llm.usage import add_usage, with_usage_total
from pipeline.manifest import read_manifest, record_stage
from pipeline.report.stats import gather_run
from pipeline.report.tables import llm_usage_table
from pipeline.settings import load_settings


def _usage(requests: int, cost: float | None) -> dict[str, dict[str, Any]]:
    return {"policy": {"requests": requests, "retries": 1, "prompt_tokens": 10 * requests,
                       "completion_tokens": requests, "cost_usd": cost, "errors": 0,
                       "unpriced_models": [] if cost is not None else ["local-model"]}}


def test_a_second_invocation_adds_to_the_first() -> None:
    total = add_usage(_usage(3, 0.5), _usage(2, 0.25))
    assert total["policy"]["requests"] == 5
    assert total["policy"]["prompt_tokens"] == 50
    assert total["policy"]["cost_usd"] == 0.75


def test_one_unpriced_invocation_makes_the_total_unknown() -> None:
    total = add_usage(_usage(3, 0.5), _usage(2, None))
    assert total["policy"]["cost_usd"] is None
    assert total["policy"]["unpriced_models"] == ["local-model"]


def test_roles_seen_in_one_invocation_only_are_kept() -> None:
    judge = {"judge": {"requests": 4, "cost_usd": 0.1}}
    total = add_usage(_usage(1, 0.5), judge)
    assert set(total) == {"policy", "judge"}


def test_the_manifest_keeps_a_running_total_and_the_report_shows_it(tmp_path: Path) -> None:
    settings = load_settings(run_dir=tmp_path)
    first = with_usage_total({"llm_usage": _usage(3, 0.5)}, None)
    record_stage(tmp_path, "annotate", first, settings)
    previous = read_manifest(tmp_path)["stages"]["annotate"]
    second = with_usage_total({"llm_usage": _usage(2, 0.25)}, previous)
    record_stage(tmp_path, "annotate", second, settings)
    section = read_manifest(tmp_path)["stages"]["annotate"]
    assert section["llm_usage"]["policy"]["requests"] == 2  # this invocation's own figures
    assert section["llm_usage_total"]["policy"]["requests"] == 5
    table = llm_usage_table(gather_run(tmp_path))
    assert table is not None
    assert table.rows == [["annotate", "policy", 5, 50, 5, 0.75]]


def test_an_unpriced_model_shows_as_unknown_cost_in_the_report(tmp_path: Path) -> None:
    settings = load_settings(run_dir=tmp_path)
    record_stage(tmp_path, "annotate", with_usage_total({"llm_usage": _usage(2, None)}, None), settings)
    table = llm_usage_table(gather_run(tmp_path))
    assert table is not None and table.rows[0][-1] == "unknown"
