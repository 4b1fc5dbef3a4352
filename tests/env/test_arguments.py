"""Argument checking: problems worded like an API's 400, the coercions HTTP clients allow, and
specs or arguments that try to make validation crash or crawl."""

from __future__ import annotations

import time
from typing import Any

import pytest

from pipeline.env.arguments import ArgumentValidator, parameter_schema, safe_pattern
from pipeline.models import Api, Param


def p(name: str, location: str = "query", needed: bool = False, /, **schema: Any) -> Param:
    """A parameter whose keyword arguments are its JSON Schema."""
    return Param(name=name, location=location, required=needed, schema=schema)


WEATHER = Api(
    name="forecast",
    url="https://api.weather.example/v2/forecast/{city}",
    required_parameters=[p("city", "path", True, type="string")],
    optional_parameters=[
        p("days", type="integer", minimum=1, maximum=5),
        p("units", type="string", enum=["metric", "imperial"]),
        p("lat", type="number"),
        p("alerts", type="boolean"),
        p("fields", type="array", items={"type": "string"}),
        p("hours", type="array", items={"type": "integer"}),
    ],
)

BOOKING = Api(
    name="book",
    url="https://api.hotels.example/reservations",
    method="POST",
    required_parameters=[
        p("hotel_id", "body", True, type="string"),
        p("guests", "body", True, type="integer", minimum=1),
        p(
            "guest",
            "body",
            True,
            type="object",
            properties={"name": {"type": "string"}, "email": {"type": "string"}},
            required=["name"],
            additionalProperties=False,
        ),
    ],
    optional_parameters=[p("price", "body", type="number"), p("notes", "body", type="string")],
)


@pytest.fixture
def validator() -> ArgumentValidator:
    return ArgumentValidator()


# ------------------------------------------------------------------------------------- schema


def test_parameter_schema_is_an_object_of_the_parameters() -> None:
    schema = parameter_schema(WEATHER)

    assert schema["type"] == "object" and schema["additionalProperties"] is False
    assert schema["required"] == ["city"]
    assert list(schema["properties"]) == ["city", "days", "units", "lat", "alerts", "fields", "hours"]
    assert schema["properties"]["days"] == {"type": "integer", "minimum": 1, "maximum": 5}


def test_parameter_schema_falls_back_to_the_toolbench_type() -> None:
    api = Api(
        name="x",
        optional_parameters=[
            Param(name="n", type="NUMBER", schema={}),
            Param(name="flag", type="BOOLEAN", schema={"description": "only words"}),
            Param(name="mode", type="ENUM", enum=["a", "b"], schema={"type": "string"}),
            Param(name="broken", type="STRING", schema={"type": "string", "minLength": "three"}),
        ],
    )

    properties = parameter_schema(api)["properties"]

    assert properties["n"] == {"type": "number"}
    assert properties["flag"] == {"type": "boolean"}
    assert properties["mode"] == {"type": "string", "enum": ["a", "b"]}
    assert properties["broken"] == {"type": "string"}


def test_spec_dialects_are_cleaned_into_draft_2020_12() -> None:
    api = Api(
        name="x",
        optional_parameters=[
            p("a", type="integer", minimum=0, exclusiveMinimum=True, nullable=True),
            p("b", type="String", pattern="([a-"),
            p("c", **{"$ref": "#/components/schemas/Gone", "type": "array", "items": [{"type": "string"}]}),
            p("d", type="file"),
        ],
    )

    properties = parameter_schema(api)["properties"]

    assert properties["a"] == {"type": ["integer", "null"], "exclusiveMinimum": 0, "nullable": True}
    assert properties["b"] == {"type": "string"}  # the regex does not compile: not checked
    assert properties["c"] == {"type": "array", "prefixItems": [{"type": "string"}]}
    assert properties["d"] == {"type": "string"}


# ------------------------------------------------------------------------------------ problems


@pytest.mark.parametrize(
    ("arguments", "problems"),
    [
        ({"units": "metric"}, ["missing required argument 'city'"]),
        ({"city": "Paris", "days": "abc"}, ["argument 'days' must be integer, got 'abc'"]),
        (
            {"city": "Paris", "units": "kelvin"},
            ["argument 'units' must be one of ['metric', 'imperial'], got 'kelvin'"],
        ),
        (
            {"city": "Paris", "foo": 1},
            ["unexpected argument 'foo' (accepted: city, days, units, lat, alerts, fields, hours)"],
        ),
        ({"city": "Paris", "days": 9}, ["argument 'days' must be <= 5, got 9"]),
        ({"city": "Paris", "days": "0"}, ["argument 'days' must be >= 1, got 0"]),
        ({"city": "Paris", "alerts": "maybe"}, ["argument 'alerts' must be boolean, got 'maybe'"]),
        ({"city": "Paris", "hours": "1,x"}, ["argument 'hours[1]' must be integer, got 'x'"]),
        ([1, 2], ["arguments must be a JSON object, got list"]),
        ("[1, 2]", ["arguments must be a JSON object, got list"]),
        (42, ["arguments must be a JSON object, got int"]),
        ("city=Paris", ["arguments must be a JSON object, got a string that is not JSON: 'city=Paris'"]),
    ],
)
def test_problems_name_the_argument_and_the_value(
    validator: ArgumentValidator, arguments: Any, problems: list[str]
) -> None:
    assert validator.check(WEATHER, arguments)[1] == problems


def test_several_problems_are_all_reported(validator: ArgumentValidator) -> None:
    _, problems = validator.check(WEATHER, {"days": "abc", "units": "kelvin", "colour": "red"})

    assert problems == [
        "unexpected argument 'colour' (accepted: city, days, units, lat, alerts, fields, hours)",
        "missing required argument 'city'",
        "argument 'days' must be integer, got 'abc'",
        "argument 'units' must be one of ['metric', 'imperial'], got 'kelvin'",
    ]


def test_unknown_arguments_pass_through_when_not_rejected(validator: ArgumentValidator) -> None:
    coerced, problems = validator.check(WEATHER, {"city": "Paris", "foo": "1"}, reject_unknown=False)

    assert problems == []
    assert coerced == {"city": "Paris", "foo": "1"}


def test_arguments_as_a_json_string_and_empty_arguments(validator: ArgumentValidator) -> None:
    assert validator.check(WEATHER, '{"city": "Paris", "days": "3"}') == ({"city": "Paris", "days": 3}, [])
    no_params = Api(name="ping")
    for empty in (None, "", "  ", {}, "null"):
        assert validator.check(no_params, empty) == ({}, [])


def test_body_problems_point_into_nested_objects(validator: ArgumentValidator) -> None:
    _, missing = validator.check(BOOKING, {"hotel_id": "h1", "guests": 2, "guest": {"email": "a@b.c"}})
    _, extra = validator.check(BOOKING, {"hotel_id": "h1", "guests": 2, "guest": {"name": "M", "age": 3}})
    _, nested_type = validator.check(BOOKING, {"hotel_id": "h1", "guests": 2, "guest": {"name": 7}})

    assert missing == ["argument 'guest' is missing required field 'name'"]
    assert extra == ["argument 'guest' has unexpected field 'age'"]
    assert nested_type == ["argument 'guest.name' must be string, got 7"]


# ------------------------------------------------------------------------------------ coercion


def test_text_values_become_the_declared_type_outside_the_body(validator: ArgumentValidator) -> None:
    coerced, problems = validator.check(
        WEATHER,
        {
            "city": 2988507,
            "days": "3",
            "lat": "48.85",
            "alerts": "True",
            "fields": "temp,wind",
            "hours": ["6", "12"],
        },
    )

    assert problems == []
    assert coerced == {
        "city": "2988507",
        "days": 3,
        "lat": 48.85,
        "alerts": True,
        "fields": ["temp,wind"],  # string items may contain commas: not split
        "hours": [6, 12],
    }


def test_whole_floats_become_integers_and_single_values_become_lists(validator: ArgumentValidator) -> None:
    arguments = {"city": "x", "days": 2.0, "hours": 7, "fields": '["a", "b"]'}

    coerced, problems = validator.check(WEATHER, arguments)

    assert problems == []
    assert coerced == {"city": "x", "days": 2, "hours": [7], "fields": ["a", "b"]}


def test_null_and_empty_optional_arguments_mean_not_given(validator: ArgumentValidator) -> None:
    coerced, problems = validator.check(WEATHER, {"city": "Paris", "days": None, "lat": "", "units": None})

    assert problems == []
    assert coerced == {"city": "Paris"}


def test_a_null_required_argument_is_a_problem(validator: ArgumentValidator) -> None:
    assert validator.check(WEATHER, {"city": None})[1] == ["argument 'city' must be string, got None"]


def test_body_arguments_are_checked_strictly_but_integers_are_numbers(validator: ArgumentValidator) -> None:
    base = {"hotel_id": "h1", "guest": {"name": "Maya"}}

    _, as_text = validator.check(BOOKING, {**base, "guests": "2"})
    coerced, ok = validator.check(BOOKING, {**base, "guests": 2, "price": 120})
    _, number_for_text = validator.check(BOOKING, {**base, "guests": 2, "notes": 5})

    assert as_text == ["argument 'guests' must be integer, got '2'"]
    assert ok == [] and coerced["price"] == 120
    assert number_for_text == ["argument 'notes' must be string, got 5"]


def test_near_misses_are_not_coerced(validator: ArgumentValidator) -> None:
    for value in ("3 days", "1_000", "٣", "0x10", "nan", "inf", "1e400"):
        _, problems = validator.check(WEATHER, {"city": "x", "days": value})
        assert problems and problems[0].startswith("argument 'days' must be"), value


# ------------------------------------------------------------------------- hostile inputs


def test_invalid_and_catastrophic_patterns_do_not_crash_or_hang(validator: ArgumentValidator) -> None:
    api = Api(
        name="x",
        optional_parameters=[
            p("bad", type="string", pattern="([a-"),
            p("evil", type="string", pattern="^(a+)+$"),
            p("alternation", type="string", pattern="^(a|aa)*$"),
            p("date", type="string", pattern=r"^\d{4}-\d{2}-\d{2}$"),
            p("cubic", type="string", pattern=r"\d+\d+\d+x"),
        ],
    )
    attack = "a" * 5000 + "!"
    arguments = {
        "bad": "zzz",
        "evil": attack,
        "alternation": attack,
        "date": "2025-1-1",
        "cubic": "1" * 4000,
    }

    started = time.perf_counter()
    _, problems = validator.check(api, arguments)
    _, short = validator.check(api, {"cubic": "123"})
    elapsed = time.perf_counter() - started

    assert problems == [r"argument 'date' must match the pattern '^\d{4}-\d{2}-\d{2}$', got '2025-1-1'"]
    assert short == [r"argument 'cubic' must match the pattern '\d+\d+\d+x', got '123'"]
    assert elapsed < 0.5
    assert safe_pattern("^(a+)+$") is None and safe_pattern("([a-") is None
    assert safe_pattern(r"^[A-Z]{3}$") is not None


def test_huge_arguments_are_refused_quickly(validator: ArgumentValidator) -> None:
    api = Api(
        name="x",
        optional_parameters=[
            p("text", "body", type="string"),
            p("items", "body", type="array", uniqueItems=True, items={"type": "object"}),
        ],
    )

    started = time.perf_counter()
    _, too_big = validator.check(api, {"text": "x" * 5_000_000})
    _, too_many = validator.check(api, {"items": [{"i": i} for i in range(30_000)]})
    _, many_unique = validator.check(api, {"items": [{"i": i} for i in range(9_000)]})
    elapsed = time.perf_counter() - started

    assert too_big == ["arguments are too large (5000011 bytes of JSON; the limit is 262144)"]
    assert too_many[0].startswith(("arguments are too large", "arguments have too many"))
    assert many_unique == []
    assert elapsed < 2.0


def test_deeply_nested_arguments_are_refused(validator: ArgumentValidator) -> None:
    nested: dict[str, Any] = {}
    inner = nested
    for _ in range(1000):
        inner["x"] = {}
        inner = inner["x"]

    assert validator.check(WEATHER, {"city": "x", "fields": nested})[1] == ["arguments are nested too deeply"]


def test_compiled_validators_are_reused_per_api(validator: ArgumentValidator) -> None:
    validator.check(WEATHER, {"city": "x"})
    started = time.perf_counter()
    for _ in range(200):
        validator.check(WEATHER, {"city": "x", "days": "2"})
    per_call = (time.perf_counter() - started) / 200

    assert per_call < 0.002
