"""A search's trajectory depends on its own query alone: not on which searches run beside it,
and not on whether the run was killed and resumed (issue 11). Offline, on the sandbox, over
queries that book, fill carts and write events, so the sandbox's state is exercised."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from pipeline.io import read_jsonl, write_jsonl
from pipeline.search.stage import annotate_queries
from pipeline.settings import Settings, load_settings
from tests.conftest import sandbox_queries_run

REPO = Path(__file__).resolve().parents[2]
# what differs between two runs of the same search without changing what it found
TIMING = frozenset({"elapsed_ms", "cached", "wall_seconds", "cache_hits"})
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def settings_for(run_dir: Path, **annotate: Any) -> Settings:
    return load_settings(run_dir=run_dir, collect={"workers": 0}, annotate=annotate)


def _writes(query: dict[str, Any]) -> bool:
    return any(str(api.get("method", "")).upper() in WRITES for api in query["api_list"])


@pytest.fixture(scope="module")
def stateful_queries(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run folder with the sandbox catalog and queries of which most call a writing API."""
    run_dir = sandbox_queries_run(tmp_path_factory.mktemp("resume") / "run", {"G1": 12, "G2": 6, "G3": 6}, 2)
    for path in (run_dir / "queries").glob("G*.jsonl"):
        queries = list(read_jsonl(path))
        writing = [q for q in queries if _writes(q)]
        write_jsonl(path, writing + [q for q in queries if not _writes(q)][: max(1, len(writing) // 3)])
    return run_dir


def copy_of(source: Path, target: Path) -> Path:
    for folder in ("catalog", "queries"):
        shutil.copytree(source / folder, target / folder)
    return target


def without_timing(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: without_timing(item) for key, item in value.items() if key not in TIMING}
    if isinstance(value, list):
        return [without_timing(item) for item in value]
    return value


def trajectories(run_dir: Path) -> dict[tuple[str, int], Any]:
    return {(r["group"], r["query_id"]): without_timing(r)
            for path in sorted((run_dir / "trajectories").glob("*.jsonl")) for r in read_jsonl(path)}


def made_something(records: dict[tuple[str, int], Any]) -> bool:
    """Whether a search created something in the sandbox (a cart, a booking, an event ...)."""
    return any((node.get("observation") or {}).get("status") == 201
               for record in records.values() for node in record["tree"]["nodes"])


async def test_a_search_does_not_depend_on_the_searches_beside_it(stateful_queries: Path, tmp_path: Path) -> None:
    one_at_a_time = copy_of(stateful_queries, tmp_path / "serial")
    all_at_once = copy_of(stateful_queries, tmp_path / "concurrent")
    await annotate_queries(settings_for(one_at_a_time, concurrency=1))
    await annotate_queries(settings_for(all_at_once, concurrency=64))

    serial, concurrent = trajectories(one_at_a_time), trajectories(all_at_once)
    assert made_something(serial)  # the searches changed the sandbox's state
    assert sorted(serial) == sorted(concurrent)
    assert [key for key in serial if serial[key] != concurrent[key]] == []


@pytest.mark.parametrize("kept", ["first half", "every other"])
async def test_a_killed_and_resumed_run_gives_the_trajectories_of_an_uninterrupted_one(
    stateful_queries: Path, tmp_path: Path, kept: str
) -> None:
    uninterrupted = copy_of(stateful_queries, tmp_path / "uninterrupted")
    await annotate_queries(settings_for(uninterrupted))

    # The killed run: every search ran (so its response cache holds all their answers, from
    # the state its sandbox was in), but only some trajectories were written before the kill.
    killed = copy_of(stateful_queries, tmp_path / "killed")
    await annotate_queries(settings_for(killed))
    lost: dict[tuple[str, int], Any] = {}
    for path in (killed / "trajectories").glob("*.jsonl"):
        records = list(read_jsonl(path))
        keep = [r for index, r in enumerate(records)
                if (index < len(records) // 2 if kept == "first half" else index % 2 == 0)]
        lost.update({(r["group"], r["query_id"]): r for r in records if r not in keep})
        write_jsonl(path, keep)
    resumed = await annotate_queries(settings_for(killed))

    assert resumed.searched == len(lost) > 0
    assert made_something(lost)  # the searches run again write ...
    assert resumed.environment["cache_hits"] > 0  # ... and replay reads from the killed run's cache
    expected, got = trajectories(uninterrupted), trajectories(killed)
    assert sorted(expected) == sorted(got)
    assert [key for key in expected if expected[key] != got[key]] == []
