"""The data-quality figures: on hand-made samples (each figure), and on a small real offline run
(properties that hold whatever the run's exact counts are)."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import pytest

from pipeline.export.card import dataset_card
from pipeline.export.common import ExportReport
from pipeline.generate.stage import generate_queries
from pipeline.io import write_jsonl
from pipeline.manifest import read_manifest
from pipeline.records import TrajectoryRecord, iter_accepted
from pipeline.report.build import build_report
from pipeline.report.quality import (
    QUALITY_FILE,
    DataQuality,
    FunnelFigures,
    data_quality,
    duplicates,
    measure_sample,
    quality_card_lines,
)
from pipeline.search.stage import annotate_queries
from pipeline.settings import load_settings
from pipeline.specs.collect import collect_catalog
from pipeline.verify.checks import check_path_grounding, path_calls
from pipeline.verify.stage import verify_trajectories

from ..verify.trajectories import LISBON, SUNNY, record, step

REPO = Path(__file__).resolve().parents[2]


def test_a_failed_call_a_later_call_corrects_counts_as_corrected() -> None:
    corrected = record([step("geocode_for_cityatlas", {"name": "Lisbon"}, {"error": "HTTP 503", "response": ""}),
                        step("geocode_for_cityatlas", {"name": "Lisbon"}, LISBON),
                        step("current_for_weather", {"lat": 38.72, "lon": -9.14}, SUNNY)])
    sample = measure_sample(TrajectoryRecord.of(corrected))
    assert sample.failed_call and sample.corrected and sample.calls == 3
    clean = measure_sample(TrajectoryRecord.of(record([step("geocode_for_cityatlas", {"name": "Lisbon"}, LISBON)])))
    assert not clean.failed_call and not clean.corrected and clean.calls == 1


def test_cut_and_invalid_observations_and_ungrounded_arguments_are_counted() -> None:
    data = record([step("geocode_for_cityatlas", {"name": "Begin"}, LISBON),
                   step("current_for_weather", {"lat": 38.72, "lon": -9.14, "station": "XK-99"}, SUNNY)])
    data["messages"][3]["content"] = '{"error":"","response":{"name":"Lis...(truncated)'
    sample = measure_sample(TrajectoryRecord.of(data))
    assert (sample.observations, sample.truncated, sample.invalid_json) == (2, 1, 1)
    assert (sample.arguments, sample.ungrounded_required, sample.ungrounded_optional) == (4, 1, 1)


def test_exact_and_near_duplicates() -> None:
    texts = ["What is the weather in Lisbon right now?", "what is the weather in lisbon, right now",
             "What is the weather in Lisbon right now, please?", "Convert 250 USD to EUR.", ""]
    assert duplicates(texts) == [None, "exact", "near", None, None]


def test_funnel_pass_rates_follow_the_steps_that_ran() -> None:
    funnel = FunnelFigures(generated=10, kept=8, annotated=8, solved=6, accepted=3)
    assert funnel.pass_rates() == {"kept / generated": 0.8, "annotated / kept": 1.0, "solved / annotated": 0.75,
                                   "accepted / solved": 0.5, "accepted / generated": 0.3}
    assert FunnelFigures(generated=4, kept=2).pass_rates() == {"kept / generated": 0.5}


def test_a_run_folder_without_samples_measures_nothing(tmp_path: Path) -> None:
    quality = data_quality(tmp_path)
    assert quality.source == "none" and quality.overall.samples == 0 and quality.groups == {}
    assert quality_card_lines(tmp_path / "datasets" / "openai", {"config": {"run_dir": str(tmp_path)}}) == []


def test_an_unverified_run_measures_its_answered_trajectories(tmp_path: Path) -> None:
    answered = record([step("geocode_for_cityatlas", {"name": "Lisbon"}, LISBON)], query_id=1)
    gave_up = record([], finish="give_up_and_restart", answer=None, query_id=2)
    write_jsonl(tmp_path / "trajectories" / "G1.jsonl", [answered, gave_up])
    quality = data_quality(tmp_path)
    assert quality.source == "answered" and quality.overall.samples == 1 and list(quality.groups) == ["G1"]


# --- a real offline run -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def offline_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """collect → generate → annotate → verify on the bundled sandbox specs, small and seeded."""
    run_dir = tmp_path_factory.mktemp("quality") / "run"
    settings = load_settings(run_dir=run_dir,
                             collect={"workers": 0, "sources": [str(REPO / "api_specs" / "sandbox")]},
                             generate={"per_group": {"G1": 2, "G2": 2, "G3": 2}, "instructions_per_set": 3})
    asyncio.run(collect_catalog(None, settings))
    asyncio.run(generate_queries(settings))
    asyncio.run(annotate_queries(settings))
    asyncio.run(verify_trajectories(settings))
    return run_dir


@pytest.fixture(scope="module")
def quality(offline_run: Path) -> DataQuality:
    return data_quality(offline_run)


def test_no_accepted_sample_has_an_ungrounded_required_argument(offline_run: Path, quality: DataQuality) -> None:
    samples = list(iter_accepted(offline_run))
    assert samples and quality.source == "accepted" and quality.overall.samples == len(samples)
    for sample in samples:
        assert check_path_grounding(sample, path_calls(sample)).passed, sample.key
        values = [v for call in path_calls(sample) if call.arguments for v in call.arguments.values()]
        assert "Begin" not in values
    assert quality.overall.ungrounded_required == 0


def test_offline_answers_state_results_without_raw_json(offline_run: Path, quality: DataQuality) -> None:
    answers = [sample.final_answer or "" for sample in iter_accepted(offline_run)]
    assert all(answer.strip() for answer in answers)
    assert not [a for a in answers if re.search(r"[{\[]\s*\"[^\"]+\"\s*:", a)]
    assert quality.overall.answers_with_json == 0
    # several openings, none taking every answer
    assert quality.overall.distinct_answer_openings > 1 and quality.overall.top_answer_opening_share < 1


def test_figures_are_rates_and_groups_add_up(quality: DataQuality) -> None:
    overall = quality.overall
    for figures in [overall, *quality.groups.values()]:
        for name, value in figures.model_dump().items():
            if name.endswith(("_rate", "_share")):
                assert 0.0 <= value <= 1.0, name
        assert figures.grounded_arguments <= figures.arguments
        assert figures.corrected_paths <= figures.paths_with_failed_call <= figures.samples
    assert sum(g.samples for g in quality.groups.values()) == overall.samples
    assert sum(g.arguments for g in quality.groups.values()) == overall.arguments
    steps = [count for _, count in overall.funnel.steps()]
    assert steps == sorted(steps, reverse=True) and steps[-1] == overall.samples


def test_the_report_shows_the_tables_and_writes_quality_json(offline_run: Path, quality: DataQuality) -> None:
    report = build_report(offline_run)
    assert report.table("data_quality") is not None and report.table("quality_funnel") is not None
    written = json.loads((offline_run / "report" / QUALITY_FILE).read_text())
    assert DataQuality.model_validate(written).overall == quality.overall
    assert "## Data quality" in report.markdown_path.read_text()


def test_the_dataset_card_carries_the_quality_section(offline_run: Path) -> None:
    manifest: dict[str, Any] = read_manifest(offline_run)
    folder = offline_run / "datasets" / ".openai.partial-1"  # where the export stage writes its card
    card = dataset_card(report=ExportReport(format="openai", directory=str(folder)), description="d",
                        manifest=manifest, catalog=None, licence="l", split_rule="s")
    assert "## Data quality" in card and "grounded arguments" in card
    assert card.index("## Data quality") < card.index("## Models")
    # an export folder outside any run falls back on the run the manifest names
    elsewhere = dataset_card(report=ExportReport(format="openai", directory="/nowhere/x"), description="d",
                             manifest=manifest, catalog=None, licence="l", split_rule="s")
    assert "## Data quality" in elsewhere
