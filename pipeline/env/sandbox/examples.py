"""The request an operation's documented examples describe.

Every sandbox parameter and request body carries an ``example`` that is valid against the
seeded data, so this request is a working call: the conformance tests send it, and rule-based
agents and smoke checks can use it as a known-good starting point.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .app import SANDBOX_API_KEY
from .specs import Operation, ToolSpec


@dataclass(frozen=True)
class ExampleRequest:
    method: str
    path: str  # relative to the tool's server URL, path parameters filled in
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None


def example_value(parameter: Mapping[str, Any]) -> Any:
    """The parameter's example, else its schema's example, default or first enum value."""
    schema = parameter.get("schema") or {}
    for source in (parameter, schema):
        if "example" in source:
            return source["example"]
    if "default" in schema:
        return schema["default"]
    if schema.get("enum"):
        return schema["enum"][0]
    raise ValueError(f"parameter {parameter.get('name')!r} has no example, default or enum")


def example_request(
    spec: ToolSpec, operation: Operation, *, optional: bool = True, api_key: str = SANDBOX_API_KEY
) -> ExampleRequest:
    """Build the call from examples; ``optional=False`` sends only the required parameters."""
    path = operation.path
    query: dict[str, str] = {}
    headers: dict[str, str] = {}
    for parameter in operation.parameters:
        if not parameter.get("required") and not optional:
            continue
        if not parameter.get("required") and "example" not in parameter:
            continue
        text = _as_text(example_value(parameter))
        if parameter["in"] == "path":
            path = path.replace("{" + parameter["name"] + "}", text)
        elif parameter["in"] == "query":
            query[parameter["name"]] = text
        elif parameter["in"] == "header":
            headers[parameter["name"]] = text
    for scheme in operation.security[0] if operation.security else ():
        (headers if scheme.location == "header" else query)[scheme.name] = api_key
    body = None
    if operation.request_body is not None:
        media = operation.request_body["content"]["application/json"]
        body = media.get("example", (media.get("schema") or {}).get("example"))
    return ExampleRequest(operation.method, path, query, headers, body)


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(_as_text(item) for item in value)
    return str(value)
