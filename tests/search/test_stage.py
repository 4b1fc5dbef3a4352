"""The annotate stage end to end, offline on the sandbox: collect → generate → annotate."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.io import read_jsonl
from pipeline.manifest import read_manifest
from pipeline.records import TrajectoryRecord, iter_trajectories
from pipeline.search.stage import NothingAnnotated, annotate_queries
from pipeline.settings import Settings, load_settings
from pipeline.specs.catalog import iter_tools
from pipeline.toolbench.answers import answer_document, export_toolbench_answers
from tests.conftest import sandbox_queries_run

REPO = Path(__file__).resolve().parents[2]
ANSWER_KEYS = {"valid_data", "query_count", "total_tokens", "final_answer", "finish_type", "function",
               "train_messages", "query"}


def settings_for(run_dir: Path, **overrides: Any) -> Settings:
    return load_settings(run_dir=run_dir, collect={"workers": 0}, **overrides)


@pytest.fixture(scope="module")
def sandbox_queries(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run folder with the sandbox catalog and a few queries per group."""
    return sandbox_queries_run(tmp_path_factory.mktemp("annotate") / "run", {"G1": 2, "G2": 2, "G3": 2}, 3)


@pytest.fixture
def run_dir(sandbox_queries: Path, tmp_path: Path) -> Path:
    target = tmp_path / "run"
    for folder in ("catalog", "queries"):
        shutil.copytree(sandbox_queries / folder, target / folder)
    return target


def trajectory_lines(run_dir: Path) -> list[dict[str, Any]]:
    return [r for path in sorted((run_dir / "trajectories").glob("*.jsonl")) for r in read_jsonl(path)]


def query_count(run_dir: Path) -> int:
    return sum(len(list(read_jsonl(p))) for p in (run_dir / "queries").glob("G*.jsonl"))


async def test_offline_annotation_answers_most_queries_with_clean_paths(run_dir: Path) -> None:
    report = await annotate_queries(settings_for(run_dir))
    records = trajectory_lines(run_dir)
    total = query_count(run_dir)
    assert len(records) == total == report.queries > 0
    assert {r["group"] for r in records} == {"G1", "G2", "G3"}
    answered = [r for r in records if r["finish_type"] == "give_answer"]
    clean = [r for r in answered if TrajectoryRecord.of(r).path_calls_ok()]
    print(f"answered {len(answered)}/{total}, clean {len(clean)}, backtracking {report.backtracking_trees}")
    assert len(clean) >= 0.5 * total
    assert report.answered == len(answered) and report.failed == total - len(answered)
    for record in records:
        assert record["algorithm"] == "dfsdt" and record["model"] == "offline-rule-policy"
        assert record["training"] is (record["finish_type"] == "give_answer")
        assert record["messages"][0]["role"] == "system" and record["tools"][-1]["function"]["name"] == "Finish"
    section = read_manifest(run_dir)["stages"]["annotate"]
    assert section["answered"] == report.answered and section["queries"] == total
    assert set(section["per_group"]) == {"G1", "G2", "G3"}
    for key in ("mean_model_calls", "mean_api_calls", "mean_nodes", "mean_backtracks", "backtracking_trees",
                "cache_hits", "prompt_tokens", "seconds", "skipped", "skipped_reasons"):
        assert key in section
    assert section["mean_model_calls"] >= 2


async def test_a_killed_run_resumes_without_repeats(run_dir: Path) -> None:
    settings = settings_for(run_dir)
    first = await annotate_queries(settings)
    path = run_dir / "trajectories" / "G2.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    kept = b"".join(lines[:-2]) + lines[-2][: len(lines[-2]) // 2]  # the last line lost, one torn
    path.write_bytes(kept)
    second = await annotate_queries(settings)
    assert second.resumed == first.queries - 2 and second.searched == 2
    ids = [(r["group"], r["query_id"]) for r in trajectory_lines(run_dir)]
    assert len(ids) == len(set(ids)) == first.queries
    third = await annotate_queries(settings)
    assert third.searched == 0 and third.answered == second.answered


async def test_toolbench_query_file_resolves_apis_by_name(run_dir: Path, tmp_path: Path) -> None:
    tools = {t.id: t for t in iter_tools(run_dir)}
    geo = next(t for t in tools.values() if t.id.endswith("_geo"))
    weather = next(t for t in tools.values() if t.id.endswith("_weather"))

    def record(tool: Any, api: Any) -> dict[str, Any]:  # ToolBench's fields only, names re-cased
        return {"category_name": tool.category, "tool_name": tool.tool_name.upper(),
                "api_name": f" {api.name} ", "api_description": api.description, "method": api.method,
                "required_parameters": [], "optional_parameters": []}

    api_list = [record(geo, a) for a in geo.api_list] + [record(weather, a) for a in weather.api_list]
    queries = [
        {"query": "Search for the city Lisbon, then get the current weather there.", "query_id": 7,
         "api_list": api_list, "relevant APIs": [[geo.tool_name, geo.api_list[0].name]]},
        {"query": "Book a flight to Mars.", "query_id": 8,
         "api_list": [{"tool_name": "Space Travel", "api_name": "book"}], "relevant APIs": []},
    ]
    file = tmp_path / "G1_query.json"
    file.write_text(json.dumps(queries))
    report = await annotate_queries(settings_for(run_dir), query_files=[file], algorithm="react")
    assert report.queries == 2 and report.skipped == 1
    assert report.skipped_reasons == {"no API of its api_list is in the catalog": 1}
    records = list(read_jsonl(run_dir / "trajectories" / "G1_query.jsonl"))
    assert [r["query_id"] for r in records] == [7] and records[0]["algorithm"] == "react"
    assert records[0]["unresolved_apis"] == []
    assert len(records[0]["tools"]) == len(api_list) + 1  # every API of the api_list, plus Finish
    assert records[0]["finish_type"] == "give_answer"


async def test_a_query_that_is_not_a_valid_record_is_skipped_with_its_reason(run_dir: Path, tmp_path: Path) -> None:
    geo = next(t for t in iter_tools(run_dir) if t.id.endswith("_geo"))
    good_api = {"tool_name": geo.tool_name, "api_name": geo.api_list[0].name}
    queries = [
        {"query": "Find the city of Porto.", "query_id": 1, "api_list": [good_api]},
        {"query": "A query whose api_list is not a list.", "query_id": 2, "api_list": "everything"},
        {"query": "A query whose id is an object.", "query_id": {"id": 3}, "api_list": [good_api]},
        ["not", "a", "query", "object"],
        {"query": "Find the city of Braga.", "query_id": 5, "api_list": [good_api]},
    ]
    file = tmp_path / "G1_query.json"
    file.write_text(json.dumps(queries))

    report = await annotate_queries(settings_for(run_dir), query_files=[file])

    assert report.queries == 5 and report.skipped_reasons == {"unreadable query": 3}
    assert [r["query_id"] for r in read_jsonl(run_dir / "trajectories" / "G1_query.jsonl")] == [1, 5]
    assert [reason.split(":")[1].strip() for reason in report.unreadable_queries] == ["item 2", "item 3", "item 4"]
    assert "api_list" in report.unreadable_queries[0] and "query_id" in report.unreadable_queries[1]


async def test_toolbench_export_layout(run_dir: Path, tmp_path: Path) -> None:
    await annotate_queries(settings_for(run_dir, annotate={"max_model_calls": 3}))
    records = list(iter_trajectories(run_dir))
    streamed = iter_trajectories(run_dir)
    assert not isinstance(streamed, list)  # a generator: exports never hold the whole run
    assert [r.key for r in streamed] == [r.key for r in records] and len({r.key for r in records}) == len(records)
    out = tmp_path / "answers"
    assert export_toolbench_answers(iter_trajectories(run_dir), out) == len(records)
    files = sorted(out.glob("G*_answer/*_DFS_woFilter_w2.json"))
    assert len(files) == len(records)
    documents = [json.loads(f.read_text()) for f in files]
    assert any(not d["answer_generation"]["valid_data"] for d in documents)  # 3 calls are too few for some
    for document in documents:
        generation = document["answer_generation"]
        assert ANSWER_KEYS <= set(generation) and "tree" in document
        assert generation["valid_data"] is (generation["finish_type"] == "give_answer")
        assert all("type" not in f and "name" in f for f in generation["function"])
        assert generation["function"][-1]["name"] == "Finish"
        for prefix in generation["train_messages"]:
            assert [m["role"] for m in prefix[:2]] == ["system", "user"]
            assert prefix[-1]["role"] == "assistant" and set(prefix[-1]) == {"role", "content", "function_call"}
            assert all(set(m) == {"role", "name", "content"} for m in prefix if m["role"] == "function")
        if generation["valid_data"]:
            last = generation["train_messages"][-1][-1]["function_call"]
            assert last["name"] == "Finish" and generation["final_answer"] == last["arguments"]
        else:
            assert generation["final_answer"] == ""
    react = answer_document(records[0].model_copy(update={"algorithm": "react"}))
    assert react["answer_generation"]["query"] == records[0].query


async def test_no_queries_at_all_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(NothingAnnotated):
        await annotate_queries(settings_for(tmp_path / "empty"))


def test_cli_annotate_local_and_toolbench_export(run_dir: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "answers"
    result = runner.invoke(app, ["annotate", "--out", str(run_dir), "--engine", "local", "--algorithm", "react",
                                 "--export-toolbench", str(out)])
    assert result.exit_code == 0, result.output
    assert len(trajectory_lines(run_dir)) == query_count(run_dir)
    assert len(list(out.glob("G*_answer/*_CoT.json"))) == query_count(run_dir)
    assert read_manifest(run_dir)["stages"]["annotate"]["algorithm"] == "react"
    missing = runner.invoke(app, ["annotate", "--out", str(tmp_path / "none"), "--engine", "local"])
    assert missing.exit_code == 1
    bad = runner.invoke(app, ["annotate", "--out", str(run_dir), "--engine", "local", "--algorithm", "bfs"])
    assert bad.exit_code == 2


async def test_a_refused_key_stops_annotate_before_any_search(run_dir: Path) -> None:
    from pipeline.llm.fake_server import FakeOpenAIServer
    from pipeline.llm.types import EndpointUnusable

    async with FakeOpenAIServer(api_key="sk-right") as server:
        llm = {"backend": "openai", "base_url": server.base_url, "api_key": "sk-wrong", "backoff_base_s": 0.0}
        with pytest.raises(EndpointUnusable, match="HTTP 401"):
            await annotate_queries(settings_for(run_dir, llm=llm))
        assert server.chat_requests == []
    assert not (run_dir / "trajectories").exists()


async def test_a_query_lost_to_the_model_is_recorded_with_role_status_and_the_servers_reply(run_dir: Path) -> None:
    from pipeline.failures import failures_path
    from pipeline.llm.fake_server import FakeOpenAIServer, Raw, http_error

    total = query_count(run_dir)
    # every request: a 400 the model will give again for this prompt, except one non-JSON 502 page
    async with FakeOpenAIServer(default=http_error(400, "tool schema rejected: 'optional' is not allowed")) as server:
        server.set_script([Raw("<html>502 Bad Gateway</html>", status=502, content_type="text/html")] * 5)
        llm = {"backend": "openai", "base_url": server.base_url, "api_key": "sk-x", "retries": 0,
               "backoff_base_s": 0.0}
        await annotate_queries(settings_for(run_dir, llm=llm))
    failures = list(read_jsonl(failures_path(run_dir, "annotate")))
    assert len(failures) == total  # every query lost is accounted for, by id
    assert {f["item_id"] for f in failures} == {
        str(q["query_id"]) for p in (run_dir / "queries").glob("G*.jsonl") for q in read_jsonl(p)}
    assert all(f["role"] == "policy" for f in failures)
    bodies = [f["response_body"] for f in failures]
    assert any("502 Bad Gateway" in body for body in bodies)
    assert any("'optional' is not allowed" in body for body in bodies)
    assert {f["status"] for f in failures} == {400, 502}


async def test_identical_runs_send_byte_identical_requests(run_dir: Path, tmp_path: Path) -> None:
    """Policy and judge prompts depend only on the data: two runs over the same queries, with no
    reply cache, send the same request bodies byte for byte (run details such as timings or
    cache flags in a prompt would make replays miss the cache and re-ask the model)."""
    import orjson

    from pipeline.llm.fake_server import FakeOpenAIServer, text, tool_calls
    from pipeline.verify.stage import verify_trajectories

    def reply(body: dict[str, Any]) -> Any:
        if body.get("tools"):
            calls = sum(1 for m in body["messages"] if m["role"] == "tool")
            if calls == 0:
                first = body["tools"][0]["function"]
                arguments = {name: (schema.get("examples") or ["x"])[0]
                             for name, schema in first["parameters"].get("properties", {}).items()
                             if name in first["parameters"].get("required", [])}
                return tool_calls((first["name"], arguments), content="Let me look it up.")
            return tool_calls(("Finish", {"return_type": "give_answer", "final_answer": "Here it is."}))
        return text('{"answer_status": "Solved", "reason": "answered"}')

    sent: list[list[bytes]] = []
    for copy in ("first", "second"):
        folder = tmp_path / copy
        shutil.copytree(run_dir, folder)
        async with FakeOpenAIServer(reply) as server:
            llm = {"backend": "openai", "base_url": server.base_url, "api_key": "sk-x", "cache": False}
            settings = settings_for(folder, llm=llm, verify={"votes": 1, "judge": "llm"})
            await annotate_queries(settings)
            await verify_trajectories(settings)
            sent.append(sorted(orjson.dumps(r.json, option=orjson.OPT_SORT_KEYS) for r in server.chat_requests))
    judged = [body for body in sent[0] if b'"tools"' not in body]
    assert len(sent[0]) > 10 and judged, "both the policy and the judge were asked"
    assert sent[0] == sent[1]
