"""The BFCL-style call matcher: names, schema checks, allowed values, defaults, parallel calls."""

from __future__ import annotations

from typing import Any

import pytest

from pipeline.verify.matcher import (
    Allowed,
    Call,
    MatchResult,
    expected_from_bfcl,
    match_call,
    match_calls,
    normalise_string,
    parameter_schemas,
    values_match,
)

WEATHER = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "units": {"type": "string", "enum": ["metric", "imperial"], "default": "metric"},
        "days": {"type": "integer"},
        "threshold": {"type": "number"},
        "alerts": {"type": "boolean"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "filter": {
            "type": "object",
            "properties": {"field": {"type": "string"}, "min": {"type": "number"}},
            "required": ["field"],
        },
    },
    "required": ["city"],
}
TIME = {"type": "object", "properties": {"tz": {"type": "string"}}, "required": ["tz"]}


def weather(**arguments: Any) -> dict[str, Any]:
    return {"name": "get_weather", "arguments": arguments}


def labels(result: MatchResult) -> list[tuple[str, str | None]]:
    return [(error.label, error.param) for error in result.errors]


def test_an_identical_call_passes() -> None:
    result = match_call(weather(city="Paris", days=3), weather(city="Paris", days=3), WEATHER)

    assert result.passed
    assert result.errors == []


def test_strings_match_after_lowercasing_and_removing_spaces_and_punctuation() -> None:
    assert match_call(weather(city="New York"), weather(city="new-york"), WEATHER).passed
    assert match_call(weather(city="St. Louis, MO"), weather(city="st louis mo"), WEATHER).passed
    assert normalise_string("A_b*c^d/e.f-g, h") == "abcdefgh"


def test_a_different_string_is_a_value_error_naming_the_value() -> None:
    result = match_call(weather(city="Lyon"), weather(city="Paris"), WEATHER)

    assert labels(result) == [("value_error", "city")]
    assert "'Lyon'" in result.errors[0].detail and "'Paris'" in result.errors[0].detail


def test_a_wrong_name_is_reported_alone() -> None:
    result = match_call({"name": "get_forecast", "arguments": {"city": 3}}, weather(city="Paris"), WEATHER)

    assert labels(result) == [("wrong_func_name", None)]
    assert "get_forecast" in result.errors[0].detail


def test_a_missing_required_parameter_is_reported() -> None:
    result = match_call(weather(days=2), weather(city="Paris", days=2), WEATHER)

    assert labels(result) == [("missing_required", "city")]


def test_a_parameter_outside_the_schema_is_unexpected() -> None:
    result = match_call(weather(city="Paris", country="FR"), weather(city="Paris"), WEATHER)

    assert labels(result) == [("unexpected_param", "country")]


def test_an_int_is_accepted_for_a_number_and_equals_the_same_float() -> None:
    expected = weather(city="Paris", threshold=1.0)

    assert match_call(weather(city="Paris", threshold=1), expected, WEATHER).passed


def test_a_float_is_not_an_integer() -> None:
    result = match_call(weather(city="Paris", days=2.5), weather(city="Paris", days=2), WEATHER)

    assert labels(result) == [("type_error", "days")]


def test_a_bool_is_neither_an_integer_nor_a_number() -> None:
    as_int = match_call(weather(city="Paris", days=True), weather(city="Paris", days=1), WEATHER)
    as_number = match_call(weather(city="Paris", threshold=False), weather(city="Paris", threshold=0),
                           WEATHER)

    # one type error each, and no extra value error repeating it
    assert labels(as_int) == [("type_error", "days")]
    assert labels(as_number) == [("type_error", "threshold")]


def test_a_bool_value_does_not_equal_a_number() -> None:
    assert not values_match(True, 1)
    assert not values_match(1, True)
    assert values_match(True, True)


def test_array_items_are_type_checked() -> None:
    result = match_call(weather(city="Paris", tags=["rain", 2]), weather(city="Paris", tags=["rain", "2"]),
                        WEATHER)

    assert labels(result) == [("type_error", "tags[1]")]


def test_lists_compare_element_wise_with_string_normalisation() -> None:
    expected = weather(city="Paris", tags=["heavy rain", "wind"])

    assert match_call(weather(city="Paris", tags=["Heavy-Rain", "WIND"]), expected, WEATHER).passed
    assert not match_call(weather(city="Paris", tags=["wind", "heavy rain"]), expected, WEATHER).passed
    assert not match_call(weather(city="Paris", tags=["heavy rain"]), expected, WEATHER).passed


def test_nested_objects_are_checked_as_far_as_the_schema_goes() -> None:
    missing_key = match_call(weather(city="Paris", filter={"min": 3}),
                             weather(city="Paris", filter={"min": 3}), WEATHER)
    wrong_type = match_call(weather(city="Paris", filter={"field": "temp", "min": "3"}),
                            weather(city="Paris", filter={"field": "temp", "min": 3}), WEATHER)

    assert labels(missing_key) == [("missing_required", "filter.field")]
    assert labels(wrong_type) == [("type_error", "filter.min")]


def test_nested_dict_values_compare_recursively() -> None:
    expected = weather(city="Paris", filter={"field": "Temperature", "min": 3})

    same = weather(city="Paris", filter={"field": "temperature", "min": 3.0})
    assert match_call(same, expected, WEATHER).passed
    result = match_call(weather(city="Paris", filter={"field": "temperature", "min": 4}), expected, WEATHER)
    assert labels(result) == [("value_error", "filter")]


def test_an_open_nested_object_accepts_unknown_keys_but_a_closed_one_does_not() -> None:
    closed = {"type": "object", "properties": {
        "q": {"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": False},
    }}
    open_ = {"type": "object", "properties": {
        "q": {"type": "object", "properties": {"a": {"type": "string"}}},
    }}
    predicted = {"name": "f", "arguments": {"q": {"a": "x", "b": 1}}}
    expected = {"name": "f", "arguments": {"q": {"a": "x", "b": 1}}}

    assert match_call(predicted, expected, open_).passed
    assert labels(match_call(predicted, expected, closed)) == [("unexpected_param", "q.b")]


def test_allowed_values_accept_any_listed_value() -> None:
    expected = weather(city=Allowed(values=["Paris", "Paris, France"]))

    assert match_call(weather(city="paris france"), expected, WEATHER).passed
    result = match_call(weather(city="Lyon"), expected, WEATHER)
    assert labels(result) == [("value_error", "city")]
    assert "one of 'Paris', 'Paris, France'" in result.errors[0].detail


def test_an_omittable_allowed_value_may_be_left_out_but_a_plain_one_may_not() -> None:
    omittable = weather(city="Paris", days=Allowed(values=[3], omittable=True))
    required_value = weather(city="Paris", days=Allowed(values=[3]))

    assert match_call(weather(city="Paris"), omittable, WEATHER).passed
    assert match_call(weather(city="Paris", days=3), omittable, WEATHER).passed
    assert labels(match_call(weather(city="Paris"), required_value, WEATHER)) == [("value_error", "days")]


def test_bfcl_ground_truth_reads_the_empty_string_as_may_be_omitted() -> None:
    expected = expected_from_bfcl({"get_weather": {"city": ["Paris", "Paris, France"], "days": ["", 3],
                                                   "filter": [{"field": ["temp"], "min": ["", 0]}]}})

    assert expected.name == "get_weather"
    assert expected.arguments["city"] == Allowed(values=["Paris", "Paris, France"], omittable=False)
    assert expected.arguments["days"] == Allowed(values=[3], omittable=True)
    assert match_call(weather(city="Paris", filter={"field": "temp"}), expected, WEATHER).passed
    assert match_call(weather(city="Paris, France", days=3, filter={"field": "temp", "min": 0}),
                      expected, WEATHER).passed
    assert not match_call(weather(city="Paris", days=4, filter={"field": "temp"}), expected, WEATHER).passed


def test_an_unmentioned_optional_parameter_must_equal_the_schema_default() -> None:
    expected = weather(city="Paris")

    assert match_call(weather(city="Paris", units="Metric"), expected, WEATHER).passed
    not_default = match_call(weather(city="Paris", units="imperial"), expected, WEATHER)
    no_default = match_call(weather(city="Paris", days=3), expected, WEATHER)
    assert labels(not_default) == [("value_error", "units")]
    assert "'imperial'" in not_default.errors[0].detail
    assert labels(no_default) == [("value_error", "days")]
    assert "no default" in no_default.errors[0].detail


def test_leaving_out_an_optional_parameter_means_its_default() -> None:
    assert match_call(weather(city="Paris"), weather(city="Paris", units="metric"), WEATHER).passed
    result = match_call(weather(city="Paris"), weather(city="Paris", units="imperial"), WEATHER)
    assert labels(result) == [("value_error", "units")]
    assert "left out" in result.errors[0].detail


def test_call_models_and_dicts_are_interchangeable() -> None:
    predicted = Call(name="get_weather", arguments={"city": "Paris"})

    assert match_call(predicted, weather(city="paris"), WEATHER).passed
    assert match_call(weather(city="paris"), predicted, WEATHER).passed


def test_parallel_calls_match_in_any_order() -> None:
    expected = [weather(city="Paris"), {"name": "get_time", "arguments": {"tz": "CET"}}]
    predicted = [{"name": "get_time", "arguments": {"tz": "cet"}}, weather(city="Paris")]
    functions = {"get_weather": WEATHER, "get_time": TIME}

    assert match_calls(predicted, expected, functions).passed
    assert not match_calls(predicted, expected, functions, ordered=True).passed
    assert match_calls(list(reversed(predicted)), expected, functions, ordered=True).passed


def test_parallel_matching_finds_an_assignment_a_greedy_pass_would_miss() -> None:
    # p0 fits both expected calls, p1 only the first; pairing p0 with the first (greedy) strands p1.
    expected = [weather(city=Allowed(values=["Paris", "Lyon"])), weather(city="Paris")]
    predicted = [weather(city="Paris"), weather(city="Lyon")]

    assert match_calls(predicted, expected, {"get_weather": WEATHER}).passed


def test_a_wrong_parallel_call_is_reported_against_its_closest_expected_call() -> None:
    expected = [weather(city="Paris"), {"name": "get_time", "arguments": {"tz": "CET"}}]
    predicted = [{"name": "get_time", "arguments": {"tz": "PST"}}, weather(city="Paris")]

    result = match_calls(predicted, expected, {"get_weather": WEATHER, "get_time": TIME})

    assert not result.passed
    assert [(e.label, e.call_index, e.param) for e in result.errors] == [("value_error", 0, "tz")]


def test_different_numbers_of_calls_are_a_wrong_count() -> None:
    result = match_calls([weather(city="Paris")], [weather(city="Paris"), weather(city="Lyon")],
                         {"get_weather": WEATHER})

    assert labels(result) == [("wrong_count", None)]
    assert "1" in result.errors[0].detail and "2" in result.errors[0].detail


def test_functions_may_be_openai_tools_or_bare_function_dicts() -> None:
    tools = [{"type": "function",
              "function": {"name": "get_weather", "description": "d", "parameters": WEATHER}}]
    bare = [{"name": "get_time", "description": "d", "parameters": TIME}]

    assert parameter_schemas(tools) == {"get_weather": WEATHER}
    assert parameter_schemas(bare) == {"get_time": TIME}
    assert match_calls([weather(city="Paris")], [weather(city="Paris")], tools).passed
    assert not match_calls([weather(city="Paris", x=1)], [weather(city="Paris")], tools).passed


def test_an_expected_function_without_a_schema_is_a_data_error() -> None:
    with pytest.raises(ValueError, match="get_time"):
        match_calls([weather(city="Paris")], [{"name": "get_time", "arguments": {}}],
                    {"get_weather": WEATHER})
