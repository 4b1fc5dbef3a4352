"""The retriever stage on a tiny run folder, its flow, its CLI commands and its report section."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.io import read_json, write_jsonl
from pipeline.manifest import read_manifest
from pipeline.report.build import build_report
from pipeline.retriever.documents import catalog_documents
from pipeline.retriever.evaluation import EVAL_FILE, RetrieverEval
from pipeline.retriever.expansion import EXPANSION_MARK
from pipeline.retriever.index import VectorIndex, index_dir, retriever_dir
from pipeline.retriever.stage import RetrieverReport, RetrieverStage
from pipeline.settings import Settings, load_settings
from pipeline.specs.collect import collect_catalog
from pipeline.stages import StageContext, registry, run_stage
from tests.conftest import write_spec_folder

pytestmark = pytest.mark.usefixtures("loads_once")

INSTRUCTIONS = {
    "getCurrentWeather": ["How warm is it in Lisbon right now?", "Current conditions in Oslo please",
                          "Is it raining in Paris at the moment?", "What's the temperature in Rome now?"],
    "getForecast": ["Give me the forecast for Berlin this week", "Will it be sunny in Madrid in three days?",
                    "Five-day outlook for Vienna", "Weather forecast for Prague for the coming days"],
    "searchHotels": ["Find me a hotel in Rome", "Hotels in Paris under 100 euros",
                     "Where can I stay in Lisbon?", "List hotels in Tokyo with four stars"],
}


def settings_for(run_dir: Path, **overrides: object) -> Settings:
    return load_settings(run_dir=run_dir, collect={"workers": 0, "sources": [str(run_dir.parent / "specs")]},
                         export={"eval_fraction": 0.5}, **overrides)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A catalog from the shared spec folder and a dozen labelled queries (half held out)."""
    root = tmp_path_factory.mktemp("retriever")
    write_spec_folder(root / "specs")
    run_dir = root / "run"
    asyncio.run(collect_catalog(None, settings_for(run_dir)))
    documents = {d.api_name: d for d in catalog_documents(run_dir)}
    records, number = [], 0
    for api_name, texts in INSTRUCTIONS.items():
        document = documents[api_name]
        for text in texts:
            number += 1
            records.append({"query": text, "query_id": number, "group": "G1" if number % 2 else "G2",
                            "api_list": [], "relevant APIs": [[document.tool_name, document.api_name]],
                            "relevant_api_ids": [[document.tool_id, document.api_id]]})
    write_jsonl(run_dir / "queries" / "G1.jsonl", records)
    return run_dir


@pytest.fixture
def run_copy(tiny_run: Path, tmp_path: Path) -> Path:
    target = tmp_path / "run"
    shutil.copytree(tiny_run, target)
    return target


def run(run_dir: Path, options: dict[str, object] | None = None, **overrides: object) -> RetrieverReport:
    report: RetrieverReport = asyncio.run(run_stage(RetrieverStage(), StageContext.of(settings_for(run_dir, **overrides)),
                                                    options))
    return report


def test_the_stage_sits_between_export_and_report_and_has_a_flow() -> None:
    from flows.stage_flows import flow_for

    names = [stage.name for stage in registry()]
    assert names.index("export") + 1 == names.index("retriever") == names.index("report") - 1
    assert flow_for("retriever") is not None


def test_the_stage_builds_evaluates_and_records(run_copy: Path) -> None:
    report = run(run_copy)
    assert report.build is not None and report.build.documents == len(catalog_documents(run_copy))
    assert report.build.encoded == report.build.documents and report.build.kind == "flat"
    result = RetrieverEval.model_validate(read_json(retriever_dir(run_copy) / EVAL_FILE))
    held_out = result.sets[0]
    assert held_out.name == "held-out" and 0 < held_out.queries < 12
    assert {row.ranking for row in held_out.rows} == {"dense-untrained", "bm25", "hybrid"}
    assert {row.group for row in held_out.rows} <= {"G1", "G2", "all"}
    assert result.default_ranking in ("dense", "hybrid")
    assert VectorIndex.load(index_dir(run_copy)).meta.default_ranking == result.default_ranking
    section = read_manifest(run_copy)["stages"]["retriever"]
    assert section["build"]["documents"] == report.build.documents
    assert section["metrics"] and section["default_ranking"] == result.default_ranking
    again = run(run_copy)
    assert again.build is not None and again.build.encoded == 0
    # the report shows it
    built = build_report(run_copy)
    assert built.table("retriever_metrics") is not None
    assert any(path.name.startswith("retriever_ndcg5") for path in built.figures)


def test_disabled_the_stage_skips_with_a_note(run_copy: Path) -> None:
    report = run(run_copy, retriever={"enabled": False})
    assert report.skipped == "retriever.enabled is false"
    assert not index_dir(run_copy).exists()
    assert "retriever.enabled is false" in RetrieverStage().summary(report)["skipped"]


def test_expansion_appends_train_instructions_only(run_copy: Path) -> None:
    from pipeline.export.common import EVAL, split_of

    run(run_copy, {"evaluate": False}, retriever={"expand_documents": True})
    documents = VectorIndex.load(index_dir(run_copy)).documents
    expanded = [d for d in documents if EXPANSION_MARK in d.text]
    assert expanded
    appended = " ".join(d.text.split(EXPANSION_MARK, 1)[1] for d in expanded)
    for texts in INSTRUCTIONS.values():
        for text in texts:
            held_out = split_of(text, eval_fraction=0.5, seed=0) == EVAL
            assert (text in appended) != held_out


def test_cli_build_eval_and_query_json(run_copy: Path) -> None:
    runner = CliRunner()
    out = ["--out", str(run_copy)]
    built = runner.invoke(app, ["retriever", "build", "--engine", "local", *out])
    assert built.exit_code == 0, built.output
    assert not (retriever_dir(run_copy) / EVAL_FILE).exists()
    queries = run_copy.parent / "G3_query.json"
    queries.write_bytes(orjson.dumps([{
        "query": "find a hotel in Rome and the weather there", "query_id": 7,
        "api_list": [{"category_name": "Travel", "tool_name": "Hotel Finder", "api_name": "searchHotels"},
                     {"category_name": "Sports", "tool_name": "Ball", "api_name": "scores",
                      "api_description": "football scores"}],
        "relevant APIs": [["Hotel Finder", "searchHotels"], ["Ball", "scores"]]}]))
    evaluated = runner.invoke(app, ["retriever", "eval", "--engine", "local", "--queries", str(queries), *out])
    assert evaluated.exit_code == 0, evaluated.output
    result = RetrieverEval.model_validate(read_json(retriever_dir(run_copy) / EVAL_FILE))
    foreign = result.sets[1]
    assert foreign.name == "G3_query.json" and foreign.queries == 1
    assert foreign.corpus == len(catalog_documents(run_copy)) + 1  # the file's unknown API joins the corpus
    assert {row.group for row in foreign.rows} == {"G3", "all"}
    answer = runner.invoke(app, ["retriever", "query", "hotels in Rome", "-k", "2", "--json", *out])
    assert answer.exit_code == 0, answer.output
    body = orjson.loads(answer.stdout)
    assert list(body) == ["results"] and len(body["results"]) == 2
    assert list(body["results"][0]) == ["tool_name", "api_name", "category", "score", "tool_id", "api_id"]
    assert body["results"][0]["api_name"] == "searchHotels"
    assert body["results"][0]["score"] >= body["results"][1]["score"]
    table = runner.invoke(app, ["retriever", "query", "hotels in Rome", "--ranking", "bm25", *out])
    assert table.exit_code == 0 and "searchHotels" in table.stdout
    bad = runner.invoke(app, ["retriever", "query", "x", "--ranking", "nope", *out])
    assert bad.exit_code == 2 and "ranking 'nope'" in bad.output


def test_a_missing_queries_file_is_a_usage_error(run_copy: Path) -> None:
    result = CliRunner().invoke(app, ["retriever", "eval", "--engine", "local", "--queries",
                                      str(run_copy / "nope.json"), "--out", str(run_copy)])
    assert result.exit_code == 2 and "nope.json" in result.output
    assert not index_dir(run_copy).exists()


def test_with_a_trained_model_eval_compares_it_with_the_base_model(run_copy: Path, minilm: object) -> None:
    from pipeline.retriever.index import trained_model_dir

    minilm.save(str(trained_model_dir(run_copy)))  # type: ignore[attr-defined]  # stands in for train
    report = run(run_copy)
    assert report.build is not None and report.build.model == str(trained_model_dir(run_copy))
    result = RetrieverEval.model_validate(read_json(retriever_dir(run_copy) / EVAL_FILE))
    assert result.trained_model == str(trained_model_dir(run_copy))
    rankings = {row.ranking for row in result.sets[0].rows}
    assert rankings == {"dense-untrained", "dense-trained", "bm25", "hybrid"}
    # the same weights: the trained and untrained rows agree, which shows both were evaluated alike
    held_out = result.sets[0]
    assert held_out.row("dense-trained") == held_out.row("dense-untrained").model_copy(  # type: ignore[union-attr]
        update={"ranking": "dense-trained"})
