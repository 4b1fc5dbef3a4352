"""The typed records stages pass on: old files load, new ones round-trip, future ones are refused."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.io import read_jsonl
from pipeline.records import (
    AcceptedSample,
    QueryRecord,
    RecordAppender,
    RecordError,
    RejectedSample,
    TrajectoryRecord,
    accepted_path,
    iter_accepted,
    iter_queries,
    iter_rejected,
    iter_trajectories,
    read_query_file,
    read_records,
    rejected_path,
    write_records,
)
from pipeline.search.tree import SearchNode, Trajectory
from pipeline.verify.verdict import CheckResult, Judgement, Verification
from tests.verify.trajectories import good_record

FIXTURES = Path(__file__).parent / "fixtures"
OLD_RUN = FIXTURES / "run_before_schema_version"


@pytest.fixture
def old_run(tmp_path: Path) -> Path:
    run_dir = tmp_path / "run"
    shutil.copytree(OLD_RUN, run_dir)
    return run_dir


def verification(passed: bool = True) -> Verification:
    if passed:
        return Verification(passed=True, format=CheckResult(passed=True), execution=CheckResult(passed=True),
                            semantic=Judgement(verdict="solved", votes=["solved"], judge="offline-rule-judge"))
    return Verification(passed=False, failed_at="execution", format=CheckResult(passed=True),
                        execution=CheckResult(passed=False, reasons=["call 2 (current_for_weather) failed: HTTP 503"]))


# --- files written before records were versioned -----------------------------------------------


def test_an_old_run_folder_loads_with_every_reader(old_run: Path) -> None:
    queries = list(iter_queries(old_run))
    trajectories = list(iter_trajectories(old_run))
    accepted = list(iter_accepted(old_run))
    rejected = list(iter_rejected(old_run))
    assert [len(queries), len(trajectories), len(accepted), len(rejected)] == [2, 3, 1, 3]
    assert all(r.schema_version == 1 for r in [*queries, *trajectories, *accepted, *rejected])
    assert all(q.group == "G1" and q.relevant_apis and q.api_list[0].tool_id for q in queries)
    assert [t.answered for t in trajectories] == [True, True, False]
    assert trajectories[2].counts.backtracks > 0 and not trajectories[2].training
    assert accepted[0].verification.passed and accepted[0].path_calls_ok()
    assert {r.failed_at for r in rejected} == {"format", "execution", "semantic"}
    assert all(r.kinds == r.reason_kinds for r in rejected)


@pytest.mark.parametrize(("name", "model"), [
    ("queries/G1.jsonl", QueryRecord), ("trajectories/G1.jsonl", TrajectoryRecord),
    ("trajectories/G3.jsonl", TrajectoryRecord), ("verified/accepted.jsonl", AcceptedSample),
    ("verified/rejected.jsonl", RejectedSample),
])
def test_an_old_line_written_again_is_the_same_line_plus_its_version(name: str, model: type[Any]) -> None:
    for line, record in zip(read_jsonl(OLD_RUN / name), read_records(OLD_RUN / name, model), strict=True):
        written = record.dump()
        assert list(written) == ["schema_version", *line]  # same keys, same order: ToolBench's layout kept
        assert written == {"schema_version": 1, **line}


def test_old_tree_nodes_read_as_search_nodes(old_run: Path) -> None:
    gave_up = next(t for t in iter_trajectories(old_run) if not t.answered)
    nodes = gave_up.tree_nodes()
    assert len(nodes) == gave_up.node_count and all(isinstance(n, SearchNode) for n in nodes.values())
    assert [n.id for n in gave_up.path_nodes()] == gave_up.chosen_path
    assert any(n.status == "pruned" for n in nodes.values())


# --- round trips ---------------------------------------------------------------------------------


def test_each_record_type_round_trips_through_its_file(tmp_path: Path) -> None:
    query = QueryRecord.model_validate({"query": "Weather in Lisbon?", "query_id": 7, "group": "G1",
                                        "api_list": [{"tool_name": "Weather", "api_name": "current"}],
                                        "relevant APIs": [["Weather", "current"]]})
    trajectory = TrajectoryRecord.of(good_record())
    accepted = AcceptedSample.accept(trajectory, verification())
    rejected = RejectedSample.reject(trajectory, verification(passed=False))
    write_records(tmp_path / "queries" / "G1.jsonl", [query])
    with RecordAppender[TrajectoryRecord](tmp_path / "trajectories" / "G1.jsonl") as out:
        out.write(trajectory)
    write_records(accepted_path(tmp_path), [accepted])
    write_records(rejected_path(tmp_path), [rejected])
    assert list(iter_queries(tmp_path)) == [query]
    assert list(iter_trajectories(tmp_path)) == [trajectory]
    assert list(iter_accepted(tmp_path)) == [accepted]
    assert list(iter_rejected(tmp_path)) == [rejected]
    line = orjson.loads((tmp_path / "queries" / "G1.jsonl").read_bytes())
    assert line["relevant APIs"] == [["Weather", "current"]] and "relevant_apis" not in line


def test_relevant_apis_are_set_by_name_and_written_under_toolbenchs_key() -> None:
    made = QueryRecord(query="Weather in Lisbon?", query_id=7, relevant_apis=[("Weather", "current")])
    assert made.dump()["relevant APIs"] == [["Weather", "current"]] and "relevant_apis" not in made.dump()
    assert QueryRecord.model_validate(made.dump()) == made


def test_the_annotate_and_verify_records_are_made_from_their_parts() -> None:
    trajectory = Trajectory(query="q", query_id=3, finish_type="give_answer", succeeded=True)
    record = TrajectoryRecord.from_trajectory(
        trajectory, query_id=3, group="G2", model="m", training=True, search={"width": 2, "max_depth": 6},
        relevant_apis=[("Weather", "current")], unresolved_apis=[],
    )
    assert record.key == ("G2", "3") and record.search.width == 2 and record.relevant_apis == [("Weather", "current")]
    accepted = AcceptedSample.accept(record, verification())
    assert accepted.key == record.key and accepted.verification.passed
    assert accepted.model_dump(exclude={"verification"}) == record.model_dump()
    rejected = RejectedSample.reject(record, verification(passed=False))
    assert rejected.failed_at == "execution" and rejected.reason_kinds == ["execution: failed"]
    with pytest.raises(ValueError, match="failed nowhere"):
        RejectedSample.reject(record, verification())


def test_extra_keys_survive_reading_and_writing(tmp_path: Path) -> None:
    line = {**good_record(), "note": {"by": "hand"}, "search": {"width": 3, "beam": "wide"},
            "counts": {"model_calls": 3, "tool_errors": 1}}
    path = tmp_path / "trajectories" / "G1.jsonl"
    path.parent.mkdir(parents=True)
    path.write_bytes(orjson.dumps(line) + b"\n")
    record = next(iter_trajectories(tmp_path))
    assert record.model_extra == {"note": {"by": "hand"}}
    accepted = AcceptedSample.accept(record, verification())  # verify copies the trajectory on
    written = accepted.dump()
    assert written["note"] == {"by": "hand"} and written["search"]["beam"] == "wide"
    assert written["counts"]["tool_errors"] == 1


# --- versions and errors ------------------------------------------------------------------------


def test_a_line_from_a_newer_toolgen_is_refused_with_its_place_named(tmp_path: Path) -> None:
    path = tmp_path / "trajectories" / "G1.jsonl"
    path.parent.mkdir(parents=True)
    path.write_bytes(orjson.dumps(good_record()) + b"\n" + orjson.dumps({**good_record(), "schema_version": 2}) + b"\n")
    with pytest.raises(RecordError, match=r"G1\.jsonl:2: .*schema_version 2 is newer than this toolgen reads"):
        list(iter_trajectories(tmp_path))
    with pytest.raises(ValueError, match="upgrade"):
        QueryRecord.model_validate({"query": "q", "query_id": 1, "schema_version": 9})


def test_a_broken_line_names_its_file_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "verified" / "rejected.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text('{"group": "G1", "query_id": 1, "failed_at": "somewhere", "verification": {"passed": false}}\n')
    with pytest.raises(RecordError) as caught:
        list(iter_rejected(tmp_path))
    message = str(caught.value)
    assert "rejected.jsonl:1" in message and "failed_at" in message and "verification.format" in message


def test_a_torn_last_line_is_skipped_and_the_appender_cuts_it(tmp_path: Path) -> None:
    path = tmp_path / "trajectories" / "G1.jsonl"
    path.parent.mkdir(parents=True)
    path.write_bytes(orjson.dumps(good_record()) + b"\n" + orjson.dumps(good_record(query_id=2))[:50])
    assert [r.query_id for r in iter_trajectories(tmp_path)] == [1]
    with RecordAppender[TrajectoryRecord](path) as out:
        out.write(TrajectoryRecord.of(good_record(query_id=3)))
    assert [r.query_id for r in iter_trajectories(tmp_path)] == [1, 3]


def test_a_trajectory_line_without_group_takes_its_files_stem(tmp_path: Path) -> None:
    line = {k: v for k, v in good_record().items() if k != "group"}
    path = tmp_path / "trajectories" / "mine.jsonl"
    path.parent.mkdir(parents=True)
    path.write_bytes(orjson.dumps(line) + b"\n")
    assert next(iter_trajectories(tmp_path)).key == ("mine", "1")


# --- ToolBench's query files --------------------------------------------------------------------


def test_a_toolbench_query_file_reads_with_its_ids_kept() -> None:
    queries = list(read_query_file(FIXTURES / "toolbench" / "G1_query.json"))
    assert [q.query_id for q in queries] == [88, "q-0042", "G1_query-3"]  # int, text, made up
    assert {q.group for q in queries} == {"G1_query"}
    assert queries[0].api_list[0].required_parameters[0]["default"] == "Paris"
    assert queries[1].api_list[0].tool_name == "1337" and queries[1].model_extra == {"annotator": "kept although no reader knows it"}
    assert queries[2].relevant_apis is None and queries[2].api_list[0].tool_id is None


def test_a_query_file_that_is_not_a_list_of_objects_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "queries.json"
    path.write_text('[{"query": "fine", "query_id": 1}, ["not", "an", "object"]]')
    with pytest.raises(RecordError, match=r"queries\.json: item 2: not a query object"):
        list(read_query_file(path))


# --- property: any record round-trips -----------------------------------------------------------

_text = st.text(max_size=12)
_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.floats(allow_nan=False, allow_infinity=False) | _text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=6,
)
_extras = st.dictionaries(_text.map(lambda k: f"x_{k}"), _json, max_size=2)
_pair = st.tuples(_text, _text)
_query_id = st.integers(0, 10**9) | st.text(min_size=1, max_size=8)


@st.composite
def query_lines(draw: st.DrawFn) -> dict[str, Any]:
    api = st.fixed_dictionaries({"tool_name": _text, "api_name": _text},
                                optional={"tool_id": _text, "api_id": _text, "template_response": _json})
    return {
        "query": draw(_text), "query_id": draw(_query_id), "group": draw(st.text(min_size=1, max_size=4)),
        "api_list": draw(st.lists(api, max_size=2)),
        "relevant APIs": draw(st.none() | st.lists(_pair, max_size=2)),
        **draw(_extras),
    }


@st.composite
def trajectory_lines(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "query": draw(_text), "query_id": draw(st.none() | _query_id), "group": draw(st.text(min_size=1, max_size=4)),
        "finish_type": draw(st.sampled_from(["give_answer", "give_up"])), "final_answer": draw(st.none() | _text),
        "tree": {"root": 0, "nodes": [{"id": 0, "kind": "root"}]}, "chosen_path": [0],
        "messages": draw(st.lists(st.dictionaries(_text, _json, max_size=2), max_size=2)),
        "counts": {"model_calls": draw(st.integers(0, 200)), "backtracks": draw(st.integers(0, 9))},
        "search": draw(st.fixed_dictionaries({}, optional={"width": st.integers(1, 4), "max_depth": st.integers(1, 9)})),
        "relevant APIs": draw(st.none() | st.lists(_pair, max_size=2)),
        "unresolved_apis": draw(st.lists(_pair, max_size=2)),
        **draw(_extras),
    }


def first_per_key(records: list[Any]) -> list[Any]:
    """What readers return: each (group, query id) once, the first line kept."""
    kept: dict[tuple[str, str], Any] = {}
    for record in records:
        kept.setdefault(record.key, record)
    return list(kept.values())


@settings(max_examples=60, deadline=None)
@given(queries=st.lists(query_lines(), max_size=3), trajectories=st.lists(trajectory_lines(), max_size=3),
       passed=st.booleans())
def test_random_records_round_trip_through_the_readers(
    queries: list[dict[str, Any]], trajectories: list[dict[str, Any]], passed: bool
) -> None:
    made_queries = [QueryRecord.model_validate(q) for q in queries]
    by_key: dict[tuple[str, str], TrajectoryRecord] = {}
    for line in trajectories:  # the readers keep each (group, query id) once: so must the test
        made = TrajectoryRecord.model_validate(line)
        by_key.setdefault(made.key, made)
    made_trajectories = list(by_key.values())
    accepted = [AcceptedSample.accept(t, verification()) for t in made_trajectories]
    rejected = [RejectedSample.reject(t, verification(passed=False)) for t in made_trajectories]
    with tempfile.TemporaryDirectory() as folder:
        run_dir = Path(folder)
        write_records(run_dir / "queries" / "G1.jsonl", made_queries)
        write_records(run_dir / "trajectories" / "G1.jsonl", made_trajectories)
        write_records(accepted_path(run_dir), accepted)
        write_records(rejected_path(run_dir), rejected)
        assert list(iter_queries(run_dir)) == made_queries
        assert list(iter_trajectories(run_dir)) == first_per_key(made_trajectories)
        assert list(iter_accepted(run_dir)) == first_per_key(accepted)
        assert list(iter_rejected(run_dir)) == first_per_key(rejected)
