"""JSON values against JSON Schema: types, fitting and coercion, as every caller relies on them."""

from __future__ import annotations

import math
from collections import OrderedDict
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from pipeline.schema_values import (
    MISSING,
    boolean_from_text,
    coerce,
    coerce_text,
    declared_types,
    fits_schema,
    has_type,
    integer_from_text,
    json_type,
    number_from_text,
    primary_type,
    same_value,
    schema_types,
)

# --- types ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "kind"),
    [(None, "null"), (True, "boolean"), (3, "integer"), (3.0, "number"), ("3", "string"),
     ([1], "array"), ({"a": 1}, "object"), (OrderedDict(a=1), "object"), ((1, 2), "unknown"),
     (b"x", "unknown")],
)
def test_json_type_names_the_json_type_of_a_value(value: Any, kind: str) -> None:
    assert json_type(value) == kind


def test_a_bool_is_never_a_number_and_an_int_is_always_one() -> None:
    assert not has_type(True, "integer") and not has_type(False, "number")
    assert has_type(7, "number")


def test_an_integral_float_is_an_integer_unless_integers_are_exact() -> None:
    assert has_type(2.0, "integer")  # JSON Schema: 2.0 is an integer
    assert not has_type(2.0, "integer", exact_integers=True)  # Python, BFCL
    assert not has_type(2.5, "integer")


def test_an_unknown_type_name_is_never_had() -> None:
    assert not has_type("x", "file")


def test_declared_types_keep_the_written_order_and_drop_junk() -> None:
    assert declared_types({"type": ["null", "string", 5]}) == ["null", "string"]
    assert declared_types({"type": "integer"}) == ["integer"]
    assert declared_types({}) == [] and declared_types("not a schema") == []


def test_schema_types_are_inferred_from_alternatives_and_enum_members() -> None:
    assert schema_types({"anyOf": [{"type": "integer"}, {"type": "string"}]}) == {"integer", "string"}
    assert schema_types({"oneOf": [{"type": "integer"}, {"minimum": 3}]}) == set()  # do not guess
    assert schema_types({"enum": [1, "a", None]}) == {"integer", "string", "null"}
    assert schema_types({"type": "boolean", "enum": ["x"]}) == {"boolean"}  # type wins


def test_primary_type_is_the_first_non_null_declared_type() -> None:
    assert primary_type({"type": ["null", "integer", "string"]}) == "integer"
    assert primary_type({"type": "null"}) == "null"
    assert primary_type({"type": ["null"]}) is None and primary_type({}) is None


def test_same_value_is_json_equality() -> None:
    assert same_value(1, 1.0) and same_value([1, {"a": 2.0}], [1.0, {"a": 2}])
    assert not same_value(True, 1) and not same_value(0, False)
    assert not same_value({"a": 1}, {"a": 1, "b": 2}) and not same_value("1", 1)


# --- fitting ----------------------------------------------------------------------------------

FITTING: list[tuple[Any, Any]] = [
    ("abc", {"type": "string", "minLength": 2, "maxLength": 3}),
    (4, {"type": "integer", "minimum": 4, "exclusiveMaximum": 5}),
    (7.5, {"type": "number", "multipleOf": 2.5}),
    ("2025-02-28", {"type": "string", "format": "date"}),
    ("2025-02-28T10:00:00Z", {"format": "date-time"}),
    ("a@b.c", {"format": "email"}),
    ("LIS", {"pattern": "^[A-Z]{3}$"}),
    ([1, 2], {"type": "array", "items": {"type": "integer"}, "minItems": 2}),
    ({"id": 1}, {"type": "object", "required": ["id"], "properties": {"id": {"type": "integer"}}}),
    ("x", {"anyOf": [{"type": "integer"}, {"type": "string"}]}),
    (3, {"allOf": [{"minimum": 1}, {"maximum": 5}]}),
    ("b", {"not": {"const": "a"}}),
    (None, {"type": ["string", "null"]}),
    ("anything", True),
    ("anything", {"x-unknown-keyword": 1}),
]
NOT_FITTING: list[tuple[Any, Any]] = [
    ("a", {"type": "string", "minLength": 2}),
    (5, {"type": "integer", "exclusiveMaximum": 5}),
    (7.0, {"type": "number", "multipleOf": 2.5}),
    ("2025-02-30", {"format": "date"}),
    ("LISB", {"pattern": "^[A-Z]{3}$"}),
    ([1, "2"], {"type": "array", "items": {"type": "integer"}}),
    ({}, {"type": "object", "required": ["id"]}),
    ({"id": "1"}, {"properties": {"id": {"type": "integer"}}}),
    (True, {"type": "integer"}),
    (2, {"enum": ["2", 3]}),
    ("a", {"not": {"const": "a"}}),
    ("anything", False),
]


@pytest.mark.parametrize(("value", "schema"), FITTING)
def test_values_that_fit(value: Any, schema: Any) -> None:
    assert fits_schema(value, schema)
    Draft202012Validator(schema).validate(value)  # and jsonschema agrees


@pytest.mark.parametrize(("value", "schema"), NOT_FITTING)
def test_values_that_do_not_fit(value: Any, schema: Any) -> None:
    assert not fits_schema(value, schema)


def test_a_pattern_that_cannot_be_run_safely_is_not_met() -> None:
    # nested quantifiers: not run at all, so no value is known to match
    assert not fits_schema("aaaa", {"type": "string", "pattern": "^(a+)+$"})
    assert fits_schema("aaaa", {"type": "string", "pattern": "^a+$"})


def test_fitting_stops_at_a_depth_and_still_answers() -> None:
    schema: dict[str, Any] = {}
    node = schema
    for _ in range(100):
        node["properties"] = {"x": {"type": "object"}}
        node = node["properties"]["x"]
    value: dict[str, Any] = {}
    inner = value
    for _ in range(100):
        inner["x"] = {}
        inner = inner["x"]
    assert fits_schema(value, schema)


# --- text forms ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "number"), [("7", 7), (" -12 ", -12), ("+3", 3)])
def test_integer_text(text: str, number: int) -> None:
    assert integer_from_text(text) == number


@pytest.mark.parametrize("text", ["7.0", "1e3", "seven", "", "٣", "1_000"])
def test_not_integer_text(text: str) -> None:
    assert integer_from_text(text) is None


def test_number_text_keeps_integers_integral_and_refuses_what_a_float_cannot_hold() -> None:
    assert number_from_text("7") == 7 and isinstance(number_from_text("7"), int)
    assert number_from_text("2.5") == 2.5 and number_from_text(".5") == 0.5
    assert number_from_text("1e3") == 1000.0
    assert number_from_text("1" * 400) is None and number_from_text("nan") is None
    assert number_from_text("inf") is None and number_from_text("5 kg") is None


@pytest.mark.parametrize(("text", "flag"), [("true", True), ("YES", True), (" 1", True), ("False", False),
                                            ("no", False), ("0", False), ("maybe", None), ("", None)])
def test_boolean_text(text: str, flag: bool | None) -> None:
    assert boolean_from_text(text) is flag


@given(st.integers(min_value=-(10**30), max_value=10**30))
def test_integer_text_round_trips(number: int) -> None:
    assert integer_from_text(str(number)) == number
    assert number_from_text(str(number)) == number


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_number_text_round_trips(number: float) -> None:
    parsed = number_from_text(repr(number))
    assert parsed == number


# --- coercion of echoed values (exact) -----------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "schema", "expected"),
    [
        ("5", {"type": "integer"}, 5),
        (5.0, {"type": "integer"}, 5),
        ("2.5", {"type": "number"}, 2.5),
        ("5", {"type": "number"}, 5.0),
        (5, {"type": "string"}, "5"),
        (5.0, {"type": "string"}, "5"),
        ("true", {"type": "boolean"}, True),
        ([1, 2], {"type": "array", "items": {"type": "integer"}}, [1, 2]),
        ("x", {"type": ["null", "string"]}, "x"),
        ("7", {"type": ["integer", "string"]}, 7),  # the first declared type that fits
        ("kept", "not a schema", "kept"),
    ],
)
def test_coerce_makes_a_value_the_schemas_type(value: Any, schema: Any, expected: Any) -> None:
    result = coerce(value, schema)
    assert result == expected and type(result) is type(expected)


@pytest.mark.parametrize(
    ("value", "schema"),
    [("abc", {"type": "integer"}), (2.5, {"type": "integer"}), ("7", {"type": "integer", "maximum": 5}),
     (True, {"type": "string"}), ({"a": 1}, {"type": "array"}), ("x", {"type": "string", "enum": ["y"]}),
     (["1", 2], {"type": "array", "items": {"type": "integer"}})],  # items are not converted
)
def test_coerce_answers_missing_when_the_value_cannot_fit(value: Any, schema: Any) -> None:
    assert coerce(value, schema) is MISSING


@given(st.one_of(st.integers(), st.floats(allow_nan=False), st.text(max_size=20), st.booleans(), st.none()),
       st.sampled_from([{"type": "integer"}, {"type": "number"}, {"type": "string"}, {"type": "boolean"},
                        {"type": "integer", "minimum": 0, "maximum": 10},
                        {"type": "string", "maxLength": 3}]))
def test_whatever_coerce_returns_fits(value: Any, schema: dict[str, Any]) -> None:
    result = coerce(value, schema)
    assert result is MISSING or fits_schema(result, schema)


# --- coercion of values sent as text (forgiving) ------------------------------------------------


@pytest.mark.parametrize(
    ("value", "schema", "expected"),
    [
        ("5", {"type": "integer"}, 5),
        (" 5 ", {"type": "integer"}, 5),
        ("5", {"type": "number"}, 5),
        ("2.5", {"type": "number"}, 2.5),
        ("yes", {"type": "boolean"}, True),
        (3.0, {"type": "integer"}, 3),  # would go on the wire as "3.0"
        (48, {"type": "string"}, "48"),
        (True, {"type": "string"}, "true"),
        ("a,b", {"type": "array", "items": {"type": "string"}}, ["a,b"]),  # items may hold commas
        ("1,2", {"type": "array", "items": {"type": "integer"}}, [1, 2]),
        ("[1, 2]", {"type": "array", "items": {"type": "integer"}}, [1, 2]),
        ("7", {"type": "array", "items": {"type": "integer"}}, [7]),
        (7, {"type": "array", "items": {"type": "integer"}}, [7]),
        ('{"a": 1}', {"type": "object"}, {"a": 1}),
        ("5", {"anyOf": [{"type": "integer"}, {"type": "boolean"}]}, 5),
        ("abc", {"type": "integer"}, "abc"),  # not a number: left for the validator to report
        ("5", {}, "5"),  # no declared type: nothing to convert to
    ],
)
def test_coerce_text_reads_text_as_the_declared_type(value: Any, schema: Any, expected: Any) -> None:
    result = coerce_text(value, schema)
    assert result == expected and type(result) is type(expected)


def test_coerce_text_uses_the_types_it_is_given() -> None:
    assert coerce_text("5", {"type": "integer"}, {"string"}) == "5"


def test_coerce_text_never_makes_a_non_finite_number() -> None:
    assert coerce_text("1e400", {"type": "number"}) == "1e400"
    assert not any(isinstance(v, float) and not math.isfinite(v)
                   for v in (coerce_text(t, {"type": "number"}) for t in ("inf", "-inf", "nan")))
