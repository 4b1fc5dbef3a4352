"""Validators built from an OpenAPI document follow its $refs and understand `nullable`,
so the conformance tests really check responses against the declared schemas."""

from __future__ import annotations

from pipeline.env.sandbox.schemas import SchemaSet, to_json_schema

DOCUMENT = {
    "components": {
        "schemas": {
            "City": {
                "type": "object",
                "required": ["id", "name"],
                "properties": {"id": {"type": "integer"}, "name": {"type": "string"}},
            },
            "Page": {
                "type": "object",
                "required": ["results", "next"],
                "properties": {
                    "results": {"type": "array", "items": {"$ref": "#/components/schemas/City"}},
                    "next": {"type": "string", "nullable": True},
                },
            },
        }
    }
}


def _errors(instance: object) -> list[str]:
    validator = SchemaSet(DOCUMENT).validator({"$ref": "#/components/schemas/Page"})
    return [error.message for error in validator.iter_errors(instance)]


def test_refs_into_components_are_followed_and_enforced() -> None:
    assert _errors({"results": [{"id": 1, "name": "Paris"}], "next": "/geo/cities?offset=10"}) == []
    assert _errors({"results": [{"id": "one", "name": "Paris"}], "next": None}) == [
        "'one' is not of type 'integer'"
    ]
    assert _errors({"results": [{"id": 1}], "next": None}) == ["'name' is a required property"]


def test_nullable_admits_null_and_nothing_else() -> None:
    assert _errors({"results": [], "next": None}) == []
    assert _errors({"results": [], "next": 3}) == ["3 is not of type 'string', 'null'"]
    assert to_json_schema({"type": "string", "enum": ["a"], "nullable": True}) == {
        "type": ["string", "null"],
        "enum": ["a", None],
    }


def test_formats_are_checked_the_same_everywhere() -> None:
    validator = SchemaSet({}).validator({"type": "string", "format": "date-time"})
    assert not list(validator.iter_errors("2025-06-03T09:30:00Z"))
    assert list(validator.iter_errors("2025-06-03 09:30"))  # no time zone
    dates = SchemaSet({}).validator({"type": "string", "format": "date"})
    assert list(dates.iter_errors("20250603")) and not list(dates.iter_errors("2025-06-03"))
