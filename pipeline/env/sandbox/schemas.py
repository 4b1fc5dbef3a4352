"""Checking values against the JSON schemas of an OpenAPI 3.0 document.

OpenAPI 3.0 schemas are almost JSON Schema; the differences that matter here are ``nullable``
(turned into a ``"null"`` type) and ``$ref`` pointers into the document's ``components``, which
resolve because every validator's root schema carries the document's components beside it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

from .specs import resolve_ref


def to_json_schema(node: Any) -> Any:
    """Copy an OpenAPI 3.0 schema (or any part of a document) as plain JSON Schema."""
    if isinstance(node, list):
        return [to_json_schema(item) for item in node]
    if not isinstance(node, Mapping):
        return node
    converted = {key: to_json_schema(value) for key, value in node.items() if key != "nullable"}
    if node.get("nullable") is True:
        if "type" in converted:
            converted["type"] = [converted["type"], "null"]
        if "enum" in converted:
            converted["enum"] = [*converted["enum"], None]
        if "$ref" in converted or "allOf" in converted or "oneOf" in converted:
            converted = {"anyOf": [converted, {"type": "null"}]}
    return converted


def format_checker() -> FormatChecker:
    """Formats checked the same way on every machine (jsonschema's depend on extras)."""
    checker = FormatChecker(formats=("email",))

    @checker.checks("date", raises=ValueError)
    def _is_date(value: object) -> bool:
        if not isinstance(value, str):
            return True
        if len(value) != 10:
            raise ValueError("expected YYYY-MM-DD")
        date.fromisoformat(value)
        return True

    @checker.checks("date-time", raises=ValueError)
    def _is_date_time(value: object) -> bool:
        if not isinstance(value, str):
            return True
        if "T" not in value or datetime.fromisoformat(value).tzinfo is None:
            raise ValueError("expected an ISO 8601 date-time with a time zone, e.g. 2025-06-03T09:30:00Z")
        return True

    return checker


class SchemaSet:
    """Builds validators for schemas that live in (or point into) one OpenAPI document."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self._document = document
        self._components = to_json_schema(document.get("components") or {})
        self._formats = format_checker()

    def resolve(self, node: Mapping[str, Any]) -> Mapping[str, Any]:
        """Follow a local ``$ref`` (``#/components/...``) to the schema it points at."""
        return resolve_ref(self._document, node)

    def validator(self, schema: Mapping[str, Any]) -> Draft202012Validator:
        root = dict(to_json_schema(schema))
        root["components"] = self._components
        return Draft202012Validator(root, format_checker=self._formats)
