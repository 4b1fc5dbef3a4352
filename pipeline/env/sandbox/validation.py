"""Turning a raw HTTP request into typed arguments, or a 400 that names what is wrong.

Query, path and header values arrive as strings; they are converted to the type the spec
declares, checked against the parameter's schema (enum, range, pattern, format), and missing
optional ones get their declared default, so handlers never re-check what the spec promises.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, cast

import orjson
from jsonschema import Draft202012Validator, ValidationError
from jsonschema.exceptions import best_match
from multidict import MultiMapping

from .errors import ApiError, bad_request
from .schemas import SchemaSet
from .specs import Operation

_INTEGER = re.compile(r"^[+-]?\d+$")
_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}


@dataclass(frozen=True)
class _Parameter:
    name: str
    location: str
    required: bool
    schema: Mapping[str, Any]
    validator: Draft202012Validator


class RequestRules:
    """What one operation accepts, compiled once when the app is built."""

    def __init__(
        self, operation: Operation, schemas: SchemaSet, *, extra_query: Collection[str] = ()
    ) -> None:
        self.operation = operation
        self._parameters = [
            _Parameter(
                name=p["name"],
                location=p["in"],
                required=bool(p.get("required", p["in"] == "path")),
                schema=_resolved(schemas, p.get("schema") or {"type": "string"}),
                validator=schemas.validator(p.get("schema") or {}),
            )
            for p in operation.parameters
        ]
        self._known_query = {p.name for p in self._parameters if p.location == "query"} | set(extra_query)
        body = operation.request_body
        media = ((body or {}).get("content") or {}).get("application/json")
        self._body_required = bool(body and body.get("required"))
        self._body_validator = schemas.validator(media.get("schema") or {}) if media else None

    @property
    def takes_body(self) -> bool:
        return self._body_validator is not None

    def arguments(
        self, path: Mapping[str, str], query: MultiMapping[str], headers: Mapping[str, str]
    ) -> dict[str, Any]:
        unknown = sorted(set(query) - self._known_query)
        if unknown:
            known = ", ".join(sorted(self._known_query)) or "none"
            raise bad_request(
                f"Unknown query parameter '{unknown[0]}'. Accepted parameters: {known}.",
                param=unknown[0],
                code="unknown_parameter",
            )
        arguments: dict[str, Any] = {}
        for parameter in self._parameters:
            raw = _raw_value(parameter, path, query, headers)
            if raw is None:
                if parameter.required:
                    raise bad_request(
                        f"Missing required {parameter.location} parameter '{parameter.name}'.",
                        param=parameter.name,
                        code="missing_parameter",
                    )
                if "default" in parameter.schema:
                    arguments[parameter.name] = parameter.schema["default"]
                continue
            value = _convert(parameter, raw)
            error = best_match(parameter.validator.iter_errors(value))
            if error is not None:
                raise bad_request(
                    f"Invalid value for parameter '{parameter.name}': {error.message}.",
                    param=parameter.name,
                )
            arguments[parameter.name] = value
        return arguments

    def body(self, raw: bytes) -> Any:
        if self._body_validator is None:
            return None
        if not raw.strip():
            if self._body_required:
                raise bad_request("A JSON request body is required.", code="invalid_body")
            return None
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError as error:
            raise bad_request(f"The request body is not valid JSON: {error}.", code="invalid_body") from None
        invalid = best_match(self._body_validator.iter_errors(value))
        if invalid is not None:
            raise _body_error(invalid)
        return value


def _resolved(schemas: SchemaSet, schema: Mapping[str, Any]) -> Mapping[str, Any]:
    """The parameter schema with its own and its array items' ``$ref`` followed (for type and default)."""
    schema = schemas.resolve(schema)
    if schema.get("type") == "array" and isinstance(schema.get("items"), Mapping):
        schema = {**schema, "items": schemas.resolve(schema["items"])}
    return schema


def _raw_value(
    parameter: _Parameter, path: Mapping[str, str], query: MultiMapping[str], headers: Mapping[str, str]
) -> list[str] | None:
    if parameter.location == "path":
        values = [path[parameter.name]] if parameter.name in path else []
    elif parameter.location == "query":
        values = list(query.getall(parameter.name, []))
    elif parameter.location == "header":
        values = [headers[parameter.name]] if parameter.name in headers else []
    else:
        values = []
    # An empty value (``?genre=``) is how many clients send "not set"; treat it so.
    values = [v for v in values if v.strip() != ""]
    return values or None


def _convert(parameter: _Parameter, raw: list[str]) -> Any:
    schema = parameter.schema
    if schema.get("type") == "array":
        # Accept both ``?a=1&a=2`` (form, explode) and ``?a=1,2`` (form, no explode).
        items = [part.strip() for value in raw for part in value.split(",") if part.strip()]
        item_schema = schema.get("items") or {}
        return [_scalar(parameter.name, item, item_schema.get("type", "string")) for item in items]
    return _scalar(parameter.name, raw[-1], schema.get("type", "string"))


def _scalar(name: str, raw: str, kind: str) -> Any:
    text = raw.strip()
    if kind == "integer":
        if not _INTEGER.match(text):
            raise bad_request(
                f"Invalid value for parameter '{name}': expected an integer, got {raw!r}.", param=name
            )
        return int(text)
    if kind == "number":
        try:
            number = float(text)
        except ValueError:
            number = math.nan
        if not math.isfinite(number):
            raise bad_request(
                f"Invalid value for parameter '{name}': expected a number, got {raw!r}.", param=name
            )
        return number
    if kind == "boolean":
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise bad_request(
            f"Invalid value for parameter '{name}': expected true or false, got {raw!r}.", param=name
        )
    return raw


def _body_error(error: ValidationError) -> ApiError:
    location = _json_path(error.absolute_path)
    param = str(error.absolute_path[0]) if error.absolute_path else None
    if error.validator == "required" and isinstance(error.instance, dict):
        required = cast(list[str], error.validator_value)  # a "required" error carries that keyword's array
        missing = [name for name in required if name not in error.instance]
        if missing:
            field = f"{location}.{missing[0]}" if location else missing[0]
            return bad_request(
                f"Invalid request body: missing required field '{field}'.",
                param=param or missing[0],
                code="invalid_body",
            )
    where = f" at '{location}'" if location else ""
    return bad_request(f"Invalid request body{where}: {error.message}.", param=param, code="invalid_body")


def _json_path(parts: Collection[Any]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text
