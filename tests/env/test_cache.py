"""The response cache: round trips by canonical arguments, examples for an LLM simulator,
persistence, several processes writing one file, and refusing files that are not caches."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipeline.env.cache import CacheError, ResponseCache
from pipeline.env.observation import Observation
from pipeline.env.simulate import ResponseSimulator
from pipeline.models import Api, SourceRef, Tool


def _observation(value: object, **fields: object) -> Observation:
    return Observation(response={"value": value}, mode="simulated", elapsed_ms=1.5, **fields)


@pytest.fixture
def cache(tmp_path: Path) -> Iterator[ResponseCache]:
    with ResponseCache(tmp_path / "env" / "responses.sqlite") as opened:
        yield opened


def test_a_stored_observation_comes_back_marked_cached(cache: ResponseCache) -> None:
    stored = Observation(response={"temp": 18.5, "city": "Paris"}, status=200, mode="real", elapsed_ms=42.0)
    cache.put("weather", "current", {"city": "Paris", "units": "metric"}, stored)
    found = cache.get("weather", "current", {"units": "metric", "city": "Paris"})
    assert found is not None and found.cached
    assert found.model_dump(exclude={"cached"}) == stored.model_dump(exclude={"cached"})


def test_lookups_use_canonical_arguments_and_count_hits_and_misses(cache: ResponseCache) -> None:
    cache.put("t", "a", {"n": 5, "tags": ["x", "y"]}, _observation(1))
    assert cache.get("t", "a", {"tags": ["x", "y"], "n": 5.0}) is not None
    assert cache.get("t", "a", {"n": 5, "tags": ["y", "x"]}) is None  # list order matters
    assert cache.get("t", "a", {"n": "5", "tags": ["x", "y"]}) is None
    assert cache.get("t", "other", {"n": 5, "tags": ["x", "y"]}) is None
    assert cache.get("other", "a", {"n": 5, "tags": ["x", "y"]}) is None
    assert cache.stats.as_dict() == {"hits": 1, "misses": 4, "writes": 1}


def test_no_arguments_and_empty_arguments_are_one_call(cache: ResponseCache) -> None:
    cache.put("t", "a", None, _observation(1))
    assert cache.get("t", "a", {}) is not None


def test_a_second_put_replaces_the_observation_and_keeps_the_first_write_time(cache: ResponseCache) -> None:
    cache.put("t", "a", {"q": 1}, _observation("old"))
    cache.put("t", "a", {"q": 1}, _observation("new"))
    found = cache.get("t", "a", {"q": 1})
    assert found is not None and found.response == {"value": "new"}
    assert len(cache) == 1
    with sqlite3.connect(cache.path) as raw:
        created, updated, mode, ok = raw.execute(
            "SELECT created_at, updated_at, mode, ok FROM responses").fetchone()
    assert created <= updated and (mode, ok) == ("simulated", 1)


def test_examples_are_recent_successful_calls_of_one_api(cache: ResponseCache) -> None:
    for i in range(8):
        cache.put("t", "search", {"q": f"query {i}"}, _observation(i))
    cache.put("t", "search", {"q": "broken"}, Observation(error="HTTP 500", status=500, mode="real"))
    cache.put("t", "search", {"q": "teapot"}, Observation(response="no", status=418, mode="real"))
    cache.put("t", "other", {"q": "elsewhere"}, _observation("x"))
    examples = cache.examples("t", "search", limit=5)
    assert [arguments for arguments, _ in examples] == [{"q": f"query {i}"} for i in (7, 6, 5, 4, 3)]
    assert all(observation.cached and observation.ok for _, observation in examples)
    assert examples[0][1].response == {"value": 7}
    assert cache.examples("t", "search", limit=0) == []
    assert cache.examples("t", "missing") == []


def test_entries_persist_across_instances(tmp_path: Path) -> None:
    path = tmp_path / "responses.sqlite"
    with ResponseCache(path) as first:
        first.put("t", "a", {"x": 1}, _observation("kept"))
    with ResponseCache(path) as second:
        found = second.get("t", "a", {"x": 1})
        assert found is not None and found.response == {"value": "kept"}
        assert second.stats.as_dict() == {"hits": 1, "misses": 0, "writes": 0}


def test_simulated_observations_round_trip(cache: ResponseCache) -> None:
    api = Api(name="listThings", id="list_things", template_response={"items": [{"id": "int", "_list_length": 2}]})
    tool = Tool(id="demo", tool_name="Demo", source=SourceRef(kind="file", location="x", format="toolbench"),
                api_list=[api])
    observation = ResponseSimulator().simulate(tool, api, {"limit": 2})
    cache.put(tool.id, api.id, {"limit": 2}, observation)
    replayed = cache.get(tool.id, api.id, {"limit": 2.0})
    assert replayed is not None and replayed.response == observation.response and replayed.mode == "simulated"


def test_threads_may_share_one_cache_object(cache: ResponseCache) -> None:
    def work(worker: int) -> None:
        for i in range(100):
            cache.put("t", "a", {"w": worker, "i": i}, _observation(i))
            assert cache.get("t", "a", {"w": worker, "i": i}) is not None

    threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(cache) == 400 and cache.stats.writes == 400


def _write_many(path: str, worker: int, count: int, start: Any) -> None:
    with ResponseCache(Path(path)) as shared:
        start.wait(timeout=60)  # both processes write at the same time, not one after the other
        for i in range(count):
            shared.put("tool", "api", {"worker": worker, "i": i}, _observation(f"{worker}-{i}"))
            if i % 50 == 0:
                shared.examples("tool", "api")  # readers run alongside the writers


def test_two_processes_can_write_the_same_file_at_once(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite"
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(2)
    workers = [context.Process(target=_write_many, args=(str(path), w, 500, start)) for w in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert [worker.exitcode for worker in workers] == [0, 0]
    with ResponseCache(path) as cache:
        assert len(cache) == 1000
        for worker in range(2):
            for i in range(500):
                found = cache.get("tool", "api", {"i": i, "worker": worker})
                assert found is not None and found.response == {"value": f"{worker}-{i}"}


def test_a_file_that_is_not_sqlite_is_refused_by_name_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "responses.sqlite"
    garbage = b"this is not a database, it is a note\n" * 200
    path.write_bytes(garbage)
    with pytest.raises(CacheError, match=str(path)):
        ResponseCache(path)
    assert path.read_bytes() == garbage


def test_a_damaged_cache_is_reported_by_name(tmp_path: Path) -> None:
    path = tmp_path / "responses.sqlite"
    with ResponseCache(path) as cache:
        for i in range(300):
            cache.put("t", "a", {"i": i}, _observation("x" * 200))
    data = bytearray(path.read_bytes())
    data[4096:len(data)] = b"\xff" * (len(data) - 4096)  # every page after the first
    path.write_bytes(bytes(data))
    with pytest.raises(CacheError, match=str(path)):
        with ResponseCache(path) as damaged:
            for i in range(300):
                damaged.get("t", "a", {"i": i})


def test_another_programs_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "app.sqlite"
    with sqlite3.connect(path) as other:
        other.execute("CREATE TABLE users (id INTEGER)")
    with pytest.raises(CacheError, match="not a toolgen response cache"):
        ResponseCache(path)


def test_a_cache_from_a_newer_toolgen_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "responses.sqlite"
    ResponseCache(path).close()
    with sqlite3.connect(path) as raw:
        raw.execute("PRAGMA user_version = 99")
    with pytest.raises(CacheError, match="newer toolgen"):
        ResponseCache(path)


def test_a_directory_is_not_a_cache_file(tmp_path: Path) -> None:
    with pytest.raises(CacheError, match="directory"):
        ResponseCache(tmp_path)


def test_a_closed_cache_says_so(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "c.sqlite")
    cache.close()
    cache.close()  # closing twice is fine
    with pytest.raises(CacheError, match="closed"):
        cache.get("t", "a", {})
