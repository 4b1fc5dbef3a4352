"""The offline rule-based writer: answers a writer prompt with parseable, grounded JSON."""

from __future__ import annotations

import json

import pytest

from pipeline.generate.offline_writer import OfflineInstructionWriter
from pipeline.generate.parse import allowed_apis, check_relevant_apis, parse_instructions
from pipeline.generate.prompt import build_writer_messages
from pipeline.generate.sampling import ApiSet
from pipeline.llm.types import ChatRequest, ModelError
from pipeline.models import Api, Param, SourceRef, Tool


def tool(tool_id: str, apis: list[Api], category: str = "Travel") -> Tool:
    return Tool(id=tool_id, tool_name=tool_id.title(), category=category,
                source=SourceRef(kind="file", location="x.json", format="openapi-3.0"), api_list=apis)


CITIES = tool("cities", [Api(name="searchCities", id="search_cities", description="Search cities by name. Returns ids.",
                             required_parameters=[Param(name="q", required=True, example="Porto")],
                             template_response={"results": [{"id": "str", "name": "str"}]})])
HOTELS = tool("hotels", [
    Api(name="searchHotels", id="search_hotels", description="Search hotels in a city.",
        required_parameters=[Param(name="city_id", required=True)],
        optional_parameters=[Param(name="stars", type="NUMBER", enum=[3, 4, 5])]),
    Api(name="noParams", id="no_params", description=""),
])


def request(api_set: ApiSet, tools: dict[str, Tool], count: int = 6, **options) -> ChatRequest:
    return ChatRequest(role="writer", messages=build_writer_messages(api_set, tools, count=count), **options)


async def test_multi_tool_reply_parses_and_follows_feeding_links() -> None:
    tools = {"cities": CITIES, "hotels": HOTELS}
    api_set = ApiSet(id="G2-a", group="G2", apis=[("cities", "search_cities"), ("hotels", "search_hotels")],
                     tools=["cities", "hotels"])
    reply = await OfflineInstructionWriter().chat(request(api_set, tools))
    items, problems = parse_instructions(reply.content or "")
    assert len(items) == 6 and problems == []
    allowed = allowed_apis([CITIES, tool("hotels", [HOTELS.api_list[0]])])
    for item in items:
        resolved, why = check_relevant_apis(item, allowed)
        assert why is None and resolved is not None and len({t for t, _ in resolved}) == 2
    chained = [i for i in items if "city id" in i.query and "Porto" in i.query]
    assert chained, [i.query for i in items]
    assert reply.usage.prompt_tokens > 0 and reply.model == "offline-rule-writer"


async def test_deterministic_and_varied_by_sample_index() -> None:
    tools = {"hotels": HOTELS}
    api_set = ApiSet(id="G1-h", group="G1", apis=[("hotels", "no_params"), ("hotels", "search_hotels")],
                     tools=["hotels"])
    writer = OfflineInstructionWriter()
    first = await writer.chat(request(api_set, tools))
    again = await writer.chat(request(api_set, tools))
    other = await writer.chat(request(api_set, tools, sample_index=1))
    assert first.content == again.content and first.content != other.content
    items = json.loads(first.content or "")
    assert all(q["query"] and q["relevant APIs"] for q in items)
    assert any("no params" in q["query"] for q in items)  # empty description: humanised name


async def test_one_api_tool_and_other_roles() -> None:
    api_set = ApiSet(id="G1-c", group="G1", apis=[("cities", "search_cities")], tools=["cities"])
    reply = await OfflineInstructionWriter().chat(request(api_set, {"cities": CITIES}, count=2))
    items = json.loads(reply.content or "")
    assert [q["relevant APIs"] for q in items] == [[["Cities", "searchCities"]]] * 2
    assert "'Porto'" in items[0]["query"]
    with pytest.raises(ModelError):
        await OfflineInstructionWriter().chat(ChatRequest(role="policy", messages=[]))
    unknown = await OfflineInstructionWriter().chat(ChatRequest(role="writer", messages=[{"role": "user", "content": "hi"}]))
    assert parse_instructions(unknown.content or "")[0] == []
