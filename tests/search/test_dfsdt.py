"""DFSDT and ReACT against a scripted policy and a fake environment, plus one run over the sandbox."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pipeline.env.observation import Observation
from pipeline.llm.types import ChatReply, ChatRequest, ToolCall, Usage
from pipeline.models import Api, Param, SourceRef, Tool
from pipeline.search.dfsdt import DIVERSITY_PROMPT, DFSDTSearch
from pipeline.search.functions import FunctionCatalog
from pipeline.search.react import ReActSearch
from pipeline.search.tree import SearchTree, Trajectory
from pipeline.tool_schema import model_tools

SOURCE = SourceRef(kind="file", location="fixture.json", format="toolbench")
DIVERSITY_HEAD = DIVERSITY_PROMPT.split("\n")[0]

# --------------------------------------------------------------------------------------------
# Fakes


def make_catalog() -> FunctionCatalog:
    geo = Tool(
        id="geo",
        tool_name="Geo",
        tool_description="Cities",
        source=SOURCE,
        api_list=[
            Api(
                id="search",
                name="search",
                description="Find a city",
                required_parameters=[Param(name="q", type="STRING")],
            ),
            Api(
                id="city",
                name="city",
                description="A city by id",
                required_parameters=[Param(name="id", type="STRING")],
            ),
        ],
    )
    weather = Tool(
        id="weather",
        tool_name="Weather",
        tool_description="Weather",
        source=SOURCE,
        api_list=[Api(id="current", name="current", description="Current weather")],
    )
    catalog = FunctionCatalog([(geo, api) for api in geo.api_list] + [(weather, weather.api_list[0])])
    assert catalog.names == ["search_for_geo", "city_for_geo", "current_for_weather"]
    return catalog


class FakeEnvironment:
    """``async call`` answering from a dict keyed by api id (an error for anything else)."""

    def __init__(self, answers: dict[str, Observation] | None = None) -> None:
        self.answers = answers or {}
        self.calls: list[tuple[str, str, Any, str | None]] = []

    async def call(
        self, tool_id: str, api_id: str, arguments: Any, *, client_id: str | None = None
    ) -> Observation:
        self.calls.append((tool_id, api_id, arguments, client_id))
        return self.answers.get(api_id, Observation(response={"api": api_id, "args": arguments}))


class ScriptedPolicy:
    """A ChatModel whose reply is ``script(request, depth)``; ``depth`` = assistant messages so far."""

    def __init__(self, script: Callable[[ChatRequest, int], ChatReply]) -> None:
        self.script = script
        self.requests: list[ChatRequest] = []

    async def chat(self, request: ChatRequest) -> ChatReply:
        self.requests.append(request)
        depth = sum(1 for m in request.messages if m["role"] == "assistant")
        return self.script(request, depth)


def call(
    name: str, arguments: Any = None, *, content: str | None = "thinking", raw: str | None = None
) -> ChatReply:
    text = raw if raw is not None else json.dumps(arguments or {})
    return ChatReply(
        content=content,
        tool_calls=[ToolCall(id="call_x", name=name, arguments=text)],
        usage=Usage(prompt_tokens=10, completion_tokens=2),
    )


def answer(text: str = "It is sunny.") -> ChatReply:
    return call("Finish", {"return_type": "give_answer", "final_answer": text})


def give_up() -> ChatReply:
    return call("Finish", {"return_type": "give_up_and_restart"})


def tree_of(trajectory: Trajectory) -> SearchTree:
    return SearchTree.model_validate(
        {"root": trajectory.tree["root"], "nodes": {n["id"]: n for n in trajectory.tree["nodes"]}}
    )


def assert_well_formed(messages: list[dict[str, Any]], *, ends_with_finish: bool) -> None:
    assert messages[0]["role"] == "system" and messages[1]["role"] == "user"
    pending: list[str] = []
    for message in messages[2:]:
        if message["role"] == "assistant":
            assert not pending, "an assistant message before the previous call was answered"
            assert len(message["tool_calls"]) == 1
            pending = [tc["id"] for tc in message["tool_calls"]]
            assert all(tc["type"] == "function" for tc in message["tool_calls"])
        else:
            assert message["role"] == "tool" and message["tool_call_id"] in pending
            pending.remove(message["tool_call_id"])
    last = messages[-1]
    if ends_with_finish:
        assert last["role"] == "assistant" and last["tool_calls"][0]["function"]["name"] == "Finish"
        assert pending == [last["tool_calls"][0]["id"]]
    else:
        assert not pending
    ids = [m["tool_calls"][0]["id"] for m in messages if m["role"] == "assistant"]
    assert len(ids) == len(set(ids))


# --------------------------------------------------------------------------------------------
# DFSDT


async def test_a_straight_answer_gives_a_successful_well_formed_trajectory() -> None:
    def script(request: ChatRequest, depth: int) -> ChatReply:
        return [call("search_for_geo", {"q": "Lisbon"}), call("current_for_weather"), answer()][depth]

    env = FakeEnvironment({"search": Observation(response={"id": 7, "name": "Lisbon"})})
    policy = ScriptedPolicy(script)
    trajectory = await DFSDTSearch(policy, env, make_catalog(), client_id="c1").run(
        "Weather in Lisbon?", "q1"
    )
    assert trajectory.finish_type == "give_answer" and trajectory.succeeded
    assert trajectory.final_answer == "It is sunny." and trajectory.query_id == "q1"
    assert trajectory.counts.model_calls == 3 and trajectory.counts.api_calls == 2
    assert trajectory.counts.prompt_tokens == 30 and trajectory.counts.completion_tokens == 6
    assert trajectory.counts.backtracks == 0 and trajectory.counts.nodes == 4
    assert env.calls == [("geo", "search", {"q": "Lisbon"}, "c1"), ("weather", "current", {}, "c1")]
    assert_well_formed(trajectory.messages, ends_with_finish=True)
    assert trajectory.messages[1]["content"] == "\nWeather in Lisbon?\nBegin!\n"
    assert json.loads(trajectory.messages[3]["content"]) == {
        "error": "",
        "response": {"id": 7, "name": "Lisbon"},
    }
    # every request carries the tools (as JSON Schema only), the policy role and sampling temperature;
    # the trajectory keeps ToolBench's form
    assert all(
        r.role == "policy" and r.tools == model_tools(make_catalog().tools()) and r.temperature == 1.0
        for r in policy.requests
    )
    assert trajectory.tools == make_catalog().tools()
    json.dumps(trajectory.model_dump(mode="json"))  # serialisable


async def test_the_search_stops_at_the_first_give_answer() -> None:
    policy = ScriptedPolicy(
        lambda request, depth: answer("first") if depth == 1 else call("search_for_geo", {"q": "x"})
    )
    trajectory = await DFSDTSearch(policy, FakeEnvironment(), make_catalog()).run("q")
    assert trajectory.final_answer == "first"
    assert trajectory.counts.model_calls == 2 and len(trajectory.tree["nodes"]) == 3


async def test_width_is_never_exceeded_and_every_subtree_is_tried() -> None:
    policy = ScriptedPolicy(lambda request, depth: call("search_for_geo", {"q": str(depth)}))
    trajectory = await DFSDTSearch(policy, FakeEnvironment(), make_catalog(), width=2, max_depth=3).run("q")
    tree = tree_of(trajectory)
    assert all(len(n.children) <= 2 for n in tree.nodes.values())
    # a full binary tree of depth 3: 2 + 4 + 8 call nodes, one model call each
    assert trajectory.counts.model_calls == 14 and len(tree.nodes) == 15
    assert not trajectory.succeeded and trajectory.stop_reason == "exhausted"
    assert max(n.depth for n in tree.nodes.values()) == 3
    assert all(
        n.status == "pruned" and n.detail == "depth limit" for n in tree.nodes.values() if n.depth == 3
    )
    # sample_index is the child's index under its parent
    assert sorted(r.sample_index for r in policy.requests) == [0] * 7 + [1] * 7
    # failed: the longest (earliest) path is kept, ends with a tool message
    assert len(trajectory.chosen_path) == 4 and trajectory.finish_type == "give_up"
    assert trajectory.final_answer is None
    assert_well_formed(trajectory.messages, ends_with_finish=False)
    # backtracks: every re-expansion after a subtree came back (one per non-leaf node's second child)
    assert trajectory.counts.backtracks == 7


async def test_the_depth_limit_counts_steps() -> None:
    policy = ScriptedPolicy(lambda request, depth: call("search_for_geo", {"q": "x"}))
    trajectory = await DFSDTSearch(policy, FakeEnvironment(), make_catalog(), width=1, max_depth=4).run("q")
    tree = tree_of(trajectory)
    assert trajectory.counts.model_calls == 4 and max(n.depth for n in tree.nodes.values()) == 4
    assert max(len(r.messages) for r in policy.requests) == 2 + 2 * 3


async def test_the_model_call_budget_stops_the_search_exactly() -> None:
    policy = ScriptedPolicy(lambda request, depth: call("search_for_geo", {"q": "x"}))
    trajectory = await DFSDTSearch(
        policy, FakeEnvironment(), make_catalog(), width=3, max_depth=5, max_model_calls=10
    ).run("q")
    assert len(policy.requests) == 10 and trajectory.counts.model_calls == 10
    assert trajectory.finish_type == "give_up" and not trajectory.succeeded
    assert trajectory.stop_reason == "model_budget" and trajectory.final_answer is None
    assert len(trajectory.chosen_path) == 6  # root + a 5-step path
    assert_well_formed(trajectory.messages, ends_with_finish=False)


async def test_the_api_call_budget_stops_the_search() -> None:
    policy = ScriptedPolicy(lambda request, depth: call("search_for_geo", {"q": "x"}))
    env = FakeEnvironment()
    trajectory = await DFSDTSearch(policy, env, make_catalog(), max_api_calls=3).run("q")
    assert len(env.calls) == 3 and trajectory.stop_reason == "api_budget"


async def test_give_up_prunes_the_parent_and_the_search_continues_at_the_grandparent() -> None:
    def script(request: ChatRequest, depth: int) -> ChatReply:
        last = request.messages[-1]
        diverse = last["role"] == "user" and DIVERSITY_HEAD in last["content"]
        if depth == 0:
            return call("current_for_weather") if diverse else call("search_for_geo", {"q": "a"})
        if request.messages[2]["tool_calls"][0]["function"]["name"] == "current_for_weather":
            return answer()
        if depth == 1:
            return give_up() if diverse else call("city_for_geo", {"id": "1"})
        return give_up()

    policy = ScriptedPolicy(script)
    trajectory = await DFSDTSearch(policy, FakeEnvironment(), make_catalog(), width=2).run("q")
    tree = tree_of(trajectory)
    depths = [sum(1 for m in r.messages if m["role"] == "assistant") for r in policy.requests]
    # root → search (d1) → city (d2) → give up (d3): city is pruned with it and the search goes on
    # at search (the give-up's grandparent, d1). There a give-up at depth 2 prunes search too, and
    # the next expansion is the root's other child.
    assert depths == [0, 1, 2, 1, 0, 1]
    search, city, first_give_up, second_give_up = (tree.nodes[i] for i in (1, 2, 3, 4))
    assert (search.name, city.name) == ("search_for_geo", "city_for_geo")
    assert first_give_up.parent == city.id and first_give_up.depth == 3 and first_give_up.status == "give_up"
    assert (
        second_give_up.parent == search.id
        and second_give_up.depth == 2
        and second_give_up.status == "give_up"
    )
    assert city.status == "pruned" and search.status == "pruned"
    assert len(search.children) == 2 and len(city.children) == 1
    assert len(tree.nodes[0].children) == 2 and trajectory.succeeded
    assert trajectory.counts.backtracks == 2
    assert [
        m["tool_calls"][0]["function"]["name"] for m in trajectory.messages if m["role"] == "assistant"
    ] == [
        "current_for_weather",
        "Finish",
    ]


async def test_the_diversity_prompt_lists_the_earlier_children() -> None:
    env = FakeEnvironment({"search": Observation(error="city not found", response="")})

    def script(request: ChatRequest, depth: int) -> ChatReply:
        if request.messages[-1]["role"] == "user" and DIVERSITY_HEAD in request.messages[-1]["content"]:
            return answer("second try")
        return call("search_for_geo", {"q": "Atlantis"}) if depth == 0 else give_up()

    policy = ScriptedPolicy(script)
    trajectory = await DFSDTSearch(policy, env, make_catalog()).run("q")
    assert trajectory.final_answer == "second try"
    # the give-up at depth 2 unwinds to the root, whose re-expansion lists the search child
    reexpansion = policy.requests[-1]
    assert reexpansion.sample_index == 1 and len(reexpansion.messages) == 3
    prompt = reexpansion.messages[-1]["content"]
    assert prompt.startswith(DIVERSITY_HEAD)
    listed = json.loads(prompt[prompt.index("[") : prompt.rindex("]") + 1])
    assert listed == [
        {
            "name": "search_for_geo",
            "arguments": json.dumps({"q": "Atlantis"}),
            "function_output": json.dumps({"error": "city not found", "response": ""}, separators=(",", ":")),
        }
    ]
    assert listed[0]["function_output"] == tree_of(trajectory).nodes[1].observation_text
    # the diversity message is sent, never kept in the path
    assert all(DIVERSITY_HEAD not in (m.get("content") or "") for m in trajectory.messages)


async def test_parse_errors_are_pruned_and_count_against_width() -> None:
    replies = iter([ChatReply(content="no call"), call("search_for_geo", raw="{not json")])
    policy = ScriptedPolicy(lambda request, depth: next(replies))
    env = FakeEnvironment()
    trajectory = await DFSDTSearch(policy, env, make_catalog(), width=2).run("q")
    tree = tree_of(trajectory)
    assert [tree.nodes[i].status for i in tree.nodes[0].children] == ["parse_error", "parse_error"]
    assert trajectory.counts.model_calls == 2 and env.calls == [] and not trajectory.succeeded
    assert trajectory.chosen_path == [0] and len(trajectory.messages) == 2
    # parse errors are not listed by the diversity prompt, and are no backtracks
    assert policy.requests[1].messages[-1]["role"] == "user" and len(policy.requests[1].messages) == 2
    assert trajectory.counts.backtracks == 0


async def test_an_unknown_function_gets_an_error_observation_and_is_kept() -> None:
    def script(request: ChatRequest, depth: int) -> ChatReply:
        return call("teleport_for_geo", {"to": "Mars"}) if depth == 0 else answer()

    env = FakeEnvironment()
    policy = ScriptedPolicy(script)
    trajectory = await DFSDTSearch(policy, env, make_catalog()).run("q")
    node = tree_of(trajectory).nodes[1]
    assert node.status == "error" and node.kind == "call" and node.tool_id is None
    assert json.loads(node.observation_text) == {
        "error": "No such function name: teleport_for_geo",
        "response": None,
    }
    assert env.calls == [] and trajectory.counts.api_calls == 0
    assert trajectory.succeeded and trajectory.chosen_path == [0, 1, 2]
    assert policy.requests[1].messages[-1]["role"] == "tool"


async def test_a_finish_without_an_answer_is_an_error_not_an_answer() -> None:
    def script(request: ChatRequest, depth: int) -> ChatReply:
        return (
            call("Finish", {"return_type": "give_answer", "final_answer": ""}) if depth == 0 else answer("ok")
        )

    trajectory = await DFSDTSearch(ScriptedPolicy(script), FakeEnvironment(), make_catalog()).run("q")
    assert tree_of(trajectory).nodes[1].status == "error" and trajectory.final_answer == "ok"


async def test_arguments_are_mapped_to_the_apis_names_and_observations_cut() -> None:
    long = Observation(response="x" * 5000)
    script = lambda request, depth: call("city_for_geo", {"is_id": "42"}) if depth == 0 else answer()
    env = FakeEnvironment({"city": long})
    trajectory = await DFSDTSearch(ScriptedPolicy(script), env, make_catalog(), observation_chars=100).run(
        "q"
    )
    assert env.calls[0][2] == {"id": "42"}
    node = tree_of(trajectory).nodes[1]
    assert node.observation_text == long.for_model(100) and len(node.observation["response"]) == 5000


# --------------------------------------------------------------------------------------------
# ReACT


async def test_react_is_a_single_chain() -> None:
    policy = ScriptedPolicy(
        lambda request, depth: call("search_for_geo", {"q": "x"}) if depth < 2 else answer()
    )
    trajectory = await ReActSearch(policy, FakeEnvironment(), make_catalog()).run("q")
    tree = tree_of(trajectory)
    assert trajectory.succeeded and trajectory.algorithm == "react"
    assert all(len(n.children) <= 1 for n in tree.nodes.values()) and len(tree.nodes) == 4
    assert_well_formed(trajectory.messages, ends_with_finish=True)


async def test_react_gives_up_without_restarts_and_restarts_when_allowed() -> None:
    def script(request: ChatRequest, depth: int) -> ChatReply:
        if request.sample_index == 0:
            return call("search_for_geo", {"q": "x"}) if depth == 0 else give_up()
        return answer("on restart")

    failed = await ReActSearch(ScriptedPolicy(script), FakeEnvironment(), make_catalog()).run("q")
    assert not failed.succeeded and failed.counts.model_calls == 2 and failed.stop_reason == "exhausted"
    assert_well_formed(failed.messages, ends_with_finish=True)  # the give-up path, marked failed
    restarted = await ReActSearch(ScriptedPolicy(script), FakeEnvironment(), make_catalog(), restarts=1).run(
        "q"
    )
    assert restarted.final_answer == "on restart" and restarted.counts.restarts == 1
    assert restarted.counts.backtracks == 0


async def test_react_stops_at_the_depth_limit() -> None:
    policy = ScriptedPolicy(lambda request, depth: call("search_for_geo", {"q": "x"}))
    trajectory = await ReActSearch(policy, FakeEnvironment(), make_catalog(), max_depth=3).run("q")
    assert trajectory.counts.model_calls == 3 and not trajectory.succeeded


# --------------------------------------------------------------------------------------------
# Integration: the offline policy and a real environment over the sandbox


async def test_offline_policy_answers_over_the_sandbox(tmp_path: Path) -> None:
    from pipeline.env.environment import open_environment
    from pipeline.llm.offline_policy import OfflinePolicy
    from pipeline.settings import load_settings
    from pipeline.specs.catalog import iter_tools
    from pipeline.specs.collect import collect_catalog

    specs = Path(__file__).resolve().parents[2] / "api_specs" / "sandbox"
    settings = load_settings(run_dir=tmp_path, collect={"workers": 0})
    await collect_catalog([str(specs)], settings, run_dir=tmp_path)
    tools = list(iter_tools(tmp_path))
    chosen = [t for t in tools if t.id.endswith("_geo") or t.id.endswith("_weather")]
    assert len(chosen) == 2, [t.id for t in tools]
    catalog = FunctionCatalog([(t, a) for t in chosen for a in t.api_list])
    async with open_environment(chosen, settings, run_dir=tmp_path) as environment:
        search = DFSDTSearch(OfflinePolicy(strict=True), environment, catalog)
        # The chained phrasing: for "What's the weather like in Lisbon right now?" the offline policy
        # fills lat/lon from the spec's examples (Paris) instead of looking Lisbon up first.
        trajectory = await search.run(
            "Search for the city Lisbon, then get the current weather there.", "lisbon"
        )
    assert trajectory.finish_type == "give_answer", json.dumps(trajectory.messages, indent=1)[:4000]
    assert trajectory.final_answer
    tree = tree_of(trajectory)
    path = [tree.nodes[i] for i in trajectory.chosen_path[1:]]
    assert path[-1].status == "answer"
    assert all(n.kind == "call" and n.status == "ok" and n.call_ok for n in path[:-1])
    assert [n.tool_id.split("_")[-1] for n in path[:-1] if n.tool_id] == ["geo", "weather"]
    weather = path[-2].observation
    assert weather is not None and weather["response"]["location"]["nearest_city"]["name"] == "Lisbon"
    assert_well_formed(trajectory.messages, ends_with_finish=True)
    assert trajectory.counts.api_calls >= 1
