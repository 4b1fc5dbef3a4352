"""The data that crosses stage boundaries, as pydantic v2 models.

The catalog models keep ToolBench's field names (``tool_name``, ``tool_description``,
``api_list``, ``required_parameters`` ...) so a line of ``catalog/tools.jsonl`` reads as a
ToolBench tool document, and add what ToolBench lacks (types as JSON Schema, locations, body and
response schemas, base URL, auth, category provenance, source).
"""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

ParamLocation = Literal["path", "query", "header", "cookie", "body", "formData"]
PARAM_LOCATIONS: tuple[ParamLocation, ...] = get_args(ParamLocation)
AuthLocation = Literal["header", "query", "cookie"]
AUTH_LOCATIONS: tuple[AuthLocation, ...] = get_args(AuthLocation)
SourceFormat = Literal["openapi-3.0", "openapi-3.1", "swagger-2.0", "toolbench"]
ToolCategoryOrigin = Literal[
    "x-apisguru-categories", "index", "x-category", "tags", "folder", "toolbench", "embedding", "default"
]
"""How a tool's category was chosen: the label a spec declares (where it was found), the
nearest taxonomy entry by embedding similarity (``embedding``), or nothing (``default``)."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class Param(_Model):
    """One argument of an API call.

    ``type`` is ToolBench's upper-case type name (STRING, NUMBER, BOOLEAN, ARRAY, OBJECT ...)
    that ToolBench's function-schema code reads; ``schema_`` is the full JSON Schema that the
    environment validates arguments against.
    """

    name: str
    type: str = "STRING"
    description: str = ""
    default: Any = ""  # ToolBench writes "" for "no default"
    location: ParamLocation = "query"
    required: bool = False
    enum: list[Any] | None = None
    example: Any = None
    schema_: dict[str, Any] = Field(default_factory=dict, alias="schema")

    def dump(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class Auth(_Model):
    """An authentication scheme a tool declares (credentials themselves never live here)."""

    name: str
    kind: Literal["apiKey", "http", "oauth2", "openIdConnect", "unknown"] = "unknown"
    location: AuthLocation | None = None
    parameter: str | None = None  # header or query parameter name for apiKey
    scheme: str | None = None  # "bearer" / "basic" for http


class Api(_Model):
    """One operation of a tool, as ToolBench's ``api_list`` entry plus our fields."""

    name: str
    id: str = ""
    url: str = ""
    method: str = "GET"
    path: str = ""
    description: str = ""
    required_parameters: list[Param] = Field(default_factory=list)
    optional_parameters: list[Param] = Field(default_factory=list)
    body_schema: dict[str, Any] | None = None
    body_content_type: str | None = None
    response_schema: dict[str, Any] | None = None
    template_response: Any = None
    response_example: Any = None
    response_content_types: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    deprecated: bool = False

    @property
    def parameters(self) -> list[Param]:
        return [*self.required_parameters, *self.optional_parameters]


class SourceRef(_Model):
    """Where a tool came from, so every catalog line can be traced back to its file or URL."""

    kind: Literal["file", "url"]
    location: str
    format: SourceFormat
    sha256: str = ""
    index: str | None = None  # the APIs.guru-style index URL that listed this spec


class Tool(_Model):
    """A tool (one API product): ToolBench's tool document plus provenance."""

    id: str = ""
    tool_name: str
    standardized_name: str = ""
    title: str = ""
    tool_description: str = ""
    category: str = "Uncategorized"
    category_origin: ToolCategoryOrigin = "default"
    category_label: str | None = Field(
        default=None, description="the declared label the category was mapped from, when a taxonomy mapped it"
    )
    category_score: float | None = Field(
        default=None, description="cosine similarity of the tool to its category, when the embedding chose it"
    )
    tags: list[str] = Field(default_factory=list, description="the spec's own tags, raw")
    base_url: str = ""
    version: str = ""
    auth: list[Auth] = Field(default_factory=list)
    source: SourceRef
    api_list: list[Api] = Field(default_factory=list)

    def dump(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


SourceStep = Literal["discover", "fetch", "read", "parse", "normalise", "ids", "filter", "dedup", "graph", "ref", "crash", "category"]
"""Where a source failed: the step of collection that was handling it (see
:mod:`pipeline.specs.isolation`). ``ref`` records a ``$ref`` that was refused in a source that
may still have been collected; ``crash`` a reader process that died on the source; ``category``
a tool whose category could not be assigned (it is collected under the fallback category)."""


class SourceError(_Model):
    """A source that could not be read, parsed or understood; recorded, then skipped."""

    source: str
    stage: SourceStep
    reason: str
    detail: str | None = None


class FilteredApi(_Model):
    """An operation dropped by a catalog filter, kept on record with its reason."""

    tool: str
    api: str
    reason: str
    source: str
