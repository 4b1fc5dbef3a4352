"""The run report end to end: a real offline run (collect → generate → annotate) plus a hand-made
verify stage, and a run that only has its catalog."""

from __future__ import annotations

import asyncio
import itertools
import re
import shutil
import statistics
from pathlib import Path
from typing import Any

import pytest

from pipeline.generate.stage import generate_queries
from pipeline.io import read_jsonl, write_jsonl
from pipeline.manifest import read_manifest, record_stage
from pipeline.records import iter_trajectories
from pipeline.report.build import build_report
from pipeline.report.models import Report, ReportTable, format_cell
from pipeline.report.stats import ACCEPTED_FILE, gather_run
from pipeline.search.stage import annotate_queries
from pipeline.settings import Settings, load_settings
from pipeline.specs.catalog import iter_tools
from pipeline.specs.collect import collect_catalog

REPO = Path(__file__).resolve().parents[2]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

VERIFY_SECTION: dict[str, Any] = {
    "judge": "offline-rule",
    "votes": 1,
    "funnel": {"candidates": 20, "format": 17, "execution": 15, "semantic": 12},
    "accepted": 12,
    "rejected": {"format": 3, "execution": 2, "semantic": 3},
    "reasons": {"format: missing Finish": 2, "format: bad | arguments": 1, "execution: HTTP 404": 2,
                "semantic: does not answer the query": 3},
    "per_group": {"G1": {"candidates": 8, "accepted": 5}, "G2": {"candidates": 12, "accepted": 7}},
    "corrected_errors": 1,
    "llm_usage": {"judge": {"requests": 10, "prompt_tokens": 900, "completion_tokens": 90, "cost_usd": 0.0123,
                            "cache_hits": 4, "cache_misses": 6}},
}
EXPORT_SECTION: dict[str, Any] = {"sharegpt": {"rows": {"train": 10, "eval": 2}}}


def settings_for(run_dir: Path) -> Settings:
    return load_settings(run_dir=run_dir,
                         collect={"workers": 0, "sources": [str(REPO / "api_specs" / "sandbox")]},
                         generate={"per_group": {"G1": 2, "G2": 2, "G3": 2}, "instructions_per_set": 3})


@pytest.fixture(scope="module")
def annotated_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small offline run through annotate (seeded, so the same trees every time)."""
    run_dir = tmp_path_factory.mktemp("report") / "annotated"
    settings = settings_for(run_dir)
    asyncio.run(collect_catalog(None, settings))
    asyncio.run(generate_queries(settings))
    asyncio.run(annotate_queries(settings))
    return run_dir


@pytest.fixture(scope="module")
def verified_run(annotated_run: Path) -> Path:
    """The annotated run plus a hand-made verify stage (accepted samples and manifest section)
    and an export section."""
    run_dir = annotated_run.parent / "verified"
    shutil.copytree(annotated_run, run_dir)
    answered = [r.dump() for r in iter_trajectories(run_dir) if r.answered]
    accepted = [{**record, "verification": {"passed": True, "format": {"passed": True}}} for record in answered[:12]]
    write_jsonl(run_dir / ACCEPTED_FILE, accepted)
    settings = settings_for(run_dir)
    record_stage(run_dir, "verify", VERIFY_SECTION, settings)
    record_stage(run_dir, "export", EXPORT_SECTION, settings)
    return run_dir


@pytest.fixture(scope="module")
def full_report(verified_run: Path) -> Report:
    return build_report(verified_run)


@pytest.fixture(scope="module")
def catalog_only_report(annotated_run: Path) -> tuple[Path, Report]:
    run_dir = annotated_run.parent / "catalog_only"
    shutil.copytree(annotated_run / "catalog", run_dir / "catalog")
    manifest = read_manifest(annotated_run)
    record_stage(run_dir, "collect", manifest["stages"]["collect"], settings_for(run_dir))
    return run_dir, build_report(run_dir)


def _split_row(line: str) -> list[str]:
    cells = re.split(r"(?<!\\)\|", line.strip()[1:-1])
    return [cell.strip().replace("\\|", "|").replace("\\\\", "\\") for cell in cells]


def markdown_tables(text: str) -> dict[str, tuple[list[str], list[list[str]]]]:
    """Title → (columns, rows) of every ``**title**`` + pipe table in the markdown."""
    tables: dict[str, tuple[list[str], list[list[str]]]] = {}
    blocks = text.split("\n\n")
    for title_block, table_block in itertools.pairwise(blocks):
        if title_block.startswith("**") and table_block.startswith("|"):
            lines = table_block.splitlines()
            tables[title_block.strip("*")] = (_split_row(lines[0]), [_split_row(line) for line in lines[2:]])
    return tables


def table(report: Report, key: str) -> ReportTable:
    found = report.table(key)
    assert found is not None, f"no table {key!r} in {[t.key for t in report.tables]}"
    return found


def test_report_is_written_beside_its_figures(full_report: Report, verified_run: Path) -> None:
    assert full_report.markdown_path == (verified_run / "report" / "report.md").resolve()
    assert full_report.markdown_path.is_file()
    assert all(figure.parent == full_report.markdown_path.parent for figure in full_report.figures)


def test_funnel_and_rejections_equal_the_manifest(full_report: Report) -> None:
    funnel = table(full_report, "verify_funnel")
    assert [[row[0], row[1], row[2]] for row in funnel.rows] == [
        [stage, n, VERIFY_SECTION["rejected"].get(stage, 0)] for stage, n in VERIFY_SECTION["funnel"].items()
    ]
    assert funnel.rows[-1][3] == 60.0  # 12 of 20 candidates
    reasons = table(full_report, "verify_rejections")
    assert {row[0]: row[1] for row in reasons.rows} == VERIFY_SECTION["reasons"]
    groups = table(full_report, "verify_per_group")
    assert groups.rows == [["G1", 8, 5, 62.5], ["G2", 12, 7, 58.3]]
    text = full_report.markdown_path.read_text()
    assert "judge: `offline-rule`, votes: 1" in text and "accepted: 12" in text


def test_tables_returned_are_the_tables_the_markdown_shows(full_report: Report) -> None:
    shown = markdown_tables(full_report.markdown_path.read_text())
    assert [t.title for t in full_report.tables] == list(shown)
    for returned in full_report.tables:
        columns, rows = shown[returned.title]
        assert columns == returned.columns
        assert rows == [[format_cell(cell) for cell in row] for row in returned.rows]
    # the pipe in a rejection reason survives the round trip
    assert ["format: bad | arguments", "1"] in shown["Rejection reasons"][1]


def test_every_referenced_png_exists_and_is_a_png(full_report: Report) -> None:
    text = full_report.markdown_path.read_text()
    referenced = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    folder = full_report.markdown_path.parent
    assert sorted(folder / name for name in referenced) == sorted(full_report.figures)
    assert {p.name for p in full_report.figures} >= {
        "catalog_by_category.png", "instructions_per_group.png", "verify_funnel.png", "calls_per_path.png",
        "tree_sizes.png", "backtracks.png", "search_tree.png"}
    for figure in full_report.figures:
        data = figure.read_bytes()
        assert data.startswith(PNG_MAGIC), figure
        assert len(data) > 5_000, figure


def test_tree_picture_shows_a_backtracking_tree(full_report: Report, verified_run: Path) -> None:
    assert any(r.counts.backtracks > 0 for r in iter_trajectories(verified_run)), "fixture lost its backtracking"
    drawn = gather_run(verified_run).trajectories.drawn
    assert drawn is not None and drawn.backtracks > 0
    assert (full_report.markdown_path.parent / "search_tree.png") in full_report.figures
    assert f"A tree that backtracks: group {drawn.group}, query {drawn.query_id}" in \
        full_report.markdown_path.read_text()


def test_cost_is_per_accepted_sample_once_verify_ran(full_report: Report, verified_run: Path) -> None:
    accepted = list(read_jsonl(verified_run / ACCEPTED_FILE))
    cost = table(full_report, "cost_per_sample")
    assert cost.title == "Cost per accepted sample"
    rows = {row[0]: row for row in cost.rows}
    calls = [r["counts"]["model_calls"] for r in accepted]
    assert rows["model calls"][1] == round(statistics.mean(calls), 2)
    assert rows["model calls"][2] == round(statistics.median(calls), 2)
    total_calls = sum(r.counts.model_calls for r in iter_trajectories(verified_run))
    assert rows["model calls"][4] == round(total_calls / len(accepted), 2)
    assert "per answered trajectory" not in full_report.markdown_path.read_text()


def test_llm_cache_and_environment_cache_are_reported(full_report: Report, verified_run: Path) -> None:
    usage = table(full_report, "llm_usage")
    assert ["verify", "judge", 10, 900, 90, 0.0123] in usage.rows
    # only the judge's entry carries cache figures; the annotate policy must not show a fake 0 %
    assert table(full_report, "llm_cache").rows == [["verify", "judge", 4, 6, 40.0]]
    environment = table(full_report, "environment_cache")
    annotate_cache = read_manifest(verified_run)["stages"]["annotate"]["environment"]["cache"]
    row = next(row for row in environment.rows if row[0] == "annotate")
    assert row[1:4] == [annotate_cache["hits"], annotate_cache["misses"], annotate_cache["writes"]]


def test_header_says_the_data_is_offline(full_report: Report) -> None:
    text = full_report.markdown_path.read_text()
    header = text.split("\n## ", 1)[0]
    assert "rule-based offline engine" in header and "not an LLM" in header


def test_instructions_and_exports_follow_the_manifest(full_report: Report, verified_run: Path) -> None:
    generate = read_manifest(verified_run)["stages"]["generate"]
    rows = {row[0]: row[1:] for row in table(full_report, "instructions_per_group").rows}
    for group, figures in generate["per_group"].items():
        assert rows[group] == [figures["made"], figures["kept"], figures["dropped"]]
    assert rows["all"][:2] == [generate["made"], generate["kept"]]
    assert table(full_report, "export_rows").rows == [["sharegpt", "train", 10], ["sharegpt", "eval", 2]]


def test_annotated_run_without_verify_says_figures_are_per_answered_trajectory(annotated_run: Path,
                                                                              tmp_path: Path) -> None:
    report = build_report(annotated_run, out_dir=tmp_path / "out")
    text = report.markdown_path.read_text()
    assert report.markdown_path == (tmp_path / "out" / "report.md").resolve()
    assert "_The `verify` stage has not run for this run folder yet._" in text
    assert "**per answered trajectory**" in text
    assert table(report, "cost_per_sample").title == "Cost per answered sample"
    assert report.table("verify_funnel") is None


def test_catalog_only_run_builds_a_report_saying_later_stages_have_not_run(
        catalog_only_report: tuple[Path, Report]) -> None:
    run_dir, report = catalog_only_report
    text = report.markdown_path.read_text()
    for stage in ("generate", "annotate", "verify", "export"):
        assert f"_The `{stage}` stage has not run for this run folder yet._" in text
    tools = list(iter_tools(run_dir))
    rows = {row[0]: row[1:] for row in table(report, "catalog_by_category").rows}
    assert sum(n for n, _ in rows.values()) == len(tools)
    assert sum(n for _, n in rows.values()) == sum(len(t.api_list) for t in tools)
    assert [p.name for p in report.figures] == ["catalog_by_category.png"]
    assert {row[0]: row[1] for row in table(report, "stages").rows}["annotate"] == "not run"
