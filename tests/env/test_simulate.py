"""The rule-based simulator: valid, plausible, argument-consistent and reproducible responses
from every kind of response description, and no failure on hostile schemas."""

from __future__ import annotations

import asyncio
import copy
import logging
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from pipeline.canonical import call_key, canonical_arguments, canonical_value
from pipeline.env.observation import Observation
from pipeline.env.simulate import (
    ResponseSimulator,
    Simulator,
    response_source,
    schema_from_template,
)
from pipeline.io import dumps, loads, read_jsonl
from pipeline.models import Api, SourceRef, Tool
from pipeline.settings import SimulationSettings, load_settings
from pipeline.specs.collect import collect_catalog

REPO = Path(__file__).resolve().parents[2]
FORMATS = Draft202012Validator.FORMAT_CHECKER  # "time" as RFC 3339 full-time


@pytest.fixture(scope="module")
def sandbox_tools(tmp_path_factory: pytest.TempPathFactory) -> list[Tool]:
    """The bundled sandbox specs, collected the way a run collects them."""
    run_dir = tmp_path_factory.mktemp("sim") / "run"
    settings = load_settings(run_dir=run_dir, collect={"workers": 0, "sources": [str(REPO / "api_specs/sandbox")]})
    asyncio.run(collect_catalog(None, settings, run_dir=run_dir))
    tools = [Tool.model_validate(record) for record in read_jsonl(run_dir / "catalog" / "tools.jsonl")]
    assert sum(len(tool.api_list) for tool in tools) >= 80
    return tools


def _api(tools: list[Tool], tool_id: str, api_id: str) -> tuple[Tool, Api]:
    tool = next(t for t in tools if t.id == tool_id)
    return tool, next(a for a in tool.api_list if a.id == api_id)


def _argument_sets(api: Api) -> list[dict[str, Any]]:
    """What a policy model might send: nothing, the documented examples, defaults, junk."""
    examples = {p.name: p.example for p in api.parameters if p.example is not None}
    defaults = {p.name: p.default for p in api.parameters if p.default not in ("", None)}
    return [
        {},
        examples,
        {**defaults, **{p.name: p.example for p in api.required_parameters if p.example is not None}},
        {p.name: "zzz" for p in api.parameters},
        {p.name: 7 for p in api.parameters},
        {p.name: None for p in api.parameters},
        {p.name: [1, "two"] for p in api.parameters},
    ]


def _tool(api: Api, tool_id: str = "demo_tool") -> Tool:
    return Tool(id=tool_id, tool_name="Demo Tool", source=SourceRef(kind="file", location="x", format="toolbench"),
                api_list=[api])


def _simulate(api: Api, arguments: dict[str, Any], **kwargs: Any) -> Any:
    observation = ResponseSimulator(SimulationSettings(), **kwargs).simulate(_tool(api), api, arguments)
    return observation.response


def _keys_anywhere(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | set().union(*(_keys_anywhere(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(_keys_anywhere(v) for v in value)) if value else set()
    return set()


# ---------------------------------------------------------------------------------------------
# schema-described APIs: every API of the sandbox catalog


def test_every_sandbox_api_gets_responses_that_validate_against_its_schema(sandbox_tools: list[Tool]) -> None:
    simulator = ResponseSimulator(SimulationSettings())
    checked = 0
    for tool in sandbox_tools:
        for api in tool.api_list:
            assert response_source(api) == "schema"
            validator = Draft202012Validator(api.response_schema, format_checker=FORMATS)
            for arguments in _argument_sets(api):
                observation = simulator.simulate(tool, api, arguments)
                assert (observation.mode, observation.error, observation.status, observation.cached) == (
                    "simulated", "", None, False)
                errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(observation.response)]
                assert not errors, f"{tool.id}/{api.id} with {arguments}: {errors[:3]}"
                checked += 1
    assert checked >= 84 * 7


def test_simulation_is_fast_on_typical_schemas(sandbox_tools: list[Tool]) -> None:
    simulator = ResponseSimulator(SimulationSettings())
    timings = []
    for tool in sandbox_tools:
        for api in tool.api_list:
            arguments = _argument_sets(api)[1]
            started = time.perf_counter()
            simulator.simulate(tool, api, arguments)
            timings.append(time.perf_counter() - started)
    assert statistics.median(timings) < 0.001  # measured ~0.25 ms on a 2-core laptop


def test_values_are_plausible_for_their_field_names(sandbox_tools: list[Tool]) -> None:
    tool, api = _api(sandbox_tools, "stay_finder_hotels", "get_hotel")
    hotel = ResponseSimulator().simulate(tool, api, {"hotel_id": "htl-1"}).response
    assert -90 <= hotel["lat"] <= 90 and -180 <= hotel["lon"] <= 180
    assert round(hotel["price_from"], 2) == hotel["price_from"]
    assert 0 <= hotel["rating"] <= 5
    assert len(hotel["currency"]) == 3 and hotel["currency"].isupper()
    assert hotel["phone"].startswith("+")
    tool, api = _api(sandbox_tools, "post_box_mail", "get_message")
    message = ResponseSimulator().simulate(tool, api, {"message_id": "msg-1"}).response
    assert all("@" in address for address in [message["from"], *message["to"]])
    assert message["date"].startswith("2025-")  # the fixed reference period, never the clock


# ---------------------------------------------------------------------------------------------
# determinism


def test_same_call_gives_the_same_response_across_simulator_instances(sandbox_tools: list[Tool]) -> None:
    first, second = ResponseSimulator(SimulationSettings(), seed=3), ResponseSimulator(SimulationSettings(), seed=3)
    for tool in sandbox_tools:
        for api in tool.api_list:
            for arguments in _argument_sets(api)[:3]:
                assert first.simulate(tool, api, arguments).response == second.simulate(tool, api, arguments).response


def test_responses_do_not_depend_on_the_process_or_its_hash_seed(
    sandbox_tools: list[Tool], tmp_path: Path
) -> None:
    tools_file = tmp_path / "tools.json"
    tools_file.write_bytes(dumps([tool.dump() for tool in sandbox_tools]))
    script = (
        "import sys, orjson\n"
        "from pipeline.models import Tool\n"
        "from pipeline.env.simulate import ResponseSimulator\n"
        "tools = [Tool.model_validate(t) for t in orjson.loads(open(sys.argv[1], 'rb').read())]\n"
        "sim = ResponseSimulator(seed=7)\n"
        "out = [sim.simulate(t, a, {'q': 'x', 'limit': 2}).response for t in tools for a in t.api_list]\n"
        "sys.stdout.buffer.write(orjson.dumps(out))\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    result = subprocess.run([sys.executable, "-c", script, str(tools_file)], capture_output=True, env=env,
                            check=True, timeout=120)
    simulator = ResponseSimulator(seed=7)
    here = [simulator.simulate(t, a, {"q": "x", "limit": 2}).response for t in sandbox_tools for a in t.api_list]
    assert loads(result.stdout) == loads(dumps(here))


def test_equal_arguments_in_another_spelling_give_the_same_response(sandbox_tools: list[Tool]) -> None:
    tool, api = _api(sandbox_tools, "city_atlas_geo", "search_cities")
    simulator = ResponseSimulator()
    one = simulator.simulate(tool, api, {"q": "Paris", "limit": 5}).response
    other = simulator.simulate(tool, api, {"limit": 5.0, "q": "Paris"}).response
    assert one == other


def test_different_arguments_or_seeds_give_different_responses(sandbox_tools: list[Tool]) -> None:
    simulator, reseeded = ResponseSimulator(seed=0), ResponseSimulator(seed=1)
    determined_by_the_call = []
    for tool in sandbox_tools:
        for api in tool.api_list:
            base = _argument_sets(api)[1]
            response = simulator.simulate(tool, api, base).response
            if all(ResponseSimulator(seed=s).simulate(tool, api, base).response == response for s in range(2, 6)):
                determined_by_the_call.append(api.id)  # e.g. {"deleted": true, "event_id": <echoed>}
                continue
            changed = {**base, "page_token": "another"}  # even an argument nothing echoes
            assert simulator.simulate(tool, api, changed).response != response, f"{tool.id}/{api.id}"
            assert reseeded.simulate(tool, api, base).response != response, f"{tool.id}/{api.id}"
    assert determined_by_the_call == ["delete_event"]


# ---------------------------------------------------------------------------------------------
# echo: the answer agrees with the call


def test_arguments_reappear_in_same_named_fields_of_the_records(sandbox_tools: list[Tool]) -> None:
    tool, api = _api(sandbox_tools, "city_atlas_geo", "search_cities")
    response = ResponseSimulator().simulate(tool, api, {"q": "Lyon", "country_code": "FR", "limit": 2, "offset": 4}).response
    assert response["limit"] == 2 and response["offset"] == 4
    assert len(response["results"]) == 2  # a page size shortens the list
    assert all(city["country_code"] == "FR" for city in response["results"])
    assert response["results"][0]["name"] == "Lyon"  # the search term names the first hit
    assert all(city["name"].startswith("Lyon") for city in response["results"])
    assert response["total"] >= 2 + 4


def test_a_single_id_argument_becomes_the_id_of_the_record(sandbox_tools: list[Tool]) -> None:
    tool, api = _api(sandbox_tools, "stay_finder_hotels", "get_hotel")
    assert ResponseSimulator().simulate(tool, api, {"hotel_id": "htl-42"}).response["id"] == "htl-42"
    tool, api = _api(sandbox_tools, "city_atlas_geo", "get_city")
    # a numeric string is coerced to the declared integer type
    assert ResponseSimulator().simulate(tool, api, {"city_id": "2988507"}).response["id"] == 2988507


def test_values_that_do_not_fit_the_field_are_not_echoed(sandbox_tools: list[Tool]) -> None:
    tool, api = _api(sandbox_tools, "sky_cast_weather", "get_current_weather")
    schema_units = api.response_schema["properties"]["units"]["enum"]
    response = ResponseSimulator().simulate(tool, api, {"lat": 48.85, "lon": 2.35, "units": "kelvin"}).response
    assert response["units"] in schema_units
    assert response["location"]["lat"] == 48.85 and response["location"]["lon"] == 2.35


def test_min_and_max_arguments_bound_the_numbers_of_the_records(sandbox_tools: list[Tool]) -> None:
    tool, api = _api(sandbox_tools, "stay_finder_hotels", "search_hotels")
    for seed in range(5):
        response = ResponseSimulator(seed=seed).simulate(
            tool, api, {"city_id": 1, "min_stars": 4, "max_price": 120}).response
        for hotel in response["results"]:
            assert hotel["stars"] >= 4 and hotel["price_from"] <= 120


def test_a_search_centre_is_not_copied_into_every_result(sandbox_tools: list[Tool]) -> None:
    tool, api = _api(sandbox_tools, "table_time_restaurants", "search_restaurants")
    response = ResponseSimulator().simulate(tool, api, {"lat": 48.8606, "lon": 2.3376}).response
    assert len({(r["lat"], r["lon"]) for r in response["results"]}) == len(response["results"])


def test_start_end_and_duration_agree(sandbox_tools: list[Tool]) -> None:
    tool, api = _api(sandbox_tools, "agenda_calendar", "create_event")
    arguments = {"title": "Review", "start": "2025-07-14T15:00:00Z", "end": "2025-07-14T16:30:00Z"}
    event = ResponseSimulator().simulate(tool, api, arguments).response
    assert (event["start"], event["end"], event["duration_minutes"]) == (arguments["start"], arguments["end"], 90)
    tool, api = _api(sandbox_tools, "agenda_calendar", "list_events")
    for event in ResponseSimulator().simulate(tool, api, {}).response["results"]:
        assert event["end"] > event["start"]


# ---------------------------------------------------------------------------------------------
# response_example, template_response, nothing


def test_a_response_example_is_used_and_adapted_to_the_arguments() -> None:
    example = {"id": 1, "city": "Paris", "temperature": 18.5, "units": "metric",
               "stations": [{"id": 1, "network": "synop"}, {"id": 2, "network": "synop"}]}
    api = Api(name="current", id="current", response_example=copy.deepcopy(example),
              response_schema={"type": "object", "properties": {"city": {"type": "integer"}}},
              template_response={"city": "int"})
    assert response_source(api) == "example"
    response = _simulate(api, {"city": "Lyon", "units": ["si"], "id": "7", "network": "metar"})
    assert response["city"] == "Lyon"
    assert response["units"] == "metric"  # a list does not fit a string field
    assert response["id"] == 7 and isinstance(response["id"], int)  # "7" coerced to the example's type
    assert [s["network"] for s in response["stations"]] == ["metar", "metar"]  # list items echo too
    assert [s["id"] for s in response["stations"]] == [1, 2]  # but ids keep telling them apart
    assert response["temperature"] == 18.5
    assert api.response_example == example  # adapted in a copy


def test_a_json_text_example_is_parsed_and_a_plain_text_one_kept() -> None:
    api = Api(name="echo", response_example='{"query": "x", "hits": 0}')
    assert _simulate(api, {"query": "cats"}) == {"query": "cats", "hits": 0}
    assert _simulate(Api(name="ping", response_example="pong"), {}) == "pong"


def test_the_schema_wins_over_the_template_and_the_template_over_nothing() -> None:
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}
    assert response_source(Api(name="a", response_schema=schema, template_response={"x": "str"})) == "schema"
    assert set(_simulate(Api(name="a", response_schema=schema, template_response={"x": "str"}), {})) == {"ok"}
    assert response_source(Api(name="a", response_schema={}, template_response={"x": "str"})) == "template"
    assert response_source(Api(name="a", response_schema={"description": "JSON"})) == "generic"


def test_a_template_response_is_filled_with_values_of_its_types_and_list_lengths() -> None:
    template = {
        "name": "str",
        "count": "int",
        "score": "float",
        "active": "bool",
        "deleted_at": "NoneType",
        "items": [{"id": "int", "title": "str", "tags": ["str"], "_list_length": 4}],
        "ingredients": ["list of str with length 5"],
        "meta": {"page": "int", "empty": []},
    }
    api = Api(name="listThings", id="list_things", template_response=template)
    assert response_source(api) == "template"
    response = _simulate(api, {"name": "Widget"})
    assert "_list_length" not in _keys_anywhere(response)
    assert response["name"] == "Widget"  # echo works on templates too
    assert isinstance(response["count"], int) and not isinstance(response["count"], bool)
    assert isinstance(response["score"], float) and isinstance(response["active"], bool)
    assert response["deleted_at"] is None
    assert len(response["items"]) == 4 and len(response["ingredients"]) == 5
    assert all(isinstance(item["id"], int) and isinstance(item["title"], str) for item in response["items"])
    assert all(len(item["tags"]) == SimulationSettings().list_length for item in response["items"])
    assert response["meta"]["empty"] == []
    Draft202012Validator(schema_from_template(template)).validate(response)


def test_toolbench_templates_from_the_wild_simulate_and_validate() -> None:
    templates = [
        {"statusCode": "int", "message": "str", "error": "str"},
        {"id": "str", "title": "str", "difficulty": "str", "ingredients": ["list of str with length 5"],
         "method": [{"Step 1": "str", "_list_length": 3}], "image": "str"},
        {"id": "str", "sport_key": "str", "commence_time": "str", "home_team": "str",
         "bookmakers": [{"key": "str", "last_update": "str", "markets": [{"key": "str", "outcomes": [
             {"name": "str", "price": "float", "_list_length": 2}], "_list_length": 1}], "_list_length": 1}]},
        {"success": "bool", "postakodu": [{"plaka": "int", "il": "str", "pk": "str", "_list_length": 975}]},
        [{"symbol": "str", "price": "float", "_list_length": 2}],
        ["str"],
        "str",
    ]
    for template in templates:
        api = Api(name="t", template_response=template)
        response = _simulate(api, {"symbol": "AAPL"})
        Draft202012Validator(schema_from_template(template)).validate(response)
    assert len(_simulate(Api(name="t", template_response=templates[3]), {})["postakodu"]) == 50  # capped
    assert [r["symbol"] for r in _simulate(Api(name="t", template_response=templates[4]), {"symbol": "AAPL"})] == [
        "AAPL", "AAPL"]


def test_an_api_with_no_response_description_gets_a_generic_acknowledgement() -> None:
    api = Api(name="deleteThing", id="delete_thing")
    assert response_source(api) == "generic"
    assert _simulate(api, {"thing_id": 3}) == {"message": "deleteThing completed", "arguments": {"thing_id": 3}}


# ---------------------------------------------------------------------------------------------
# hostile schemas


def _recursive_schema() -> dict[str, Any]:
    node: dict[str, Any] = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["child"]}
    node["properties"]["child"] = node  # a cycle, as a YAML alias can make
    return node


def _deep_schema(levels: int) -> dict[str, Any]:
    node: dict[str, Any] = {"type": "string"}
    for level in range(levels):
        node = {"type": "object", "properties": {f"l{level}": node}, "required": [f"l{level}"]}
    return node


# schemas a value can satisfy: the output must validate
SATISFIABLE: list[Any] = [
    {},
    True,
    {"type": "object"},
    {"type": "object", "properties": {"a": {}, "b": True}},
    {"type": "array", "items": {}},
    {"x-truncated": True},
    {"type": "object", "properties": {"deep": {"type": "object", "x-truncated": True}}, "x-truncated": True},
    {"type": "array", "x-truncated": True},
    {"description": "(recursive: Node)", "type": "object"},
    {"type": "string", "enum": [f"v{i}" for i in range(100_000)]},
    {"type": ["string", "null"], "enum": [None, "a"]},
    {"type": ["null", "integer"]},
    {"type": "null"},
    {"anyOf": [{"type": "null"}, {"type": "object", "properties": {"id": {"type": "integer"}}, "required": ["id"]}]},
    {"oneOf": [{"type": "string", "format": "date"}, {"type": "integer"}]},
    {"allOf": [{"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]},
               {"properties": {"b": {"type": "string", "minLength": 3}}, "required": ["b"]}]},
    {"type": "integer", "minimum": 5, "maximum": 5},
    {"type": "integer", "exclusiveMinimum": 0, "exclusiveMaximum": 2},
    {"type": "number", "exclusiveMinimum": 0.5, "exclusiveMaximum": 0.6},
    {"type": "number", "multipleOf": 0.1, "minimum": 1, "maximum": 2},
    {"type": "integer", "multipleOf": 7, "minimum": 100},
    {"type": "number", "minimum": 1e300},
    {"type": "integer", "maximum": -10**12},
    {"type": "string", "minLength": 40},
    {"type": "string", "maxLength": 2},
    {"type": "string", "pattern": "^[A-Z]{3}-\\d{4}$"},
    {"type": "string", "pattern": "^(foo|bar)+[0-9a-f]{8}$"},
    {"type": "string", "format": "uri"},
    {"type": "string", "format": "email"},
    {"type": "string", "format": "uuid"},
    {"type": "string", "format": "time"},
    {"type": "string", "format": "ipv4"},
    {"type": "string", "format": "date-time"},
    {"type": "object", "additionalProperties": {"type": "integer", "minimum": 3}},
    {"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": False},
    {"type": "object", "minProperties": 4},
    {"type": "object", "required": ["not_in_properties"]},
    {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "string", "format": "date"}], "minItems": 2},
    {"type": "array", "items": {"enum": ["a", "b"]}, "uniqueItems": True, "minItems": 2},
    {"type": "array", "minItems": 1000, "items": {"type": "object", "properties": {
        "id": {"type": "integer"}, "name": {"type": "string"}, "tags": {"type": "array", "items": {"type": "string"}}},
        "required": ["id"]}},
    {"type": "array", "items": {"type": "array", "items": {"type": "array", "items": {"type": "integer"}}}},
    _deep_schema(12),
    {"type": "object", "properties": {"p": {"type": "object", "properties": {f"f{i}": {"type": "string"} for i in range(300)}}}},
    {"const": {"fixed": [1, 2]}},
]

# schemas nothing (or nothing we can build) satisfies: the simulator must still answer
UNSATISFIABLE: list[Any] = [
    False,
    {"not": {}},
    {"type": "integer", "minimum": 10, "maximum": 1},
    {"type": "string", "minLength": 10, "maxLength": 2},
    {"type": "string", "pattern": "(?<=x)y[unclosed"},
    {"type": "string", "pattern": "^(?!abc).{3}(?<=z)$"},
    {"type": "array", "minItems": 10**9, "items": {"type": "integer"}},
    {"type": "array", "items": {"enum": ["a"]}, "uniqueItems": True, "minItems": 3},
    _recursive_schema(),
    _deep_schema(400),
    {"type": "number", "minimum": float("inf")},
    {"type": "number", "multipleOf": 1e-300, "minimum": 1},
    {"anyOf": []},
    {"allOf": [{"type": "string"}, {"type": "integer"}]},
    {"type": "unknowntype"},
    {"type": "object", "properties": {"odd": {"properties": []}, "x": {"enum": []}, "y": {"items": 3}}},
    {"type": 7, "properties": "nope", "required": "x", "items": [], "enum": "abc"},
]


@pytest.mark.timeout(10)  # a blow-up hangs; how fast it is belongs in benchmarks/, not in an assertion
@pytest.mark.parametrize("schema", SATISFIABLE, ids=lambda s: str(s)[:60])
def test_odd_but_satisfiable_schemas_give_valid_values(schema: Any, caplog: pytest.LogCaptureFixture) -> None:
    api = Api(name="odd", response_schema={"type": "object", "properties": {"value": schema}, "required": ["value"]})
    caplog.set_level(logging.WARNING)
    response = _simulate(api, {"value": "echo?"})
    assert not caplog.records  # generated, not the fallback after an internal error
    Draft202012Validator(api.response_schema, format_checker=FORMATS).validate(response)


@pytest.mark.timeout(10)  # a blow-up hangs; how fast it is belongs in benchmarks/, not in an assertion
@pytest.mark.parametrize("schema", UNSATISFIABLE, ids=lambda s: str(s)[:60])
def test_impossible_schemas_never_raise(schema: Any) -> None:
    for root in (schema, {"type": "object", "properties": {"value": schema}}):
        api = Api(name="odd")
        api.response_schema = root if isinstance(root, dict) else {"type": "object", "properties": {"v": root}}
        observation = ResponseSimulator().simulate(_tool(api), api, {"value": 1})
        assert observation.mode == "simulated" and observation.error == ""


@pytest.mark.parametrize("arguments", [None, "oops", [1, 2], {"deep": [[[{"x": 1}]]]}, {1: "int key"}])
def test_malformed_arguments_are_answered_too(arguments: Any) -> None:
    for api in (Api(name="a", response_schema={"type": "object", "properties": {"x": {"type": "integer"}}}),
                Api(name="b", template_response={"x": "int"}), Api(name="c", response_example={"x": 1}),
                Api(name="d")):
        observation = ResponseSimulator().simulate(_tool(api), api, arguments)
        assert observation.ok and observation.mode == "simulated"


def test_generation_is_bounded_by_the_node_budget() -> None:
    wide = {"type": "array", "minItems": 0, "items": {"type": "object", "properties": {
        f"f{i}": {"type": "array", "items": {"type": "string"}} for i in range(50)}}}
    api = Api(name="wide", response_schema={"type": "object", "properties": {"rows": wide}})
    response = ResponseSimulator(SimulationSettings(list_length=20)).simulate(_tool(api), api, {}).response
    strings = sum(len(v) for row in response["rows"] for v in row.values())
    assert strings <= 2000


# ---------------------------------------------------------------------------------------------
# the Simulator protocol


async def test_the_rule_based_simulator_satisfies_the_async_simulator_protocol() -> None:
    simulator = ResponseSimulator()
    assert isinstance(simulator, Simulator)
    api = Api(name="ping", template_response={"ok": "bool"})
    observation = await simulator.asimulate(_tool(api), api, {}, examples=[({}, Observation(response={"ok": True}))])
    assert observation == simulator.simulate(_tool(api), api, {}).model_copy(update={"elapsed_ms": observation.elapsed_ms})


# ---------------------------------------------------------------------------------------------
# canonical arguments


def test_canonical_arguments_ignore_key_order_at_every_depth() -> None:
    assert canonical_arguments({"b": 1, "a": {"y": [1, {"q": 2, "p": 3}], "x": None}}) == \
        canonical_arguments({"a": {"x": None, "y": [1, {"p": 3, "q": 2}]}, "b": 1})


def test_numbers_compare_by_value_but_booleans_are_not_numbers() -> None:
    assert canonical_arguments({"n": 5}) == canonical_arguments({"n": 5.0})
    assert canonical_arguments({"n": [0.0, -0.0]}) == canonical_arguments({"n": [0, 0]})
    assert canonical_arguments({"n": 0.1 + 0.2}) != canonical_arguments({"n": 0.3})
    assert canonical_arguments({"n": True}) != canonical_arguments({"n": 1})
    assert canonical_arguments({"n": "5"}) != canonical_arguments({"n": 5})
    assert canonical_arguments({"n": 2**70}) != canonical_arguments({"n": str(2**70)})
    assert canonical_arguments({"n": float("nan")}) != canonical_arguments({"n": None})


def test_strings_are_kept_apart_unless_they_are_the_same_text() -> None:
    assert canonical_arguments({"q": "Paris"}) != canonical_arguments({"q": " Paris"})
    assert canonical_arguments({"q": "Paris"}) != canonical_arguments({"q": "paris"})
    assert canonical_arguments({"q": "Caf\u00e9"}) == canonical_arguments({"q": "Cafe\u0301"})  # NFC


def test_missing_null_and_empty_arguments() -> None:
    assert canonical_arguments(None) == canonical_arguments({}) == "{}"
    assert canonical_arguments({"units": None}) != canonical_arguments({})
    assert canonical_arguments({"ids": [1, 2]}) != canonical_arguments({"ids": [2, 1]})
    assert canonical_value((1, 2)) == [1, 2]


def test_non_json_arguments_are_refused_rather_than_guessed() -> None:
    with pytest.raises(TypeError):
        canonical_arguments({"when": object()})
    with pytest.raises(ValueError):
        deep: Any = 1
        for _ in range(100):
            deep = [deep]
        canonical_arguments({"x": deep})


def test_call_keys_name_tool_api_and_arguments() -> None:
    key = call_key("weather", "current", {"city": "Paris", "days": 3})
    assert len(key) == 64 and int(key, 16) >= 0
    assert key == call_key("weather", "current", {"days": 3.0, "city": "Paris"})
    assert key != call_key("weather", "forecast", {"city": "Paris", "days": 3})
    assert key != call_key("weather2", "current", {"city": "Paris", "days": 3})
    assert call_key("a", "b|c", {}) != call_key("a|b", "c", {})
