"""Function schemas as a model server takes them: JSON Schema only.

The catalog's functions follow ToolBench (an ``optional`` list beside ``required``, an
``example_value`` per parameter). OpenAI's strict function calling and vLLM's tool parsers want
standard JSON Schema, so what is *sent* to a model is cleaned: ``optional`` dropped (``required``
already says it), ``example_value`` and OpenAPI's ``example`` turned into JSON Schema's
``examples``. The search keeps the ToolBench form in its trajectories (ToolBench's own files
carry it). Only schema positions are walked, so a *property* named ``optional`` is kept.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

# Where a JSON Schema holds subschemas (2020-12): by name, in a list, or one. Walking only these
# positions keeps a *property* named "optional" or "example" (the exports' cleaning walks them too).
SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
SCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
SCHEMA_ONES = ("items", "additionalProperties", "not", "contains", "if", "then", "else",
               "propertyNames", "unevaluatedProperties", "unevaluatedItems", "additionalItems")
_NOT_JSON_SCHEMA = ("optional", "example_value", "example", "nullable", "x-example")


def json_schema_only(schema: Any) -> Any:
    """``schema`` with ToolBench's and OpenAPI's extra keys turned into JSON Schema."""
    if not isinstance(schema, dict):
        return schema
    cleaned: dict[str, Any] = {}
    # the single example first (what ToolBench shows a model), then the schema's own list
    examples: list[Any] = []
    for key in ("example_value", "example", "x-example"):
        if schema.get(key) is not None and schema[key] not in examples:
            examples.append(schema[key])
    if isinstance(schema.get("examples"), list):
        examples += [value for value in schema["examples"] if value not in examples]
    for key, value in schema.items():
        if key in ("example_value", "example", "x-example"):
            continue
        if key == "nullable":
            if value is True and isinstance(schema.get("type"), str):
                cleaned["type"] = [schema["type"], "null"]
            continue
        if key in ("optional", "examples"):
            continue
        if key in SCHEMA_MAPS and isinstance(value, dict):
            cleaned[key] = {name: json_schema_only(sub) for name, sub in value.items()}
        elif key in SCHEMA_LISTS and isinstance(value, list):
            cleaned[key] = [json_schema_only(sub) for sub in value]
        elif key in SCHEMA_ONES:
            cleaned[key] = [json_schema_only(s) for s in value] if isinstance(value, list) else json_schema_only(value)
        elif key == "type" and "type" in cleaned:
            continue  # already widened by nullable
        else:
            cleaned[key] = value
    if examples:
        cleaned["examples"] = examples
    return cleaned


def model_tools(tools: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """OpenAI ``tools`` whose parameter schemas are JSON Schema only (see the module doc)."""
    sent: list[dict[str, Any]] = []
    for tool in tools:
        copied = copy.deepcopy(dict(tool))
        function = copied.get("function")
        if isinstance(function, dict) and isinstance(function.get("parameters"), dict):
            function["parameters"] = json_schema_only(function["parameters"])
        sent.append(copied)
    return sent
