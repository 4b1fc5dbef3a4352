"""Open-domain annotation: the retriever gives each query its APIs, recorded with their recall."""

from __future__ import annotations

import importlib.util
import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.io import read_jsonl
from pipeline.manifest import read_manifest
from pipeline.models import Api, Tool
from pipeline.records import iter_queries
from pipeline.retriever.hits import Hit
from pipeline.retriever.open_domain import retrieval_recall, retrieve_apis
from pipeline.search.stage import NO_API_RETRIEVED, annotate_queries
from pipeline.settings import Settings, load_settings
from pipeline.specs.catalog import iter_tools
from tests.conftest import sandbox_queries_run
from tests.retriever.fakes import RecordingBackend

REPO = Path(__file__).resolve().parents[2]
OPEN_DOMAIN_DEMO = Path("/work/shared/examples/toolbench/instruction/inference_query_demo_open_domain.json")


def _catalog(count: int) -> dict[tuple[str, str], tuple[Tool, Api]]:
    source = {"kind": "file", "location": "x.json", "format": "toolbench"}
    tool = Tool.model_validate({"id": "t", "tool_name": "T", "source": source, "api_list": [
        {"id": f"a{n}", "name": f"api_{n}", "method": "GET", "url": f"http://x/{n}"} for n in range(count)]})
    return {(tool.id, api.id): (tool, api) for api in tool.api_list}


def test_retrieval_keeps_catalog_apis_up_to_k_and_batches_the_queries() -> None:
    catalog = _catalog(4)
    # "gone" is in the index but no longer in the catalog: skipped, the next hit takes its place
    backend = RecordingBackend([("t", "gone"), ("t", "a0"), ("t", "a1"), ("t", "a2"), ("t", "a3")])
    queries = [f"query {n} gone a{n % 4}" for n in range(5)]
    relevant: list[list[tuple[str, str]] | None] = [[("t", "a0"), ("t", "a3")], None, [], [("t", "a3")], None]
    found = retrieve_apis(backend, queries, catalog, k=2, relevant=relevant, batch_size=2)
    assert [len(batch) for batch in backend.batches] == [2, 2, 1]
    assert backend.ks == [4, 4, 4]  # asked for more than k: room for hits not in the catalog
    for retrieved in found:
        assert len(retrieved.pairs) == 2
        assert all(pair in catalog.values() for pair in retrieved.pairs)
        assert ("t", "gone") not in retrieved.ids
    assert found[0].ids[0] == ("t", "a0") and found[0].recall == 0.5
    assert found[1].recall is None and found[2].recall is None
    assert found[3].recall == (1.0 if ("t", "a3") in found[3].ids else 0.0)
    assert found[0].names[0] == ("T", "api_0")


class ScriptedBackend:
    """Answers each query with the hits it was given (ids only)."""

    def __init__(self, hits: list[list[tuple[str, str]]]) -> None:
        self.hits = hits

    def search(self, queries: Sequence[str], k: int) -> list[list[Hit]]:
        return [[Hit(tool_name=t, api_name=a, category="c", score=0.0, tool_id=t, api_id=a)
                 for t, a in self.hits[int(q)][:k]] for q in queries]


@hypothesis_settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(st.tuples(st.just("t"), st.sampled_from(["a0", "a1", "a2", "a3", "x", "y"])), max_size=10),
                min_size=1, max_size=6),
       st.integers(1, 4))
def test_retrieved_apis_are_catalog_apis_in_rank_order_without_repeats(hits: list[list[tuple[str, str]]],
                                                                      k: int) -> None:
    catalog = _catalog(4)
    found = retrieve_apis(ScriptedBackend(hits), [str(n) for n in range(len(hits))], catalog, k=k, batch_size=4)
    for given_hits, retrieved in zip(hits, found, strict=True):
        expected = list(dict.fromkeys(pair for pair in given_hits[:k * 2] if pair in catalog))[:k]
        assert retrieved.ids == expected


def test_recall_is_the_share_of_relevant_apis_retrieved() -> None:
    assert retrieval_recall([("t", "a")], [("t", "a"), ("t", "b")]) == 0.5
    assert retrieval_recall([], [("t", "a")]) == 0.0
    assert retrieval_recall([("t", "a")], None) is None
    assert retrieval_recall([("t", "a")], []) is None


# --- the annotate stage, offline on the sandbox --------------------------------------------------


class OracleBackend:
    """Ranks a query's relevant APIs first (when ``answers`` knows them), then the rest in catalog order."""

    def __init__(self, apis: Sequence[tuple[str, str]], answers: dict[str, list[tuple[str, str]]],
                 extra: Sequence[tuple[str, str]] = ()) -> None:
        self.apis, self.answers, self.extra = list(apis), answers, list(extra)
        self.calls = 0

    def search(self, queries: Sequence[str], k: int) -> list[list[Hit]]:
        self.calls += 1
        results = []
        for query in queries:
            first = self.answers.get(query, [])
            ranked = list(self.extra) + first + [pair for pair in self.apis if pair not in first]
            results.append([Hit(tool_name=t, api_name=a, category="c", score=1.0, tool_id=t, api_id=a)
                            for t, a in ranked[:k]])
        return results


@pytest.fixture(scope="module")
def sandbox_queries(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return sandbox_queries_run(tmp_path_factory.mktemp("open_domain") / "run", {"G1": 2, "G2": 1, "G3": 1}, 2)


@pytest.fixture
def run_dir(sandbox_queries: Path, tmp_path: Path) -> Path:
    target = tmp_path / "run"
    for folder in ("catalog", "queries"):
        shutil.copytree(sandbox_queries / folder, target / folder)
    return target


def _settings(run_dir: Path) -> Settings:
    return load_settings(run_dir=run_dir, collect={"workers": 0}, annotate={"algorithm": "react"})


def _apis(run_dir: Path) -> list[tuple[str, str]]:
    return [(tool.id, api.id) for tool in iter_tools(run_dir) for api in tool.api_list]


def _trajectories(run_dir: Path) -> list[dict[str, Any]]:
    return [r for path in sorted((run_dir / "trajectories").glob("*.jsonl")) for r in read_jsonl(path)]


async def test_open_domain_queries_get_the_retrieved_apis_and_their_recall(run_dir: Path) -> None:
    queries = list(iter_queries(run_dir))
    answers = {q.query: list(q.relevant_api_ids or []) for q in queries}
    backend = OracleBackend(_apis(run_dir), answers)
    report = await annotate_queries(_settings(run_dir), open_domain=True, retrieve_k=3, retriever=backend)
    records = _trajectories(run_dir)
    assert len(records) == len(queries) == report.searched
    assert backend.calls == 1  # every query retrieved in one batch
    for record in records:
        ids = [tuple(pair) for pair in record["retrieved_api_ids"]]
        assert len(ids) == len(record["retrieved_apis"]) == 3
        relevant = answers[record["query"]]
        assert ids[:len(relevant)] == [tuple(p) for p in relevant][:3]
        assert record["retrieval_recall"] == min(3, len(relevant)) / len(relevant)
        offered = [tool["function"]["name"] for tool in record["tools"] if tool["function"]["name"] != "Finish"]
        assert len(offered) == 3  # the retrieved APIs, not the query's api_list
    assert report.open_domain and report.retrieve_k == 3
    assert report.retrieval_recall_queries == len(queries)
    assert read_manifest(run_dir)["stages"]["annotate"]["retrieval_recall"] == report.retrieval_recall


async def test_toolbench_open_domain_files_without_api_list_are_annotated(run_dir: Path, tmp_path: Path) -> None:
    demo = json.loads(OPEN_DOMAIN_DEMO.read_text()) if OPEN_DOMAIN_DEMO.is_file() else [
        {"query": "Give me random love, success and motivation quotes.", "query_id": 82217}]
    demo.append({"query": "Nothing in this catalog can do it.", "query_id": 5})
    file = tmp_path / "open_domain.json"
    file.write_text(json.dumps(demo))
    assert all(set(query) == {"query", "query_id"} for query in demo)
    nowhere = [("gone", "gone")] * 4

    class Partial(OracleBackend):  # the last query's hits are all outside the catalog
        def search(self, queries: Sequence[str], k: int) -> list[list[Hit]]:
            results = super().search(queries, k)
            return [[Hit(tool_name="x", api_name="y", category="c", score=0.0, tool_id=t, api_id=a)
                     for t, a in nowhere] if q.startswith("Nothing") else hits for q, hits in zip(queries, results)]

    backend = Partial(_apis(run_dir), {})
    report = await annotate_queries(_settings(run_dir), query_files=[file], open_domain=True, retrieve_k=2,
                                    retriever=backend)
    records = _trajectories(run_dir)
    assert [record["query_id"] for record in records] == [query["query_id"] for query in demo[:-1]]
    assert all(len(record["retrieved_apis"]) == 2 and record["retrieval_recall"] is None for record in records)
    assert report.skipped_reasons == {NO_API_RETRIEVED: 1}
    assert report.retrieval_recall is None


async def test_closed_domain_trajectories_carry_no_retrieval_keys(run_dir: Path) -> None:
    await annotate_queries(_settings(run_dir))
    for record in _trajectories(run_dir):
        assert not {"retrieved_apis", "retrieved_api_ids", "retrieval_recall"} & set(record)


def test_annotate_open_domain_on_the_command_line(run_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[Path] = []

    def open_fake(path: Path, settings: Any, ranking: str | None = None) -> OracleBackend:
        opened.append(path)
        return OracleBackend(_apis(run_dir), {})

    monkeypatch.setattr("pipeline.search.stage.open_run_retriever", open_fake)
    result = CliRunner().invoke(app, ["annotate", "--out", str(run_dir), "--engine", "local", "--algorithm", "react",
                                      "--open-domain", "--retrieve-k", "2"])
    assert result.exit_code == 0, result.output
    assert opened == [run_dir]  # the index is loaded once for the whole stage
    assert all(len(record["retrieved_apis"]) == 2 for record in _trajectories(run_dir))


# --- with the real retriever (its index built on the sandbox catalog, MiniLM shared by the tests) --


HAS_RETRIEVER = importlib.util.find_spec("pipeline.retriever.search") is not None


@pytest.mark.skipif(not HAS_RETRIEVER, reason="needs the retriever index (pipeline.retriever.search)")
async def test_open_domain_and_the_service_with_the_real_retriever(run_dir: Path, loads_once: list[str]) -> None:
    from pipeline.retriever.documents import catalog_documents
    from pipeline.retriever.index import build_index
    from pipeline.retriever.search import Retriever
    from pipeline.retriever.serve_cli import describe
    from pipeline.retriever.service import create_app

    settings = _settings(run_dir)
    build_index(run_dir, catalog_documents(run_dir), settings.retriever)
    loads_before = len(loads_once)
    report = await annotate_queries(settings, open_domain=True, retrieve_k=3)
    assert len(loads_once) - loads_before == 1  # the index and its model opened once for the stage
    records = _trajectories(run_dir)
    assert records and all(len(record["retrieved_api_ids"]) == 3 for record in records)
    catalog = set(_apis(run_dir))
    assert all(tuple(pair) in catalog for record in records for pair in record["retrieved_api_ids"])
    assert report.retrieval_recall is not None and report.retrieval_recall > 0  # MiniLM finds some of them

    retriever = Retriever.open(run_dir, settings.retriever)
    facts = describe(retriever)  # what `toolgen retriever serve` reports on /health
    assert facts == {"documents": len(catalog), "ranking": retriever.ranking,
                     "model": retriever.index.meta.model_label}
    server = TestServer(create_app(retriever, settings.retriever.serve, facts=facts), host="127.0.0.1")
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as session:
            async with session.post(server.make_url("/search"), json={"query": "current weather in Paris",
                                                                       "k": 2}) as response:
                body = await response.json()
            async with session.get(server.make_url("/health")) as health:
                assert await health.json() == {"status": "ok", **facts}
    finally:
        await server.close()
    assert response.status == 200 and len(body["results"]) == 2
    assert "weather" in body["results"][0]["tool_id"].lower()
