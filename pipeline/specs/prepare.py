"""The worker side of collection: one source in, a catalog line ready to write out.

Everything that concerns one tool alone happens here, in the reader process: parsing,
normalising, API ids, the per-API filters, the duplicate keys, the graph summary and the JSON
line itself, all inside one per-source boundary (:mod:`pipeline.specs.isolation`). The
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
from pipeline.specs.isolation import SourceSteps, cap_memory, isolated
from pipeline.specs.openapi import ReadOptions
from pipeline.specs.read import SourceTask, read_tool


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
    refused_refs: list[str] = Field(default_factory=list, description="$refs not followed, and why")
    emptied_by_filters: bool = False


def prepare_source(task: SourceTask, options: ReadOptions, rules: FilterSettings) -> PreparedSource:
    """Read ``task`` and make its catalog line; never raises for a bad source.

    Every step runs inside the one per-source boundary, so a failure in any of them (reading,
    normalising, ids, filters, the duplicate key, the graph summary) is this source's error.
    """
    prepared = PreparedSource(location=task.location)
    warnings: list[str] = []

    def work(steps: SourceSteps) -> PreparedSource:
        tool = read_tool(task, options, steps, warnings, prepared.refused_refs)
        steps.enter("ids")
        tool.id = base_tool_id(tool.title or tool.tool_name)
        tool.standardized_name = tool.standardized_name or standardize(tool.tool_name)
        for api, api_id in zip(tool.api_list, api_ids([a.name for a in tool.api_list]), strict=True):
            api.id = api_id
        steps.enter("filter")
        prepared.filtered = apply_filters(tool, rules)
        if not tool.api_list:
            prepared.emptied_by_filters = True
            return prepared
        steps.enter("normalise")
        line = tool.model_dump_json(by_alias=True, exclude_none=True).encode("utf-8")
        steps.enter("dedup")
        operations = [(api.id, *operation_key(tool, api)) for api in tool.api_list]
        steps.enter("graph")
        summary = summarise(tool)
        prepared.tool = PreparedTool(
            line=line,
            proposed_id=tool.id,
            title=tool.title or tool.tool_name,
            location=tool.source.location,
            format=tool.source.format,
            operations=operations,
            summary=summary,
        )
        return prepared

    def failed(error: SourceError) -> PreparedSource:
        # what was made of a source before it failed is not kept: it has no tool to belong to
        prepared.tool, prepared.filtered, prepared.emptied_by_filters = None, [], False
        prepared.error = error
        return prepared

    outcome = isolated(task.location, work, failed, memory_budget_mb=options.max_reader_memory_mb)
    outcome.warnings = len(warnings)
    return outcome


def reader_initializer(memory_mb: int | None) -> None:
    """Worker initializer: parsing settings for a reader process, and its memory cap."""
    tune_gc_for_parsing()
    if memory_mb is not None:
        cap_memory(memory_mb)


def tune_gc_for_parsing() -> None:
    """Parsing makes millions of small, acyclic objects.

    With the default thresholds the cycle collector rescans them (and every imported module's
    objects) over and over; that cost more than the YAML parsing itself. Imported objects are
    frozen out of collection and collections are made rare.
    """
    relax_gc((100_000, 50, 100))
