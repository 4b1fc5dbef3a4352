"""Sampling API sets for instruction generation: groups, feeding links, determinism, limits."""

from __future__ import annotations

import asyncio
from pathlib import Path

import networkx as nx
import pytest

from pipeline.generate.sampling import (
    ApiSet,
    SamplingSettings,
    api_set_id,
    feeding_links,
    sample_api_sets,
)
from pipeline.models import Api, Param, SourceRef, Tool
from pipeline.settings import load_settings
from pipeline.specs.catalog import iter_tools, load_graph
from pipeline.specs.collect import collect_catalog
from pipeline.specs.graph import build_graph, summarise

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Tool], nx.DiGraph]:
    tmp_path = tmp_path_factory.mktemp("sandbox-catalog")
    settings = load_settings(
        run_dir=tmp_path / "run",
        collect={"workers": 0, "sources": [str(REPO / "api_specs" / "sandbox")]},
    )
    asyncio.run(collect_catalog(None, settings))  # once per module: a sync fixture owns its loop
    return list(iter_tools(settings.run_dir)), load_graph(settings.run_dir)


def sample(sandbox: tuple[list[Tool], nx.DiGraph], **options: object) -> tuple[list[ApiSet], dict[str, str]]:
    tools, graph = sandbox
    return sample_api_sets(tools, graph, SamplingSettings(**options))


def by_group(sets: list[ApiSet], group: str) -> list[ApiSet]:
    return [s for s in sets if s.group == group]


def make_tool(tool_id: str, category: str, apis: list[Api]) -> Tool:
    source = SourceRef(kind="file", location=f"{tool_id}.json", format="openapi-3.0")
    return Tool(id=tool_id, tool_name=tool_id, category=category, source=source, api_list=apis)


# --- groups --------------------------------------------------------------------------------


def test_g1_sets_are_one_tool_with_all_its_apis(sandbox) -> None:
    tools = {t.id: t for t in sandbox[0]}
    sets, reasons = sample(sandbox, per_group={"G1": 5})

    assert reasons == {}
    assert len(sets) == 5 and {s.group for s in sets} == {"G1"}
    for api_set in sets:
        assert len(api_set.tools) == 1
        tool = tools[api_set.tools[0]]
        assert sorted(a for _, a in api_set.apis) == sorted(a.id for a in tool.api_list)
        assert api_set.category == tool.category


def test_g1_caps_a_huge_tools_api_list(sandbox) -> None:
    sets, _ = sample(sandbox, per_group={"G1": 100}, max_apis_g1=4)
    tools = {t.id: t for t in sandbox[0]}

    assert len(sets) == len(tools)  # one set per tool, no more
    for api_set in sets:
        assert len(api_set.apis) == min(4, len(tools[api_set.tools[0]].api_list))


def test_g2_sets_are_two_to_five_tools_of_one_category_with_at_most_three_apis_each(sandbox) -> None:
    tools = {t.id: t for t in sandbox[0]}
    sets, reasons = sample(sandbox, per_group={"G2": 15})

    assert "G2" not in reasons
    assert sets and all(s.group == "G2" for s in sets)
    for api_set in sets:
        assert 2 <= len(api_set.tools) <= 5
        assert {tools[t].category for t in api_set.tools} == {api_set.category}
        per_tool = [sum(1 for tool, _ in api_set.apis if tool == t) for t in api_set.tools]
        assert all(1 <= n <= 3 for n in per_tool)


def test_g3_sets_are_two_to_five_tools_of_one_collection(sandbox) -> None:
    tools, graph = sandbox
    category = {t.id: t.category for t in tools}
    sets, reasons = sample(sandbox, per_group={"G3": 15})

    assert "G3" not in reasons
    assert len(sets) == 15 and all(s.group == "G3" for s in sets)
    for api_set in sets:
        members = {t.removeprefix("tool:") for t in graph.successors(f"collection:{api_set.collection}")}
        assert 2 <= len(api_set.tools) <= 5
        assert set(api_set.tools) <= members
        assert all(sum(1 for tool, _ in api_set.apis if tool == t) <= 3 for t in api_set.tools)
    assert any(len({category[t] for t in s.tools}) > 1 for s in sets)  # collections span categories


# --- determinism and uniqueness ------------------------------------------------------------


def test_the_same_seed_gives_the_same_sets_and_another_seed_different_ones(sandbox) -> None:
    first, _ = sample(sandbox, seed=3)
    again, _ = sample(sandbox, seed=3)
    other, _ = sample(sandbox, seed=4)

    assert [s.model_dump() for s in first] == [s.model_dump() for s in again]
    assert [s.id for s in first] != [s.id for s in other]


def test_no_two_sets_share_an_id_and_ids_depend_only_on_group_and_apis(sandbox) -> None:
    sets, _ = sample(sandbox, per_group={"G1": 20, "G2": 20, "G3": 20})

    assert len({s.id for s in sets}) == len(sets)
    for api_set in sets:
        assert api_set.id == api_set_id(api_set.group, reversed(api_set.apis))
    assert api_set_id("G2", [("a", "x")]) != api_set_id("G3", [("a", "x")])


@pytest.mark.timeout(60)  # a hang fails here; speed itself is not a unit test's business
def test_asking_for_more_sets_than_exist_returns_what_exists_without_hanging(sandbox) -> None:
    tools, graph = sandbox
    # Finance has two tools: with every API kept there is exactly one G2 set of that category
    finance = [t for t in tools if t.category == "Finance"]
    settings = SamplingSettings(per_group={"G1": 50, "G2": 1000, "G3": 1000}, max_apis_per_tool=50)

    sets, reasons = sample_api_sets(finance, graph, settings)

    assert len(by_group(sets, "G1")) == 2
    assert len(by_group(sets, "G2")) == 1
    assert 1 <= len(by_group(sets, "G3")) <= 1000
    assert "G1" not in reasons and "G2" not in reasons


# --- small and odd catalogs ----------------------------------------------------------------


def test_a_single_tool_catalog_gives_g1_only_and_says_why_not_g2_g3() -> None:
    tool = make_tool("solo", "Data", [Api(name="ping", id="ping"), Api(name="pong", id="pong")])
    graph = build_graph([summarise(tool)], [])

    sets, reasons = sample_api_sets([tool], graph, SamplingSettings())

    assert [s.group for s in sets] == ["G1"]
    assert sets[0].apis == [("solo", "ping"), ("solo", "pong")]
    assert reasons == {
        "G2": "G2: no category has 2 or more tools",
        "G3": "G3: no collection with 2 or more tools",
    }


def test_tools_without_parameters_and_a_one_tool_category_are_handled() -> None:
    tools = [
        make_tool("a", "Data", [Api(name="list", id="list")]),
        make_tool("b", "Data", [Api(name="all", id="all")]),
        make_tool("c", "Weather", [Api(name="now", id="now")]),
    ]
    graph = build_graph([summarise(t) for t in tools], [])

    sets, reasons = sample_api_sets(tools, graph, SamplingSettings(per_group={"G1": 5, "G2": 5}))

    assert len(by_group(sets, "G1")) == 3
    assert [s.tools for s in by_group(sets, "G2")] == [["a", "b"]]  # Weather has one tool
    assert by_group(sets, "G2")[0].feeding_links == 0
    assert reasons == {}


def test_an_empty_catalog_says_so_for_each_group() -> None:
    sets, reasons = sample_api_sets([], nx.DiGraph(), SamplingSettings())

    assert sets == []
    assert set(reasons) == {"G1", "G2", "G3"}
    assert all("catalog is empty" in reason for reason in reasons.values())


def test_max_tools_below_min_tools_is_rejected() -> None:
    with pytest.raises(ValueError):
        SamplingSettings(min_tools=4, max_tools=3)


# --- feeding links -------------------------------------------------------------------------


def test_known_sandbox_links_are_detected(sandbox) -> None:
    tools, _ = sandbox
    links = {
        (l.source, l.target, l.field) for l in feeding_links([(t, a) for t in tools for a in t.api_list])
    }

    assert (("city_atlas_geo", "search_cities"), ("stay_finder_hotels", "search_hotels"), "city_id") in links
    assert (("city_atlas_geo", "get_city"), ("sky_cast_weather", "get_forecast"), "lat") in links
    assert (("city_atlas_geo", "get_city"), ("sky_cast_weather", "get_forecast"), "lon") in links
    assert (("reel_base_movies", "get_movie"), ("cine_tix_showtimes", "list_showtimes"), "movie_id") in links
    # paging and other generic names link nothing
    assert not any(field in {"page", "per_page", "limit", "offset", "q", "sort"} for _, _, field in links)


def test_an_id_feeds_an_entity_id_only_when_the_tool_or_api_names_that_entity() -> None:
    def returns_id(tool_id: str, api_id: str) -> tuple[Tool, Api]:
        api = Api(name=api_id, id=api_id, template_response={"results": [{"id": "int"}]})
        return make_tool(tool_id, "Data", [api]), api

    hotel_api = Api(
        name="search_hotels",
        id="search_hotels",
        required_parameters=[Param(name="city_id"), Param(name="page")],
    )
    hotels = make_tool("hotels", "Travel", [hotel_api])

    linked = feeding_links([returns_id("atlas", "search_cities"), (hotels, hotel_api)])
    unrelated = feeding_links([returns_id("atlas", "search_rivers"), (hotels, hotel_api)])

    assert [(l.source, l.target, l.field) for l in linked] == [
        (("atlas", "search_cities"), ("hotels", "search_hotels"), "city_id")
    ]
    assert unrelated == []


def test_preferring_feeding_apis_raises_the_mean_number_of_links(sandbox) -> None:
    def mean_links(prefer: bool) -> float:
        counts = []
        for seed in range(3):
            sets, _ = sample(sandbox, per_group={"G2": 20, "G3": 30}, prefer_feeding=prefer, seed=seed)
            counts.extend(s.feeding_links for s in sets)
        return sum(counts) / len(counts)

    assert mean_links(True) > mean_links(False)


def test_each_group_draws_independently_of_the_others_counts(sandbox) -> None:
    few, _ = sample(sandbox, per_group={"G1": 1, "G2": 5, "G3": 5})
    many, _ = sample(sandbox, per_group={"G1": 9, "G2": 5, "G3": 5})

    assert [s.id for s in few if s.group != "G1"] == [s.id for s in many if s.group != "G1"]
