"""The generate stage end to end: offline on the sandbox catalog, and against a fake LLM server."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.generate.prompt import read_documentation
from pipeline.generate.stage import NothingGenerated, generate_queries
from pipeline.io import read_jsonl
from pipeline.llm.fake_server import FakeOpenAIServer, http_error, rate_limited, text
from pipeline.llm.types import server_seed
from pipeline.manifest import read_manifest
from pipeline.settings import Settings, load_settings
from pipeline.specs.collect import collect_catalog
from tests.conftest import WEATHER_OPENAPI

REPO = Path(__file__).resolve().parents[2]
TOOLBENCH_KEYS = {"query", "query_id", "api_list", "relevant APIs"}
API_RECORD_KEYS = {"category_name", "tool_name", "api_name", "api_description", "required_parameters",
                   "optional_parameters", "method", "template_response"}


@pytest.fixture(scope="module")
def sandbox_catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = tmp_path_factory.mktemp("sandbox") / "run"
    settings = load_settings(run_dir=run_dir, collect={"workers": 0, "sources": [str(REPO / "api_specs" / "sandbox")]})
    asyncio.run(collect_catalog(None, settings))
    return run_dir


@pytest.fixture
def run_dir(sandbox_catalog: Path, tmp_path: Path) -> Path:
    target = tmp_path / "run"
    shutil.copytree(sandbox_catalog / "catalog", target / "catalog")
    return target


def settings_for(run_dir: Path, **overrides: Any) -> Settings:
    return load_settings(run_dir=run_dir, collect={"workers": 0}, **overrides)


def fake_llm(server: FakeOpenAIServer) -> dict[str, Any]:
    return {"backend": "openai", "base_url": server.base_url, "api_key": "sk-test", "backoff_base_s": 0.0}


def queries(run_dir: Path, group: str) -> list[dict[str, Any]]:
    path = run_dir / "queries" / f"{group}.jsonl"
    return list(read_jsonl(path)) if path.is_file() else []


# --- offline ---------------------------------------------------------------------------------


async def test_offline_run_writes_toolbench_queries_for_every_group(run_dir: Path) -> None:
    settings = settings_for(run_dir, generate={"per_group": {"G1": 3, "G2": 3, "G3": 3}, "instructions_per_set": 4})
    report = await generate_queries(settings)

    ids = []
    for group in ("G1", "G2", "G3"):
        records = queries(run_dir, group)
        assert records, group
        for record in records:
            assert TOOLBENCH_KEYS <= set(record) and record["group"] == group
            assert {"api_set_id", "model", "seed"} <= set(record)
            assert all(API_RECORD_KEYS <= set(api) for api in record["api_list"])
            listed = {(api["tool_name"], api["api_name"]) for api in record["api_list"]}
            assert record["relevant APIs"] and {tuple(p) for p in record["relevant APIs"]} <= listed
            if group != "G1":
                assert len({api["tool_name"] for api in record["api_list"]}) >= 2
            ids.append(record["query_id"])
        assert report.per_group[group].kept == len(records)
    assert sorted(ids) == list(range(1, len(ids) + 1))

    section = read_manifest(run_dir)["stages"]["generate"]
    assert section["kept"] == len(ids) == report.kept
    assert section["made"] == 36 and section["made"] == section["kept"] + sum(section["dropped"].values())
    assert section["model"] == "offline-rule-writer" and section["model_calls"] == 9
    dropped = list(read_jsonl(run_dir / "queries" / "dropped.jsonl"))
    assert len(dropped) == sum(section["dropped"].values())


async def test_offline_rerun_resumes_and_writes_the_same_files(run_dir: Path) -> None:
    settings = settings_for(run_dir, generate={"per_group": {"G1": 2, "G2": 2, "G3": 0}, "instructions_per_set": 3})
    first = await generate_queries(settings)
    before = (run_dir / "queries" / "G1.jsonl").read_bytes()
    second = await generate_queries(settings)
    assert second.sets_skipped == second.sets_sampled == first.sets_sampled
    assert second.model_calls == 0 and second.kept == first.kept
    assert (run_dir / "queries" / "G1.jsonl").read_bytes() == before


async def test_single_tool_catalog_gives_only_g1_with_reasons(tmp_path: Path) -> None:
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "weather.yaml").write_text(WEATHER_OPENAPI)
    settings = load_settings(run_dir=tmp_path / "run", collect={"workers": 0, "sources": [str(tmp_path / "specs")]})
    await collect_catalog(None, settings)
    report = await generate_queries(settings)
    assert report.kept > 0 and set(report.per_group) == {"G1"}
    assert set(report.sampler_reasons) == {"G2", "G3"}
    section = read_manifest(settings.run_dir)["stages"]["generate"]
    assert "category" in section["sampler_reasons"]["G2"] and "collection" in section["sampler_reasons"]["G3"]
    assert not queries(settings.run_dir, "G2") and not queries(settings.run_dir, "G3")


async def test_nothing_sampled_fails_with_the_sampler_reasons(tmp_path: Path) -> None:
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "weather.yaml").write_text(WEATHER_OPENAPI)
    settings = load_settings(run_dir=tmp_path / "run", collect={"workers": 0, "sources": [str(tmp_path / "specs")]})
    await collect_catalog(None, settings)
    with pytest.raises(NothingGenerated, match="no category"):
        await generate_queries(settings, groups=["G2"])


def test_cli_generate_local_prints_a_summary_and_fails_with_1_when_nothing_is_made(
    sandbox_catalog: Path, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    shutil.copytree(sandbox_catalog / "catalog", run_dir / "catalog")
    runner = CliRunner()
    result = runner.invoke(app, ["generate", "--out", str(run_dir), "--groups", "G1,G2",
                                 "--per-group", "1", "--engine", "local"])
    assert result.exit_code == 0, result.output
    assert queries(run_dir, "G1") and queries(run_dir, "G2") and not queries(run_dir, "G3")
    bad = runner.invoke(app, ["generate", "--out", str(run_dir), "--groups", "G7", "--engine", "local"])
    assert bad.exit_code == 2
    empty = tmp_path / "empty"
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "weather.yaml").write_text(WEATHER_OPENAPI)
    assert runner.invoke(app, ["collect", str(tmp_path / "specs"), "--out", str(empty), "--workers", "0",
                               "--engine", "local"]).exit_code == 0
    failed = runner.invoke(app, ["generate", "--out", str(empty), "--groups", "G3", "--engine", "local"])
    assert failed.exit_code == 1


# --- against an OpenAI-compatible server ------------------------------------------------------


def scripted_reply(body: dict[str, Any]) -> list[dict[str, Any]]:
    """One good instruction, one naming an API outside the set, one duplicate of the first."""
    docs = read_documentation(body["messages"])
    assert docs is not None
    first, second = docs.apis[0], docs.apis[-1]
    good = {"query": f"Show me the five wettest days in Oslo next week, in metric units please ({first['api_name']}).",
            "relevant APIs": [[first["tool_name"], first["api_name"]], [second["tool_name"], second["api_name"]]]}
    invented = {"query": "Book me a helicopter tour over Oslo for Saturday at 10:00.",
                "relevant APIs": [[first["tool_name"], "bookHelicopter"]]}
    return [good, invented, dict(good)]


async def test_llm_reply_is_filtered_for_hallucinations_and_duplicates(run_dir: Path) -> None:
    async with FakeOpenAIServer(lambda body: text(json.dumps(scripted_reply(body)))) as server:
        settings = settings_for(run_dir, llm=fake_llm(server))
        report = await generate_queries(settings, groups=["G1"], per_group=1)
        assert len(server.chat_requests) == 1
        body = server.chat_requests[0].json
    assert report.made == 3 and report.kept == 1
    assert report.dropped == {"hallucinated API": 1, "exact duplicate": 1}
    [kept] = queries(run_dir, "G1")
    assert kept["query"].startswith("Show me the five wettest days") and kept["model"] == "gpt-4o-mini"
    reasons = [r["reason"] for r in read_jsonl(run_dir / "queries" / "dropped.jsonl")]
    assert any("bookHelicopter" in r for r in reasons) and any("exact duplicate" in r for r in reasons)
    assert body["temperature"] == pytest.approx(0.7)
    section = read_manifest(run_dir)["stages"]["generate"]
    assert section["model_calls"] == 1 and section["prompt_tokens"] > 0
    writer = section["llm_usage"]["writer"]  # per-role accounting from the model layer
    assert writer["requests"] == 1 and writer["prompt_tokens"] > 0 and writer["cost_usd"] > 0
    assert writer["cache_misses"] == 1


async def test_unreadable_reply_is_asked_again_then_recorded_as_failed(run_dir: Path) -> None:
    script = [text("Sure! Here are some ideas: ask about weather."), text("I cannot produce JSON today.")]
    async with FakeOpenAIServer(script) as server:
        settings = settings_for(run_dir, llm=fake_llm(server))
        with pytest.raises(NothingGenerated):
            await generate_queries(settings, groups=["G1"], per_group=1)
        assert len(server.chat_requests) == 2
        # the retry is a new sample
        assert [r.json.get("seed") for r in server.chat_requests] == [server_seed(0, 0), server_seed(0, 1)]
    [failed] = list(read_jsonl(run_dir / "queries" / "failed.jsonl"))
    assert failed["raw"] == ["Sure! Here are some ideas: ask about weather.", "I cannot produce JSON today."]
    assert read_manifest(run_dir)["stages"]["generate"]["failed_sets"] == 1


async def test_unreadable_reply_then_good_one_is_kept(run_dir: Path) -> None:
    replies = iter(["not json at all", None])

    def script(body: dict[str, Any]) -> Any:
        first = next(replies)
        return text(first if first is not None else json.dumps(scripted_reply(body)[:1]))

    async with FakeOpenAIServer(script) as server:
        report = await generate_queries(settings_for(run_dir, llm=fake_llm(server)), groups=["G1"], per_group=1)
        assert len(server.chat_requests) == 2
    assert report.kept == 1 and report.failed_sets == 0


async def test_rate_limit_is_retried_and_a_second_run_makes_no_requests(run_dir: Path) -> None:
    calls = {"n": 0}

    def script(body: dict[str, Any]) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            return rate_limited(retry_after=0)
        return text(json.dumps(scripted_reply(body)[:1]))

    async with FakeOpenAIServer(script) as server:
        settings = settings_for(run_dir, llm=fake_llm(server))
        first = await generate_queries(settings, groups=["G1", "G2"], per_group=1)
        assert first.kept == 2 and len(server.chat_requests) == 3  # 429 + one per set
        (run_dir / "queries" / "sets.jsonl").unlink()  # forget the resume log: only the reply cache helps
        for group in ("G1", "G2"):
            (run_dir / "queries" / f"{group}.jsonl").unlink()
        requests_before = len(server.chat_requests)
        second = await generate_queries(settings, groups=["G1", "G2"], per_group=1)
        assert len(server.chat_requests) == requests_before  # zero new requests
        third = await generate_queries(settings, groups=["G1", "G2"], per_group=1)
        assert len(server.chat_requests) == requests_before
    assert second.kept == first.kept and second.model_calls == 0
    assert third.sets_skipped == 2


async def test_records_of_an_unfinished_set_are_removed_on_resume(run_dir: Path) -> None:
    settings = settings_for(run_dir, generate={"per_group": {"G1": 1, "G2": 0, "G3": 0}, "instructions_per_set": 2})
    first = await generate_queries(settings)
    stray = {**queries(run_dir, "G1")[0], "api_set_id": "G1-crashed", "query_id": 99}
    with (run_dir / "queries" / "G1.jsonl").open("a") as handle:
        handle.write(json.dumps(stray) + "\n")
    second = await generate_queries(settings)
    assert [r["api_set_id"] for r in queries(run_dir, "G1")].count("G1-crashed") == 0
    assert second.kept == first.kept and second.model_calls == 0


async def test_a_set_whose_writer_call_failed_is_asked_again_on_the_next_run(run_dir: Path) -> None:
    async with FakeOpenAIServer(lambda body: http_error(503, "upstream down")) as down:
        with pytest.raises(NothingGenerated):
            await generate_queries(settings_for(run_dir, llm={**fake_llm(down), "retries": 1}),
                                   groups=["G1", "G2"], per_group=1)
    assert read_manifest(run_dir)["stages"]["generate"]["writer_errors"] == 2
    assert not list(read_jsonl(run_dir / "queries" / "sets.jsonl"))  # nothing marked finished
    failures = list(read_jsonl(run_dir / "queries" / "failed.jsonl"))
    assert len(failures) == 2 and all(f["retried_next_run"] and "503" in f["error"] for f in failures)

    async with FakeOpenAIServer(lambda body: text(json.dumps(scripted_reply(body)[:1]))) as up:
        second = await generate_queries(settings_for(run_dir, llm=fake_llm(up)), groups=["G1", "G2"], per_group=1)
        assert len(up.chat_requests) == 2
    assert second.writer_errors == 0 and second.kept == 2 and second.sets_skipped == 0
    assert not list(read_jsonl(run_dir / "queries" / "failed.jsonl"))  # the outage's lines are gone with it


async def test_the_writer_asks_for_structured_output_and_reads_the_object_it_gets(run_dir: Path) -> None:
    from pipeline.generate.parse import WRITER_OUTPUT_SCHEMA

    def reply(body: dict[str, Any]) -> Any:
        if (body.get("response_format") or {}).get("type") == "json_schema":
            return http_error(400, "Unknown response_format type json_schema")  # e.g. an older server
        # what json_object mode makes a model write: an object, the list under a key
        return text(json.dumps({"queries": scripted_reply(body)[:1]}))

    async with FakeOpenAIServer(reply) as server:
        # one request at a time: requests in flight together may all be refused before the step down
        settings = settings_for(run_dir, llm=fake_llm(server), generate={"concurrency": 1})
        report = await generate_queries(settings, groups=["G1"], per_group=2)
        sent = [r.json.get("response_format") for r in server.chat_requests]
    assert sent[0] == {"type": "json_schema", "json_schema": {"name": "instructions", "schema": WRITER_OUTPUT_SCHEMA,
                                                               "strict": False}}
    # refused once, then json_object for every later request of the run
    assert [s["type"] for s in sent[1:]] == ["json_object"] * (len(sent) - 1)
    assert report.kept >= 1


async def test_generate_with_the_batch_api_writes_its_queries_without_direct_requests(run_dir: Path) -> None:
    async with FakeOpenAIServer(lambda body: text(json.dumps({"queries": scripted_reply(body)[:1]}))) as server:
        llm = {**fake_llm(server), "batch": True, "batch_flush_s": 0.05, "batch_poll_s": 0.02}
        report = await generate_queries(settings_for(run_dir, llm=llm), groups=["G1"], per_group=3)
        direct = [r for r in server.requests if r.path == "/v1/chat/completions"]
        assert server.batches and not direct
    assert report.kept >= 1
    section = read_manifest(run_dir)["stages"]["generate"]
    assert section["llm_usage"]["writer"]["batches"] >= 1
