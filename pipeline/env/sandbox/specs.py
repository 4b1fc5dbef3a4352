"""Reading the bundled OpenAPI documents that describe the sandbox tools.

The documents are the single source of truth: the server routes, validates and authenticates
requests from them, so the specs the pipeline reads and the API it calls cannot drift apart.
One file per tool; the file name (without ``.yaml``) is the tool's slug and its URL prefix.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

HTTP_METHODS = ("get", "post", "put", "patch", "delete")

# libyaml is ~10x faster; sandboxes are created per test, so parsing time adds up.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def sandbox_spec_dir() -> Path:
    """``<repo>/api_specs/sandbox``: this package lives at ``<repo>/pipeline/env/sandbox``."""
    return Path(__file__).resolve().parents[3] / "api_specs" / "sandbox"


@dataclass(frozen=True)
class ApiKeyScheme:
    """An ``apiKey`` security scheme: where the key goes and under which name."""

    location: str  # "header" or "query"
    name: str


@dataclass(frozen=True)
class Operation:
    operation_id: str
    method: str  # upper case
    path: str  # as written in the spec, relative to the tool's server URL
    parameters: tuple[Mapping[str, Any], ...]
    request_body: Mapping[str, Any] | None
    responses: Mapping[str, Any]
    # Alternatives (any one suffices), each a set of schemes that must all be satisfied;
    # empty means no authentication.
    security: tuple[tuple[ApiKeyScheme, ...], ...]


@dataclass(frozen=True)
class ToolSpec:
    slug: str
    source: Path
    document: Mapping[str, Any]
    operations: tuple[Operation, ...]

    @property
    def title(self) -> str:
        return str(self.document["info"]["title"])

    @property
    def categories(self) -> tuple[str, ...]:
        return tuple(self.document["info"].get("x-apisguru-categories", ()))


def load_tool_specs(directory: Path | None = None) -> tuple[ToolSpec, ...]:
    """Every ``*.yaml`` tool spec in ``directory`` (default: the bundled sandbox specs)."""
    folder = Path(directory) if directory is not None else sandbox_spec_dir()
    return tuple(load_tool_spec(path) for path in sorted(folder.glob("*.yaml")))


def load_tool_spec(path: Path) -> ToolSpec:
    document = yaml.load(Path(path).read_text(encoding="utf-8"), Loader=_Loader)
    slug = Path(path).stem
    servers = document.get("servers") or [{}]
    if not str(servers[0].get("url", "")).rstrip("/").endswith(f"/{slug}"):
        raise ValueError(f"{path}: servers[0].url must end with /{slug}, the tool's mount point")
    return ToolSpec(slug, Path(path), document, tuple(_operations(document, path)))


def _operations(document: Mapping[str, Any], source: Path) -> list[Operation]:
    schemes = (document.get("components") or {}).get("securitySchemes") or {}
    default_security = document.get("security") or []
    operations = []
    for path, item in (document.get("paths") or {}).items():
        shared = [resolve_ref(document, p) for p in item.get("parameters", [])]
        for method in HTTP_METHODS:
            if method not in item:
                continue
            op = item[method]
            own = [resolve_ref(document, p) for p in op.get("parameters", [])]
            own_keys = {(p["name"], p["in"]) for p in own}
            parameters = [p for p in shared if (p["name"], p["in"]) not in own_keys] + own
            body = resolve_ref(document, op["requestBody"]) if "requestBody" in op else None
            requirements = op.get("security", default_security)
            operations.append(
                Operation(
                    operation_id=op["operationId"],
                    method=method.upper(),
                    path=path,
                    parameters=tuple(parameters),
                    request_body=body,
                    responses=op.get("responses", {}),
                    security=tuple(_requirement(r, schemes, source) for r in requirements),
                )
            )
    return operations


def _requirement(
    requirement: Mapping[str, Any], schemes: Mapping[str, Any], source: Path
) -> tuple[ApiKeyScheme, ...]:
    result = []
    for name in requirement:
        scheme = schemes.get(name)
        if not scheme or scheme.get("type") != "apiKey":
            raise ValueError(f"{source}: security scheme {name!r} must be a declared apiKey scheme")
        result.append(ApiKeyScheme(location=scheme["in"], name=scheme["name"]))
    return tuple(result)


def resolve_ref(document: Mapping[str, Any], node: Mapping[str, Any]) -> Mapping[str, Any]:
    """Follow a local ``$ref`` (``#/components/...``) to the object it points at."""
    while "$ref" in node:
        target: Any = document
        for part in str(node["$ref"]).removeprefix("#/").split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node
