"""The grounding check: each argument must come from the instruction, an earlier result, the schema
or be a free value; an ungrounded required argument rejects the sample."""

from __future__ import annotations

import string
from typing import Any

from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from pipeline.verify.checks import check_path_grounding, path_calls
from pipeline.verify.grounding import (
    Evidence,
    GroundingCall,
    argument_source,
    check_grounding,
    is_free,
    normalise,
)

from .test_funnel import JUDGE, verdict
from .trajectories import LISBON, SUNNY, record, step

RESTAURANTS = {
    "searchrestaurants_for_tabletime": {
        "type": "object",
        "properties": {"city_id": {"type": "integer"}, "max_price_level": {"type": "integer"},
                       "sort": {"type": "string", "enum": ["rating", "price"], "default": "rating"},
                       "per_page": {"type": "integer"}},
        "required": ["city_id"],
    },
    "getmenu_for_tabletime": {
        "type": "object",
        "properties": {"restaurant_id": {"type": "string", "example_value": "rst-2988507-01"},
                       "lang": {"type": "string"}},
        "required": ["restaurant_id"],
    },
}
SEARCH = GroundingCall("searchrestaurants_for_tabletime", {"city_id": 2988507, "max_price_level": 3, "sort": "rating"},
                       observation={"results": [{"id": "rst-2988507-04", "name": "Café des Arts"}], "total": 1})
QUERY = "Please search restaurants in a city (city id 2988507, max price level 3), and with the restaurant id " \
        "from that result, get the menu."


def test_the_prompts_begin_is_an_ungrounded_required_argument_and_fails() -> None:
    result = check_grounding(QUERY, [SEARCH, GroundingCall("getmenu_for_tabletime", {"restaurant_id": "Begin"})],
                             RESTAURANTS)
    assert not result.passed
    assert result.reasons == ["ungrounded required argument restaurant_id='Begin' of getmenu_for_tabletime (call 2)"]
    assert [(f.argument, f.required) for f in result.flagged] == [("restaurant_id", True)]
    assert result.arguments == 4 and result.grounded == 3


def test_values_from_the_instruction_an_earlier_result_and_the_schema_are_grounded() -> None:
    menu = GroundingCall("getmenu_for_tabletime", {"restaurant_id": "rst-2988507-04"})
    result = check_grounding(QUERY, [SEARCH, menu], RESTAURANTS)
    assert result.passed and not result.flagged
    # city id and price level from the query, the sort from the enum, the id from the search's result
    assert result.sources == {"instruction": 2, "observation": 1, "schema": 1}


def test_an_id_counts_only_from_results_that_came_before_the_call() -> None:
    menu = GroundingCall("getmenu_for_tabletime", {"restaurant_id": "rst-2988507-04"})
    assert not check_grounding(QUERY, [menu, SEARCH], RESTAURANTS).passed


def test_an_ungrounded_optional_argument_is_flagged_but_passes() -> None:
    menu = GroundingCall("getmenu_for_tabletime", {"restaurant_id": "rst-2988507-04", "lang": "klingon"})
    result = check_grounding(QUERY, [SEARCH, menu], RESTAURANTS)
    assert result.passed and not result.reasons
    assert [(f.call, f.argument, f.value, f.required) for f in result.flagged] == [(2, "lang", "'klingon'", False)]


def test_documented_example_and_free_values_are_grounded() -> None:
    calls = [GroundingCall("searchrestaurants_for_tabletime", {"city_id": 2988507, "per_page": 20}),
             GroundingCall("getmenu_for_tabletime", {"restaurant_id": "rst-2988507-01"})]
    result = check_grounding(QUERY, calls, RESTAURANTS)
    assert result.passed and result.sources == {"instruction": 1, "schema": 1, "free": 1}


def test_case_accents_punctuation_and_written_dates_do_not_matter() -> None:
    told = Evidence.of_text("Find cafés near the Gare du Nord on June 2, 2025 for 2 adults, budget 1,250 EUR.")
    assert told.holds("gare du nord") and told.holds("Cafes") and told.holds("eur")
    assert told.holds(1250) and told.holds("1250")
    assert told.holds_date("2025-06-02") and not told.holds_date("2025-06-03")
    assert not told.holds("Begin") and not told.holds("Nord Express") and not told.holds(3)


def test_a_list_is_grounded_when_each_item_is() -> None:
    told = Evidence.of_text("Compare AAPL and MSFT.")
    observed = Evidence()
    spec: dict[str, Any] = {"type": "array", "items": {"type": "string"}}
    assert argument_source(["AAPL", "MSFT"], parameter="symbols", spec=spec, instruction=told,
                           observed=observed) == "instruction"
    assert argument_source(["AAPL", "GOOG"], parameter="symbols", spec=spec, instruction=told,
                           observed=observed) is None
    assert argument_source([], parameter="symbols", spec=spec, instruction=told, observed=observed) == "free"


def test_paging_sizes_are_free_only_for_paging_parameters() -> None:
    assert is_free(1, "page") and is_free(10, "limit") and is_free(50, "perPage") and is_free(True, "x")
    assert not is_free(50, "city_id") and not is_free(2988507, "limit") and not is_free("Lisbon", "city")


async def test_the_funnel_rejects_a_made_up_required_argument_with_the_reason() -> None:
    rec = record([step("geocode_for_cityatlas", {"name": "Begin"}, LISBON),
                  step("current_for_weather", {"lat": 38.72, "lon": -9.14}, SUNNY)])
    result = await verdict(rec)
    assert not result.passed and result.failed_at == "grounding"
    assert result.reasons == ["ungrounded required argument name='Begin' of geocode_for_cityatlas (call 1)"]
    assert result.reason_kinds == ["grounding: ungrounded required argument"]


async def test_an_accepted_sample_carries_its_flagged_optional_arguments() -> None:
    rec = record([step("geocode_for_cityatlas", {"name": "Lisbon"}, LISBON),
                  step("current_for_weather", {"lat": 38.72, "lon": -9.14, "station": "XK-99"}, SUNNY)])
    result = await verdict(rec)
    assert result.passed and result.grounding is not None
    assert [(f.argument, f.required) for f in result.grounding.flagged] == [("station", False)]


async def test_grounding_can_be_only_flagged_or_off() -> None:
    from pipeline.verify.stage import verify_record

    rec = record([step("geocode_for_cityatlas", {"name": "Begin"}, LISBON),
                  step("current_for_weather", {"lat": 38.72, "lon": -9.14}, SUNNY)])
    flagged = await verify_record(rec, JUDGE, grounding="flag")
    assert flagged.passed and flagged.grounding is not None and flagged.grounding.flagged[0].value == "'Begin'"
    off = await verify_record(rec, JUDGE, grounding="off")
    assert off.passed and off.grounding is None
    assert "grounding" not in off.model_dump()


def test_the_path_adapter_reads_results_not_status_codes() -> None:
    rec = record([step("geocode_for_cityatlas", {"name": "Lisbon"}, {**LISBON, "status": 200}),
                  step("current_for_weather", {"lat": 38.72, "lon": 200}, SUNNY)])
    result = check_path_grounding(rec, path_calls(rec))
    assert [f.argument for f in result.flagged] == ["lon"]


# --- properties ---------------------------------------------------------------------------------

_words = st.text(alphabet=string.ascii_letters, min_size=3, max_size=12)
_floats = st.floats(-1e6, 1e6, allow_nan=False).map(lambda f: round(f, 4))  # written without an exponent
_scalars = st.one_of(st.integers(-10**9, 10**9), _floats, _words, st.booleans(), st.none())


@settings(max_examples=150, deadline=None)
@given(value=_scalars, before=st.text(max_size=40), after=st.text(max_size=40))
def test_a_value_written_in_the_instruction_is_grounded(value: Any, before: str, after: str) -> None:
    instruction = f"{before} {value} {after}"
    result = check_grounding(instruction, [GroundingCall("f", {"x": value})],
                             {"f": {"type": "object", "properties": {"x": {}}, "required": ["x"]}})
    assert result.passed and not result.flagged


@settings(max_examples=150, deadline=None)
@given(value=st.one_of(st.integers(), _words, st.lists(_words, max_size=4)),
       observation=st.recursive(st.one_of(_scalars), lambda inner: st.lists(inner, max_size=3)
                                | st.dictionaries(_words, inner, max_size=3), max_leaves=8))
def test_a_value_an_earlier_call_returned_is_grounded(value: Any, observation: Any) -> None:
    returned = {"results": [observation, {"id": value}]}
    calls = [GroundingCall("search", {}, observation=returned), GroundingCall("get", {"id": value})]
    schemas = {"get": {"type": "object", "properties": {"id": {}}, "required": ["id"]}}
    assert check_grounding("", calls, schemas).passed


@settings(max_examples=150, deadline=None)
@given(instruction=st.text(alphabet=string.ascii_lowercase + " ,.", max_size=80),
       made_up=st.text(alphabet=string.ascii_uppercase, min_size=4, max_size=10))
def test_a_word_found_nowhere_is_flagged_and_a_required_one_fails(instruction: str, made_up: str) -> None:
    assume(made_up.lower() not in instruction.replace(",", " ").replace(".", " ").split())
    schemas = {"f": {"type": "object", "properties": {"a": {}, "b": {}}, "required": ["a"]}}
    result = check_grounding(instruction, [GroundingCall("f", {"a": made_up, "b": made_up})], schemas)
    assert not result.passed and len(result.reasons) == 1
    assert [(f.argument, f.required) for f in result.flagged] == [("a", True), ("b", False)]
    assert result.grounded + len(result.flagged) == result.arguments == 2


@example(text="𝕊")  # NFKD makes it an upper-case S, so case must be folded after it
@settings(max_examples=100, deadline=None)
@given(text=st.text(max_size=60))
def test_normalising_is_idempotent_and_case_blind(text: str) -> None:
    once = normalise(text)
    assert normalise(once) == once
    assert normalise(text.lower()) == normalise(text.casefold())


_json = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                     max_leaves=10)


@settings(max_examples=150, deadline=None)
@given(arguments=st.dictionaries(st.text(max_size=8), _json, max_size=4), spec=st.dictionaries(
    st.sampled_from(["enum", "default", "example", "examples", "items", "type"]), _json, max_size=4),
       observation=_json, instruction=st.text(max_size=60))
def test_any_json_arguments_schema_and_observation_give_a_verdict(
        arguments: dict[str, Any], spec: dict[str, Any], observation: Any, instruction: str) -> None:
    schema = {"type": "object", "properties": {name: spec for name in arguments}, "required": list(arguments)[:1]}
    calls = [GroundingCall("f", {}, observation=observation), GroundingCall("f", arguments)]
    result = check_grounding(instruction, calls, {"f": schema})
    assert result.arguments == len(arguments) and result.grounded + len(result.flagged) == result.arguments
    assert result.passed == (not any(flag.required for flag in result.flagged))
