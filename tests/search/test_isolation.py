"""One query's failure is that query's: the annotate stage records it and goes on (issue 11).

The fixture tool document and query file carry what real ToolBench files carry and JSON writers
choke on: integers past 64 bits, NaN, Infinity, ``1e309``, ``-0.0`` (as Python's ``json`` writes
them).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from pipeline.failures import STRICT_ENV, failures_path, read_failures
from pipeline.io import read_jsonl
from pipeline.llm.offline_policy import OfflinePolicy
from pipeline.llm.types import ChatReply, ChatRequest, ModelError
from pipeline.manifest import read_manifest
from pipeline.records import iter_trajectories
from pipeline.search.stage import annotate_queries
from pipeline.settings import Settings, load_settings
from pipeline.specs.collect import collect_catalog
from pipeline.verify.stage import verify_trajectories

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "odd_values"
QUERIES = FIXTURES / "G1_query.json"


def settings_for(run_dir: Path) -> Settings:
    return load_settings(run_dir=run_dir, collect={"workers": 0, "sources": [str(FIXTURES / "bignums.json")]})


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    run = tmp_path / "run"
    asyncio.run(collect_catalog(None, settings_for(run)))
    return run


class Exploding(OfflinePolicy):
    """The offline policy, except that it raises ``error`` on the query that says BOOM."""

    def __init__(self, error: Exception | None) -> None:
        super().__init__(strict=True)
        self.error = error

    async def chat(self, request: ChatRequest) -> ChatReply:
        if self.error is not None and any("BOOM" in str(m.get("content")) for m in request.messages):
            raise self.error
        return await super().chat(request)


async def test_odd_numbers_in_documents_and_queries_annotate_and_verify(run_dir: Path) -> None:
    report = await annotate_queries(settings_for(run_dir), query_files=[QUERIES])
    assert report.queries == 4 and report.errors == 0
    records = list(iter_trajectories(run_dir))
    assert sorted(str(r.query_id) for r in records) == ["1", "2", "3", "4"]
    # StableToolBench's G2_category query 72458: a NUMBER whose example is a 34-digit string
    prime = next(r for r in records if str(r.query_id) == "4")
    assert prime.answered and 2356564546548979878435435453456464 in [
        n.get("arguments", {}).get("number") for n in prime.tree["nodes"] if isinstance(n.get("arguments"), dict)]
    assert not failures_path(run_dir, "annotate").exists()
    verified = await verify_trajectories(settings_for(run_dir))
    assert verified.verified == 4 and verified.sample_failures == {}


async def test_a_query_that_raises_is_recorded_and_the_others_go_on(run_dir: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(STRICT_ENV, raising=False)
    report = await annotate_queries(settings_for(run_dir), query_files=[QUERIES],
                                    model=Exploding(RuntimeError("a bug on this query's data")))
    assert sorted(str(r.query_id) for r in iter_trajectories(run_dir)) == ["1", "3", "4"]
    assert report.errors == 1 and report.query_failures == {"RuntimeError": 1}
    assert report.failures_outstanding == 1
    [failure] = read_failures(run_dir, "annotate")
    assert (failure.group, failure.item_id, failure.error_type) == ("G1_query", "2", "RuntimeError")
    assert "a bug on this query's data" in failure.message
    section = read_manifest(run_dir)["stages"]["annotate"]
    assert section["query_failures"] == {"RuntimeError": 1} and section["failures_outstanding"] == 1

    # a rerun tries only the failed query; once it succeeds, nothing is outstanding
    again = await annotate_queries(settings_for(run_dir), query_files=[QUERIES], model=Exploding(None))
    assert again.searched == 1 and again.resumed == 3 and again.errors == 0
    assert sorted(str(r.query_id) for r in iter_trajectories(run_dir)) == ["1", "2", "3", "4"]
    assert not failures_path(run_dir, "annotate").exists()


async def test_a_model_error_is_recorded_even_in_strict_mode(run_dir: Path) -> None:
    report = await annotate_queries(settings_for(run_dir), query_files=[QUERIES],
                                    model=Exploding(ModelError("server said 500")))
    assert report.query_failures == {"ModelError": 1} and len(report.model_errors) == 1
    assert [f.item_id for f in read_failures(run_dir, "annotate")] == ["2"]


async def test_strict_mode_lets_a_bug_fail_the_stage(run_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(STRICT_ENV, "1")
    with pytest.raises(RuntimeError, match="a bug"):
        await annotate_queries(settings_for(run_dir), query_files=[QUERIES], model=Exploding(RuntimeError("a bug")))


async def test_a_sample_whose_verification_raises_is_recorded_and_the_others_go_on(
        run_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    await annotate_queries(settings_for(run_dir), query_files=[QUERIES])
    monkeypatch.delenv(STRICT_ENV, raising=False)
    import pipeline.verify.stage as verify_stage

    real = verify_stage.verify_record

    async def flaky(record: Any, *args: Any, **kwargs: Any) -> Any:
        if str(record.query_id) == "3":
            raise ValueError("a value the checks did not expect")
        return await real(record, *args, **kwargs)

    monkeypatch.setattr(verify_stage, "verify_record", flaky)
    report = await verify_trajectories(settings_for(run_dir))
    assert report.verified == 3 and report.sample_failures == {"ValueError": 1}
    assert [(f.item_id, f.error_type) for f in read_failures(run_dir, "verify")] == [("3", "ValueError")]
    monkeypatch.setattr(verify_stage, "verify_record", real)
    again = await verify_trajectories(settings_for(run_dir))
    assert again.verified == 1 and again.failures_outstanding == 0
    kept = list(read_jsonl(run_dir / "verified" / "accepted.jsonl")) + list(read_jsonl(run_dir / "verified" / "rejected.jsonl"))
    assert sorted(str(r["query_id"]) for r in kept) == ["1", "2", "3", "4"]
