"""Tool schemas in exports are JSON Schema only, and load with ``datasets`` whatever the examples."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from datasets import load_dataset
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from pipeline.export.common import (
    CALL_ID_LENGTH,
    EVAL,
    TRAIN,
    clean_function,
    clean_schema,
    observation_failed,
    short_call_id,
)
from pipeline.export.stage import export_datasets
from pipeline.io import read_jsonl, write_jsonl
from pipeline.records import accepted_path
from tests.export.conftest import settings_for

OPENAPI_KEYS = ("example", "examples", "example_value", "optional", "nullable", "x-order", "in", "style",
                "explode", "xml", "discriminator", "externalDocs")


def test_openapi_and_toolbench_keys_are_removed_and_examples_described() -> None:
    schema = {
        "type": "object", "required": ["id"], "optional": ["q"], "x-tag": "a",
        "properties": {
            "id": {"type": "int", "example": 42, "nullable": True, "in": "path"},
            "q": {"type": "string", "description": "Search text.", "examples": ["pizza", 3],
                  "example_value": "ignored: example_value is used first"},
            "tags": {"type": "array", "items": {"type": "string", "example": "x", "required": True}},
            "when": {"type": "string", "examples": {"today": {"value": "2024-01-01"}}},
            "example": {"type": "string"},  # a property named like a keyword is a property
        },
    }
    assert clean_schema(schema) == {
        "type": "object", "required": ["id"],
        "properties": {
            "id": {"type": ["integer", "null"], "description": "Example: 42"},
            "q": {"type": "string", "description": "Search text. Example: ignored: example_value is used first"},
            "tags": {"type": "array", "items": {"type": "string", "description": "Example: x"}},
            "when": {"type": "string", "description": "Example: 2024-01-01"},
            "example": {"type": "string"},
        },
    }


def test_long_examples_are_cut_and_functions_always_have_an_object_schema() -> None:
    cleaned = clean_schema({"type": "string", "example": "word " * 100})
    assert cleaned["description"].startswith("Example: word word") and len(cleaned["description"]) <= 90
    assert clean_function({"name": "f", "description": None, "parameters": None}) == {
        "name": "f", "description": "", "parameters": {"type": "object", "properties": {}}}


_KEYS = st.sampled_from(["type", "description", "title", "enum", "default", "format", "minimum", "required",
                         "items", "properties", "anyOf", "additionalProperties", *OPENAPI_KEYS])
_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=8),
                     st.sampled_from(["string", "int", "number", "object", "array", "file", "null"]))
_VALUES = st.recursive(_SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                         st.dictionaries(st.text(max_size=5), inner, max_size=3)),
                       max_leaves=12)
_SCHEMAS = st.recursive(st.dictionaries(_KEYS, _VALUES, max_size=5),
                        lambda inner: st.dictionaries(_KEYS, st.one_of(_VALUES, inner,
                                                                       st.dictionaries(st.text(max_size=5), inner,
                                                                                       max_size=3)), max_size=5),
                        max_leaves=20)


def _keys_in_schema_positions(schema: Any) -> set[str]:
    if not isinstance(schema, dict):
        return set()
    keys = set(schema)
    for key, value in schema.items():
        if key == "properties" and isinstance(value, dict):
            for sub in value.values():
                keys |= _keys_in_schema_positions(sub)
        elif key in ("items", "additionalProperties"):
            keys |= _keys_in_schema_positions(value)
        elif key == "anyOf" and isinstance(value, list):
            for sub in value:
                keys |= _keys_in_schema_positions(sub)
    return keys


@settings(max_examples=100, deadline=None)
@given(_SCHEMAS)
def test_any_schema_comes_out_free_of_openapi_keys(schema: dict[str, Any]) -> None:
    cleaned = clean_schema(schema)
    assert not _keys_in_schema_positions(cleaned) & set(OPENAPI_KEYS)
    if isinstance(cleaned.get("type"), str):
        assert cleaned["type"] in {"string", "number", "integer", "boolean", "object", "array", "null"}
    if "required" in cleaned:
        assert all(isinstance(name, str) for name in cleaned["required"])
    json.dumps(cleaned)  # still plain JSON


@given(st.text(max_size=40), st.text(max_size=40), st.integers(min_value=0, max_value=200))
def test_call_ids_are_nine_alphanumerics_and_stable(query_id: str, query: str, index: int) -> None:
    one = short_call_id(query_id, query, index)
    assert len(one) == CALL_ID_LENGTH and one.isascii() and one.isalnum()
    assert one == short_call_id(query_id, query, index)


def test_error_observations_are_recognised_even_when_cut() -> None:
    assert observation_failed('{"error": "HTTP 404: no such city", "response": ""}')
    assert not observation_failed('{"error": "", "response": {"temp": 3}}')
    assert observation_failed('{"error": "Rate limited, try again in a minute and ...(truncated)')
    assert not observation_failed('{"error": "", "response": [1, 2, 3, 4 ...(truncated)')
    assert not observation_failed("plain text answer")


def mixed_records() -> list[dict[str, Any]]:
    """Two samples whose tools give one property examples of different types (what Arrow's type
    inference trips over), plus OpenAPI keys."""
    records = []
    for n, example in enumerate([5, "five", [5], {"n": 5}]):
        tool = {"type": "function", "function": {"name": "count_for_demo", "description": "Count.",
                                                 "parameters": {"type": "object", "properties": {
                                                     "limit": {"type": "integer", "example": example,
                                                               "examples": [example, "x"], "nullable": True},
                                                     "text": {"type": "string", "example_value": example}},
                                                     "required": ["limit"], "optional": ["text"]}}}
        finish = {"type": "function", "function": {"name": "Finish", "description": "Finish.",
                                                   "parameters": {"type": "object", "properties": {}}}}
        query = f"Count to {n} for me, please, in sample number {n}."
        answer = json.dumps({"return_type": "give_answer", "final_answer": f"Counted to {n}."})
        records.append({
            "query": query, "query_id": n, "group": "G1", "finish_type": "give_answer",
            "tools": [tool, finish], "verification": {"passed": True, "format": {"passed": True}},
            "messages": [
                {"role": "system", "content": "You are AutoGPT."},
                {"role": "user", "content": query},
                {"role": "assistant", "content": "Thought: count.", "tool_calls": [
                    {"id": f"c{n}", "type": "function", "function": {"name": "count_for_demo",
                                                                     "arguments": json.dumps({"limit": n})}}]},
                {"role": "tool", "tool_call_id": f"c{n}", "content": json.dumps({"error": "", "response": n})},
                {"role": "assistant", "content": "Thought: done.", "tool_calls": [
                    {"id": f"f{n}", "type": "function", "function": {"name": "Finish", "arguments": answer}}]},
            ],
        })
    return records


def test_openai_and_hf_load_with_datasets_despite_mixed_type_examples(tmp_path: Path) -> None:
    write_jsonl(accepted_path(tmp_path), mixed_records())
    reports = export_datasets(settings_for(tmp_path, export={"eval_fraction": 0.0}), ["openai", "hf"],
                              run_dir=tmp_path)
    for fmt, report in reports.items():
        path = tmp_path / "datasets" / fmt / f"{TRAIN}.jsonl"
        loaded = load_dataset("json", data_files={TRAIN: str(path)})[TRAIN]
        assert loaded.num_rows == report.rows[TRAIN] == 4
        assert report.rows[EVAL] == 0
        for row in read_jsonl(path):
            for tool in row["tools"]:
                parameters = tool["function"]["parameters"]
                Draft202012Validator.check_schema(parameters)
                text = json.dumps(parameters)
                assert not any(f'"{key}"' in text for key in ("example", "examples", "example_value", "optional",
                                                               "nullable")), text
                assert parameters["properties"]["limit"]["type"] == ["integer", "null"]
                assert "Example: " in parameters["properties"]["limit"]["description"]
