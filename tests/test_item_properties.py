"""Property tests for issue 11: whatever one item carries is processed or recorded, never raised.

Random values of the kinds real ToolBench data and model replies carry (integers past 64 bits,
NaN, ±Infinity, -0.0, odd Unicode and lone surrogates, deep-ish nesting, wrong types) go
through each per-item path: the JSON policy (:mod:`pipeline.io`), the environment's call
(argument validation, simulation, the response cache), the DFSDT step that reads a model's
reply, and the record writers and readers. ``TOOLGEN_STRICT_ITEMS`` is on in the tests, so an
exception here is a bug, not a recorded failure.
"""

from __future__ import annotations

import asyncio
import math
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.env.cache import ResponseCache
from pipeline.env.environment import Environment, open_environment
from pipeline.env.observation import Observation
from pipeline.io import dumps, loads
from pipeline.llm.types import ChatReply, ChatRequest, ToolCall, Usage
from pipeline.models import Tool
from pipeline.records import RecordAppender, TrajectoryRecord, iter_trajectories
from pipeline.search.dfsdt import DFSDTSearch
from pipeline.search.functions import FunctionCatalog
from pipeline.settings import load_settings
from pipeline.specs.catalog import iter_tools
from pipeline.specs.collect import collect_catalog

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "odd_values" / "bignums.json"

BIG = [2**63, 2**64, -(2**63) - 1, 2**70, -(2**70), 10**30, 2**64 - 1, -(2**63)]
ODD_FLOATS = [math.nan, math.inf, -math.inf, -0.0, 5e-324, 1.7976931348623157e308]
ODD_TEXT = ["\ud800", "a\udfffb", "\x00", "\u202e", "e\u0301", "😀", "NaN", "1e309", "99999999999999999999999"]

scalars = (
    st.none() | st.booleans() | st.integers() | st.sampled_from(BIG) | st.floats() | st.sampled_from(ODD_FLOATS)
    | st.text(max_size=8) | st.sampled_from(ODD_TEXT)
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5) | st.sampled_from(ODD_TEXT),
                                                               inner, max_size=3),
    max_leaves=12,
)


@st.composite
def nested(draw: st.DrawFn) -> Any:
    """A value nested 20 to 240 levels deep (JSON writers here, orjson and pydantic, stop at 255:
    a deeper value fails its item, which the stage records, see tests/search/test_isolation.py)."""
    value: Any = draw(scalars)
    for _ in range(draw(st.sampled_from([20, 65, 100, 240]))):
        value = [value] if draw(st.booleans()) else {"k": value}
    return value


odd_values = json_values | nested()
FAST = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])  # each runs a search


def same_under_policy(a: Any, b: Any) -> bool:
    return dumps(a) == dumps(b)


# --- the JSON policy ------------------------------------------------------------------------------


@FAST
@given(json_values)
def test_any_value_is_written_and_reads_back_as_the_policy_says(value: Any) -> None:
    data = dumps(value)
    again = loads(data)
    assert dumps(again) == data  # a fixed point: big integers exact, NaN/inf null, surrogates U+FFFD
    assert dumps(loads(dumps(value, indent=True))) == data


def test_big_integers_and_odd_floats_follow_the_policy() -> None:
    assert dumps({"n": 2**70, "m": -(2**70), "f": [math.nan, math.inf, -math.inf, -0.0]}) == (
        b'{"n":1180591620717411303424,"m":-1180591620717411303424,"f":[null,null,null,-0.0]}')
    assert loads(b'{"n":1180591620717411303424}') == {"n": 2**70}  # orjson alone would make it a float
    assert loads("[NaN, Infinity, -Infinity, 1e309]")[1:] == [math.inf, -math.inf, math.inf]
    assert dumps("a\ud800b") == '"a\ufffdb"'.encode()
    assert loads(b'{"id": "12345678901234567890123", "x": 1.5}') == {"id": "12345678901234567890123", "x": 1.5}
    with pytest.raises(ValueError):
        loads(b"{not json")


# --- the environment's per-call path --------------------------------------------------------------


@pytest.fixture(scope="module")
def environment() -> Iterator[tuple[asyncio.Runner, Environment, list[Tool]]]:
    with tempfile.TemporaryDirectory() as folder:
        run_dir = Path(folder) / "run"
        configured = load_settings(run_dir=run_dir, collect={"workers": 0, "sources": [str(FIXTURE)]})
        with asyncio.Runner() as runner:
            runner.run(collect_catalog(None, configured))
            tools = list(iter_tools(run_dir))
            context = open_environment(tools, configured, run_dir=run_dir)
            env = runner.run(context.__aenter__())
            try:
                yield runner, env, tools
            finally:
                runner.run(context.__aexit__(None, None, None))


@SLOW
@given(arguments=st.dictionaries(st.sampled_from(["id", "ratio", "scale", "offset", "q", "other", "\ud800"]),
                                 odd_values, max_size=4) | odd_values,
       which=st.integers(0, 3))
def test_a_call_with_any_arguments_returns_an_observation(
        environment: tuple[asyncio.Runner, Environment, list[Tool]], arguments: Any, which: int) -> None:
    runner, env, tools = environment
    tool = tools[0]
    api_id = tool.api_list[which % len(tool.api_list)].id if which < 2 else "no_such_api"
    first = runner.run(env.call(tool.id, api_id, arguments))
    assert isinstance(first, Observation)
    assert loads(dumps(first.model_dump(mode="json")))["mode"] == first.mode
    again = runner.run(env.call(tool.id, api_id, arguments))  # the cached answer, if it was stored
    assert same_under_policy(again.response, first.response) and again.error == first.error


def readable(value: Any) -> Any:
    """``value`` as it comes out of a reader (:func:`pipeline.io.loads` never yields lone surrogates)."""
    if isinstance(value, str):
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if isinstance(value, list):
        return [readable(item) for item in value]
    if isinstance(value, dict):
        return {readable(key): readable(item) for key, item in value.items()}
    return value


@FAST
@given(response=odd_values.map(readable), error=st.text(max_size=10), arguments=json_values.map(readable))
def test_the_response_cache_keeps_any_observation(response: Any, error: str, arguments: Any) -> None:
    with tempfile.TemporaryDirectory() as folder, ResponseCache(Path(folder) / "cache.sqlite") as cache:
        observation = Observation(response=response, error=error, mode="simulated")
        try:
            cache.put("tool", "api", arguments, observation)
        except ValueError as refused:  # canonical arguments stop at 64 levels (the environment checks first)
            assert "nested deeper" in str(refused)
            return
        got = cache.get("tool", "api", arguments)
        assert got is not None and got.cached and got.mode == "simulated"
        assert same_under_policy(got.response, response) and same_under_policy(got.error, error)


# --- the DFSDT step that reads a model's reply ------------------------------------------------------


def argument_texts() -> st.SearchStrategy[str]:
    as_json = odd_values.map(lambda v: dumps(v).decode())
    deep = st.sampled_from([70, 300, 2000]).map(lambda n: '{"a":' + "[" * n + "]" * n + "}")
    python_tokens = st.sampled_from(['{"id": NaN}', '{"id": 1e309}', '{"id": 1180591620717411303424}',
                                     '{"q": "\\ud800"}', "[1, 2]", '"text"', "null", "{", "", "  ",
                                     '{"return_type": "give_answer", "final_answer": NaN}',
                                     '{"return_type": "give_answer", "final_answer": ["x"]}',
                                     '{"return_type": 7}', "[" * 2000 + "]" * 2000])
    return as_json | python_tokens | deep | st.text(max_size=20)


@st.composite
def replies(draw: st.DrawFn, names: list[str]) -> ChatReply:
    calls = draw(st.lists(st.builds(ToolCall, id=st.text(max_size=4), name=st.sampled_from(names) | st.text(max_size=6),
                                    arguments=argument_texts()), max_size=2))
    return ChatReply(content=draw(st.none() | st.text(max_size=10) | st.sampled_from(ODD_TEXT)), tool_calls=calls,
                     usage=Usage(prompt_tokens=1, completion_tokens=1))


class Replay:
    def __init__(self, script: list[ChatReply]) -> None:
        self.script = script
        self.calls = 0

    async def chat(self, request: ChatRequest) -> ChatReply:
        reply = self.script[self.calls % len(self.script)]
        self.calls += 1
        return reply


@SLOW
@given(data=st.data())
def test_any_model_reply_makes_a_tree_that_is_written_and_read_back(
        environment: tuple[asyncio.Runner, Environment, list[Tool]], data: st.DataObject) -> None:
    runner, env, tools = environment
    tool = tools[0]
    catalog = FunctionCatalog([(tool, api) for api in tool.api_list])
    names = [f["function"]["name"] for f in catalog.tools()]
    script = data.draw(st.lists(replies(names), min_size=1, max_size=4))
    search = DFSDTSearch(Replay(script), env, catalog, width=2, max_depth=3, max_model_calls=8)
    trajectory = runner.run(search.run(data.draw(st.text(max_size=10) | st.sampled_from(ODD_TEXT)), 1))
    record = TrajectoryRecord.from_trajectory(trajectory, query_id=1, group="G1", model="replay", training=False,
                                              search={}, relevant_apis=None, unresolved_apis=[])
    with tempfile.TemporaryDirectory() as folder:
        with RecordAppender[TrajectoryRecord](Path(folder) / "trajectories" / "G1.jsonl") as out:
            out.write(record)
        [back] = list(iter_trajectories(Path(folder)))
    assert back.key == record.key and dumps(back.dump()) == dumps(record.dump())


# --- the records' writers and readers ----------------------------------------------------------------


@FAST
@given(messages=st.lists(st.dictionaries(st.sampled_from(["role", "content", "x"]), odd_values, max_size=3),
                         max_size=3),
       extra=json_values, answer=st.none() | st.text(max_size=8) | st.sampled_from(ODD_TEXT),
       query_id=st.sampled_from(BIG) | st.integers() | st.text(min_size=1, max_size=6))
def test_a_record_with_any_values_is_written_and_read_back(messages: list[dict[str, Any]], extra: Any,
                                                          answer: str | None, query_id: Any) -> None:
    record = TrajectoryRecord.model_validate({
        "query": "q", "query_id": query_id, "group": "G1", "finish_type": "give_up", "final_answer": answer,
        "tree": {"root": 0, "nodes": [{"id": 0, "kind": "root", "observation": extra}]}, "chosen_path": [0],
        "messages": messages, "x_extra": extra,
    })
    with tempfile.TemporaryDirectory() as folder:
        line = record.dump_line()
        with RecordAppender[TrajectoryRecord](Path(folder) / "trajectories" / "G1.jsonl") as out:
            out.write_line(line)
        [back] = list(iter_trajectories(Path(folder)))
    assert dumps(back.dump()) == line
