"""The writer prompt: task description, three seeds by group, the sampled APIs' documentation."""

from __future__ import annotations

from pipeline.generate.prompt import DOCS_START, build_writer_messages, read_documentation
from pipeline.generate.sampling import ApiSet
from pipeline.generate.seeds import MULTI_TOOL_SEEDS, SINGLE_TOOL_SEEDS, choose_seeds
from pipeline.models import Api, Param, SourceRef, Tool


def tool(tool_id: str, apis: list[Api], description: str = "A tool.") -> Tool:
    return Tool(id=tool_id, tool_name=tool_id.title(), tool_description=description, category="Travel",
                source=SourceRef(kind="file", location="x.json", format="openapi-3.0"), api_list=apis)


WEATHER = tool("weather", [
    Api(name="getForecast", id="get_forecast", description="Forecast for a city.",
        required_parameters=[Param(name="city", type="STRING", required=True, example="Oslo")],
        optional_parameters=[Param(name="units", enum=["metric", "imperial"], default="metric")]),
    Api(name="ping", id="ping", description=""),
])
HOTELS = tool("hotels", [Api(name="searchHotels", id="search_hotels", description="Hotels in a city.",
                             required_parameters=[Param(name="city", required=True)])], description="")


def api_set(group: str, apis: list[tuple[str, str]]) -> ApiSet:
    return ApiSet(id=f"{group}-x", group=group, apis=apis, tools=sorted({t for t, _ in apis}))


def test_seed_pools_are_big_enough_and_choice_is_deterministic() -> None:
    assert len(SINGLE_TOOL_SEEDS) >= 12 and len(MULTI_TOOL_SEEDS) >= 12
    assert all(len({t for t, _ in s.relevant_apis}) == 1 for s in SINGLE_TOOL_SEEDS)
    assert all(len({t for t, _ in s.relevant_apis}) >= 2 for s in MULTI_TOOL_SEEDS)
    assert choose_seeds("G2", "k") == choose_seeds("G2", "k")
    assert {s.query for s in choose_seeds("G1", "k")} <= {s.query for s in SINGLE_TOOL_SEEDS}
    assert len({tuple(s.query for s in choose_seeds("G3", str(i))) for i in range(10)}) > 1


def test_prompt_has_rules_three_seeds_and_the_api_docs() -> None:
    tools = {"weather": WEATHER, "hotels": HOTELS}
    messages = build_writer_messages(api_set("G2", [("hotels", "search_hotels"), ("weather", "get_forecast")]),
                                     tools, count=7)
    prompt = messages[-1]["content"]
    assert "Write exactly 7 instructions" in prompt and "2-5" in prompt
    assert "Do not ask which API" in prompt and "Vary the tone" in prompt
    assert prompt.count("Output item:") == 3
    assert sum(seed.query in prompt for seed in MULTI_TOOL_SEEDS) == 3
    assert not any(seed.query in prompt for seed in SINGLE_TOOL_SEEDS)
    assert DOCS_START in prompt and '"relevant APIs"' in prompt
    docs = read_documentation(messages)
    assert docs is not None and docs.count == 7 and docs.group == "G2"
    forecast = next(a for a in docs.apis if a["api_name"] == "getForecast")
    assert forecast["tool_name"] == "Weather" and forecast["api_description"] == "Forecast for a city."
    assert forecast["required_parameters"] == [{"name": "city", "type": "STRING", "example": "Oslo"}]
    assert forecast["optional_parameters"][0]["enum"] == ["metric", "imperial"]
    assert forecast["optional_parameters"][0]["default"] == "metric"


def test_g1_prompt_uses_single_tool_seeds_and_handles_empty_descriptions() -> None:
    messages = build_writer_messages(api_set("G1", [("weather", "get_forecast"), ("weather", "ping")]),
                                     {"weather": WEATHER}, count=3)
    prompt = messages[-1]["content"]
    assert sum(seed.query in prompt for seed in SINGLE_TOOL_SEEDS) == 3
    docs = read_documentation(messages)
    assert docs is not None
    ping = next(a for a in docs.apis if a["api_name"] == "ping")
    assert ping["api_description"] == "" and ping["required_parameters"] == []
