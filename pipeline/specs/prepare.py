"""The worker side of collection: one source in, a catalog line ready to write out.

Everything that concerns one tool alone happens here, in the reader process: parsing,
normalising, API ids, the per-API filters, the graph summary and the JSON line itself. The
collector's main process then only decides what needs the whole catalog (the final tool id and
duplicate operations), so it handles small summaries and bytes, never re-validates or
re-serialises a tool (with big specs that second pass cost as much as reading them).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from pipeline.gc_tuning import relax_gc
from pipeline.models import FilteredApi, SourceError
from pipeline.settings import FilterSettings
from pipeline.specs.filters import apply_filters, operation_key
from pipeline.specs.graph import ToolSummary, summarise
from pipeline.specs.ids import api_ids, base_tool_id, standardize
from pipeline.specs.openapi import ReadOptions
from pipeline.specs.read import SourceTask, read_tool, unserialisable


class PreparedTool(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    line: bytes = Field(description="the tool as one JSON line, with the proposed id")
    proposed_id: str
    title: str
    location: str
    format: str
    operations: list[tuple[str, str, str]] = Field(description="(api id, method, URL key) per API")
    summary: ToolSummary


class PreparedSource(BaseModel):
    location: str
    tool: PreparedTool | None = None
    filtered: list[FilteredApi] = Field(default_factory=list)
    error: SourceError | None = None
    warnings: int = 0
    emptied_by_filters: bool = False


def prepare_source(task: SourceTask, options: ReadOptions, rules: FilterSettings) -> PreparedSource:
    """Read ``task`` and make its catalog line; never raises for a bad source."""
    tool, outcome = read_tool(task, options)
    prepared = PreparedSource(location=task.location, error=outcome.error, warnings=len(outcome.warnings))
    if tool is None:
        return prepared
    tool.id = base_tool_id(tool.title or tool.tool_name)
    tool.standardized_name = tool.standardized_name or standardize(tool.tool_name)
    for api, api_id in zip(tool.api_list, api_ids([a.name for a in tool.api_list]), strict=True):
        api.id = api_id
    prepared.filtered = apply_filters(tool, rules)
    if not tool.api_list:
        prepared.emptied_by_filters = True
        return prepared
    try:
        line = tool.model_dump_json(by_alias=True, exclude_none=True).encode("utf-8")
    except Exception as error:  # noqa: BLE001 - a value a reader failed to bound
        prepared.error = unserialisable(task, error)
        return prepared
    prepared.tool = PreparedTool(
        line=line,
        proposed_id=tool.id,
        title=tool.title or tool.tool_name,
        location=tool.source.location,
        format=tool.source.format,
        operations=[(api.id, *operation_key(tool, api)) for api in tool.api_list],
        summary=summarise(tool),
    )
    return prepared


def tune_gc_for_parsing() -> None:
    """Worker initializer: parsing makes millions of small, acyclic objects.

    With the default thresholds the cycle collector rescans them (and every imported module's
    objects) over and over; that cost more than the YAML parsing itself. Imported objects are
    frozen out of collection and collections are made rare.
    """
    relax_gc((100_000, 50, 100))
