"""Schema expansion into self-contained JSON Schema, and the value helpers the readers share:
``bounded_copy``, ``text_of``, the ToolBench type labels and ``template_from_schema``."""

from __future__ import annotations

import datetime as dt
import math
import time
from typing import Any

import orjson
import pytest

from pipeline.specs.refs import RefResolver
from pipeline.specs.schemas import (
    Budget,
    SchemaExpander,
    bounded_copy,
    json_type_for_toolbench,
    template_from_schema,
    text_of,
    toolbench_type,
)


def expand(
    schema: Any,
    *,
    max_depth: int = 8,
    nodes: int = 2000,
    max_description_chars: int = 2000,
    **components: Any,
) -> tuple[dict[str, Any], list[str], Budget]:
    """Expand ``schema`` in a document whose ``#/c/<Name>`` are ``components``."""
    resolver = RefResolver({"c": components}, path=None)
    warnings: list[str] = []
    expander = SchemaExpander(
        resolver, max_depth=max_depth, max_description_chars=max_description_chars, warnings=warnings
    )
    budget = Budget(nodes)
    return expander.expand(schema, resolver.main, budget), warnings, budget


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/c/{name}"}


def count_nodes(schema: Any) -> int:
    if isinstance(schema, dict):
        return 1 + sum(count_nodes(v) for v in schema.values())
    if isinstance(schema, list):
        return sum(count_nodes(v) for v in schema)
    return 0


# -- SchemaExpander ---------------------------------------------------------------------------


def test_all_of_merges_properties_and_required_from_every_part() -> None:
    base = {"type": "object", "required": ["id"], "properties": {"id": {"type": "integer"}}}
    schema = {
        "description": "A pet.",
        "allOf": [ref("Base"), {"required": ["name", "id"], "properties": {"name": {"type": "string"}}}],
    }

    expanded, warnings, _ = expand(schema, Base=base)

    assert expanded == {
        "description": "A pet.",
        "type": "object",
        "properties": {"id": {"type": "integer"}, "name": {"type": "string"}},
        "required": ["id", "name"],
    }
    assert warnings == []


def test_one_of_and_any_of_are_kept_as_any_of() -> None:
    one_of, _, _ = expand({"oneOf": [{"type": "string"}, {"type": "integer"}]})
    any_of, _, _ = expand({"anyOf": [{"type": "string"}, ref("Num")]}, Num={"type": "number"})

    assert one_of == {"anyOf": [{"type": "string"}, {"type": "integer"}]}
    assert any_of == {"anyOf": [{"type": "string"}, {"type": "number"}]}


def test_alternatives_that_share_a_type_give_the_schema_that_type() -> None:
    cat = {"type": "object", "properties": {"meows": {"type": "boolean"}}}
    dog = {"type": "object", "properties": {"barks": {"type": "boolean"}}}

    expanded, _, _ = expand({"oneOf": [ref("Cat"), ref("Dog")]}, Cat=cat, Dog=dog)

    assert expanded["type"] == "object"
    assert [set(alt["properties"]) for alt in expanded["anyOf"]] == [{"meows"}, {"barks"}]


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        ({"type": "string", "nullable": True}, {"type": ["string", "null"]}),
        ({"type": "integer", "x-nullable": True}, {"type": ["integer", "null"]}),
        ({"type": ["string", "null"], "nullable": True}, {"type": ["string", "null"]}),
        ({"type": ["integer", "bogus"]}, {"type": "integer"}),
        ({"type": "bogus"}, {}),
        ({"properties": {"a": {}}}, {"type": "object", "properties": {"a": {}}}),
    ],
    ids=["nullable", "x-nullable", "already-a-list", "unknown-in-list", "unknown", "implied-object"],
)
def test_types_are_normalised_to_json_schema(schema: dict[str, Any], expected: dict[str, Any]) -> None:
    assert expand(schema)[0] == expected


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        (
            {"type": "integer", "minimum": 1, "exclusiveMinimum": True},
            {"type": "integer", "exclusiveMinimum": 1},
        ),
        (
            {"type": "number", "maximum": 9.5, "exclusiveMaximum": True},
            {"type": "number", "exclusiveMaximum": 9.5},
        ),
        ({"type": "integer", "minimum": 1, "exclusiveMinimum": False}, {"type": "integer", "minimum": 1}),
        ({"type": "integer", "exclusiveMinimum": 3}, {"type": "integer", "exclusiveMinimum": 3}),
    ],
    ids=["min-true", "max-true", "false", "numeric-3.1"],
)
def test_boolean_exclusive_bounds_become_numeric(schema: dict[str, Any], expected: dict[str, Any]) -> None:
    assert expand(schema)[0] == expected


def test_swagger_file_type_is_a_binary_string() -> None:
    assert expand({"type": "file", "description": "the upload"})[0] == {
        "type": "string",
        "description": "the upload",
        "format": "binary",
    }


def test_constraint_keywords_are_copied_and_non_scalar_values_dropped() -> None:
    schema = {
        "type": "string",
        "format": "email",
        "minLength": 3,
        "maxLength": 99,
        "pattern": "^.+@.+$",
        "readOnly": False,
        "minimum": {"not": "a number"},
        "x-vendor": "ignored",
    }

    assert expand(schema)[0] == {
        "type": "string",
        "format": "email",
        "minLength": 3,
        "maxLength": 99,
        "pattern": "^.+@.+$",
        "readOnly": False,
    }


def test_values_default_example_and_enum_are_json_safe_copies() -> None:
    schema = {
        "type": "string",
        "format": "date",
        "default": dt.date(2024, 1, 2),
        "example": dt.date(2024, 5, 6),
        "enum": [],
    }

    expanded, _, _ = expand(schema)

    assert expanded == {"type": "string", "format": "date", "default": "2024-01-02", "example": "2024-05-06"}


def test_enum_is_capped() -> None:
    expanded, _, _ = expand({"type": "integer", "enum": list(range(1000))})

    assert expanded["enum"] == list(range(200))


def test_title_stands_in_for_a_missing_description_and_long_text_is_cut() -> None:
    assert expand({"title": "Pet id"})[0] == {"description": "Pet id"}
    long = expand({"description": "x" * 500}, max_description_chars=100)[0]["description"]
    assert len(long) == 100 and long.endswith("…")


def test_items_additional_properties_and_tuple_items_are_expanded() -> None:
    schema = {
        "type": "object",
        "properties": {
            "list": {"type": "array", "items": ref("Tag")},
            "map": {"type": "object", "additionalProperties": ref("Tag")},
            "closed": {"type": "object", "additionalProperties": False},
            "pair": {"type": "array", "items": [{"type": "string"}, {"type": "integer"}]},
        },
    }

    expanded, _, _ = expand(schema, Tag={"type": "string"})

    assert expanded["properties"] == {
        "list": {"type": "array", "items": {"type": "string"}},
        "map": {"type": "object", "additionalProperties": {"type": "string"}},
        "closed": {"type": "object", "additionalProperties": False},
        "pair": {"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}]},
    }


def test_false_schema_and_non_schemas() -> None:
    assert expand(False)[0] == {"not": {}}
    assert expand(True)[0] == {}
    assert expand("string")[0] == {}
    assert expand(None)[0] == {}


def test_broken_ref_inside_a_schema_becomes_empty_with_a_warning() -> None:
    expanded, warnings, _ = expand({"type": "array", "items": ref("Missing")})

    assert expanded == {"type": "array", "items": {}}
    assert len(warnings) == 1 and "Missing" in warnings[0]


def test_deep_schemas_are_cut_at_max_depth_and_marked() -> None:
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(6):
        schema = {"type": "object", "properties": {"child": schema}}

    expanded, _, budget = expand(schema, max_depth=2)

    assert expanded == {
        "type": "object",
        "properties": {
            "child": {"type": "object", "properties": {"child": {"type": "object", "x-truncated": True}}}
        },
    }
    assert budget.truncated is False  # cut by depth, not by the node budget


def test_self_containing_yaml_alias_does_not_recurse_forever() -> None:
    node: dict[str, Any] = {"type": "object", "properties": {}}
    node["properties"]["again"] = node
    node["allOf"] = [node]

    expanded, _, _ = expand(node)

    assert expanded == {"type": "object", "properties": {"again": {}}}


def test_ref_dag_that_doubles_at_each_level_stays_within_the_node_budget() -> None:
    # S0 refers twice to S1, which refers twice to S2 ...: 2**40 nodes if inlined naively.
    levels = {
        f"S{i}": {
            "type": "object",
            "allOf": [ref(f"S{i + 1}"), ref(f"S{i + 1}")],
            "properties": {f"p{i}": ref(f"S{i + 1}")},
        }
        for i in range(40)
    }
    levels["S40"] = {"type": "string"}

    expanded, _, budget = expand(ref("S0"), nodes=300, max_depth=64, **levels)

    assert budget.truncated is True
    assert expanded["x-truncated"] is True
    assert count_nodes(expanded) <= 300 * 10  # every node kept was paid for; merged parts add a few
    orjson.dumps(expanded)


# -- bounded_copy -----------------------------------------------------------------------------


def test_bounded_copy_makes_values_json_safe() -> None:
    value = {
        1: "int key",
        "when": dt.datetime(2024, 1, 2, 3, 4, 5),
        "day": dt.date(2024, 1, 2),
        "raw": b"bytes \xff",
        "tuple": (1, 2),
        "nan": math.nan,
        "inf": math.inf,
        "other": {1, 2},
    }

    copied = bounded_copy(value)

    assert copied == {
        "1": "int key",
        "when": "2024-01-02T03:04:05",
        "day": "2024-01-02",
        "raw": "bytes \ufffd",
        "tuple": [1, 2],
        "nan": None,
        "inf": None,
        "other": "{1, 2}",
    }
    orjson.dumps(copied)


def test_bounded_copy_cuts_depth_nodes_lists_and_strings() -> None:
    deep: Any = "leaf"
    for _ in range(12):
        deep = [deep]

    assert bounded_copy(deep, max_depth=3) == [[[[None]]]]
    assert bounded_copy(list(range(10)), max_nodes=5) == [0, 1, 2, 3, None, None, None, None, None, None]
    assert len(bounded_copy(list(range(1000)))) == 200
    assert len(bounded_copy("y" * 5000)) == 2000


@pytest.mark.timeout(10)
def test_bounded_copy_of_a_self_containing_list_and_an_alias_bomb_is_small() -> None:
    loop: list[Any] = []
    loop.append(loop)
    bomb: Any = ["lol"] * 10
    for _ in range(9):
        bomb = [bomb] * 10  # 10**10 leaves, all shared

    assert count_nodes_of(bounded_copy(loop)) <= 10
    assert count_nodes_of(bounded_copy(bomb)) <= 500 * 200


def count_nodes_of(value: Any) -> int:
    if isinstance(value, list):
        return 1 + sum(count_nodes_of(v) for v in value)
    if isinstance(value, dict):
        return 1 + sum(count_nodes_of(v) for v in value.values())
    return 1


# -- text_of ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        ("  padded \n", "padded"),
        (42, "42"),
        (1.5, "1.5"),
        (True, "True"),
        (["Finds", "pets", None, ""], "Finds pets"),
        ({"en": "Hello", "de": "Hallo"}, "Hello Hallo"),
        ([["nested", ["lists"]], {"and": "dicts"}], "nested lists dicts"),
        (dt.date(2024, 1, 2), "2024-01-02"),
    ],
)
def test_text_of_turns_any_description_into_one_string(value: Any, text: str) -> None:
    assert text_of(value) == text


def test_text_of_cuts_long_text_with_an_ellipsis() -> None:
    assert text_of("word " * 100, 20) == "word word word word…"
    assert text_of("exactly20characters!", 20) == "exactly20characters!"
    assert len(text_of(["x" * 30] * 30, 100)) == 100


@pytest.mark.timeout(10)
def test_text_of_a_self_containing_value_terminates() -> None:
    loop: list[Any] = ["start"]
    loop.append(loop)
    looping_dict: dict[str, Any] = {"text": "start"}
    looping_dict["self"] = looping_dict

    assert text_of(loop).startswith("start")
    assert text_of(looping_dict).startswith("start")


@pytest.mark.timeout(10)
def test_text_of_an_alias_bomb_is_quick_and_short() -> None:
    bomb: Any = ["lol"] * 10
    for _ in range(7):
        bomb = [bomb] * 10  # 10**8 shared leaves
    deeper = [[[[bomb]]]]
    started = time.perf_counter()

    text = text_of(bomb, 100)

    assert len(text) == 100 and text.startswith("lol lol")
    assert len(text_of(deeper, 100)) <= 100
    assert time.perf_counter() - started < 1


# -- ToolBench type labels --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schema", "label"),
    [
        ({"type": "string"}, "STRING"),
        ({"type": "integer"}, "NUMBER"),
        ({"type": "number"}, "NUMBER"),
        ({"type": "boolean"}, "BOOLEAN"),
        ({"type": "array"}, "ARRAY"),
        ({"type": "object"}, "OBJECT"),
        ({"type": "null"}, "STRING"),
        ({"type": ["null", "integer"]}, "NUMBER"),
        ({"enum": ["a"]}, "ENUM"),
        ({"type": "string", "enum": ["a"]}, "ENUM"),
        ({"type": "integer", "enum": [1]}, "NUMBER"),
        ({"type": "string", "format": "date"}, "DATE (YYYY-MM-DD)"),
        ({"type": "string", "format": "date-time"}, "STRING"),
        ({"anyOf": [{"type": "boolean"}, {"type": "string"}]}, "BOOLEAN"),
        ({}, "STRING"),
    ],
)
def test_toolbench_type_labels(schema: dict[str, Any], label: str) -> None:
    assert toolbench_type(schema) == label


@pytest.mark.parametrize(
    ("label", "schema"),
    [
        ("STRING", {"type": "string"}),
        ("NUMBER", {"type": "number"}),
        ("number", {"type": "number"}),
        ("INTEGER", {"type": "number"}),
        ("INT", {"type": "number"}),
        ("BOOLEAN", {"type": "boolean"}),
        ("bool", {"type": "boolean"}),
        ("ARRAY", {"type": "array"}),
        ("LIST", {"type": "array"}),
        ("OBJECT", {"type": "object"}),
        ("JSON", {"type": "object"}),
        ("DATE (YYYY-MM-DD)", {"type": "string", "format": "date"}),
        ("ENUM", {"type": "string"}),
        ("TIME (24-hour HH:MM)", {"type": "string"}),
        ("GEOPOINT (latitude, longitude)", {"type": "string"}),
        ("  boolean  ", {"type": "boolean"}),
        ("", {"type": "string"}),
    ],
)
def test_json_type_for_toolbench_labels(label: str, schema: dict[str, Any]) -> None:
    assert json_type_for_toolbench(label) == schema


@pytest.mark.parametrize("label", ["STRING", "NUMBER", "BOOLEAN", "ARRAY", "OBJECT", "DATE (YYYY-MM-DD)"])
def test_labels_survive_a_trip_through_json_schema(label: str) -> None:
    assert toolbench_type(json_type_for_toolbench(label)) == label


# -- template_from_schema ---------------------------------------------------------------------


def test_template_of_nested_objects_and_arrays() -> None:
    schema = {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "score": {"type": "number"},
            "ok": {"type": "boolean"},
            "note": {"type": ["null", "string"]},
            "gone": {"type": "null"},
            "matrix": {"type": "array", "items": {"type": "array", "items": {"type": "integer"}}},
            "owner": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "tags": {"type": "array", "items": {"type": "string"}},
                },
            },
            "rows": {"type": "array", "items": {"type": "object", "properties": {"k": {"type": "string"}}}},
            "anything": {},
            "untyped_list": {"type": "array"},
            "free_map": {"type": "object"},
        },
    }

    assert template_from_schema(schema) == {
        "id": "int",
        "score": "float",
        "ok": "bool",
        "note": "str",
        "gone": "NoneType",
        "matrix": [["int"]],
        "owner": {"name": "str", "tags": ["str"]},
        "rows": [{"k": "str"}],
        "anything": "str",
        "untyped_list": [],
        "free_map": {},
    }


def test_template_of_any_of_follows_the_first_alternative() -> None:
    untyped = {"anyOf": [{"type": "integer"}, {"type": "string"}]}
    objects = {
        "type": "object",  # what expanding oneOf: [Cat, Dog] gives: a shared type, no properties
        "anyOf": [
            {"type": "object", "properties": {"meows": {"type": "boolean"}}},
            {"type": "object", "properties": {"barks": {"type": "boolean"}}},
        ],
    }
    list_of_either = {"type": "array", "items": untyped}

    assert template_from_schema(untyped) == "int"
    assert template_from_schema(objects) == {"meows": "bool"}
    assert template_from_schema(list_of_either) == ["int"]


def test_template_stops_at_max_depth_and_empty_schema_has_none() -> None:
    schema: dict[str, Any] = {"type": "integer"}
    for _ in range(4):
        schema = {"type": "array", "items": schema}

    assert template_from_schema(schema, max_depth=2) == [[["..."]]]
    assert template_from_schema(None) is None
    assert template_from_schema({}) is None
