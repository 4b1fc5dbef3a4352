"""Read one source file into catalog tools: the unit of work the collector runs in parallel.

:func:`read_source` never raises for a bad source: it runs inside the per-source boundary
(:mod:`pipeline.specs.isolation`), so whatever goes wrong becomes the outcome's ``error`` with
a reason a person can act on, and one broken spec among thousands costs only itself.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from pipeline.models import SourceError, SourceRef, Tool
from pipeline.specs.document import parse_document, read_bytes
from pipeline.specs.isolation import SourceRejected, SourceSteps, isolated
from pipeline.specs.openapi import NotASpec, ReadContext, ReadOptions, read_openapi, spec_format
from pipeline.specs.refs import RefResolver
from pipeline.toolbench.documents import is_toolbench_tool, read_toolbench


class SourceTask(BaseModel):
    """One file to read: a local spec, or the cached body of a fetched one."""

    path: Path
    location: str = Field(description="what the user knows the source as: a path or URL")
    kind: Literal["file", "url"] = "file"
    folder_category: str | None = None
    index: str | None = None
    index_categories: list[str] = Field(default_factory=list)


class SourceOutcome(BaseModel):
    location: str
    tools: list[dict[str, Any]] = Field(default_factory=list)
    error: SourceError | None = None
    warnings: list[str] = Field(default_factory=list)
    refused_refs: list[str] = Field(default_factory=list, description="$refs not followed, and why")


def read_source(task: SourceTask, options: ReadOptions) -> SourceOutcome:
    """Parse and normalise one source; the tool comes back as a dict, failures as ``outcome.error``."""
    outcome = SourceOutcome(location=task.location)

    def work(steps: SourceSteps) -> SourceOutcome:
        tool = read_tool(task, options, steps, outcome.warnings, outcome.refused_refs)
        outcome.tools.append(tool.dump())
        return outcome

    def failed(error: SourceError) -> SourceOutcome:
        outcome.tools.clear()
        outcome.error = error
        return outcome

    return isolated(task.location, work, failed, memory_budget_mb=options.max_reader_memory_mb)


def read_tool(
    task: SourceTask,
    options: ReadOptions,
    steps: SourceSteps,
    warnings: list[str],
    refused_refs: list[str],
) -> Tool:
    """Read, parse and normalise one source into a :class:`Tool`.

    Runs inside :func:`~pipeline.specs.isolation.isolated` (``steps`` says how far it got) and
    raises when the source cannot be used. ``warnings`` and ``refused_refs`` are filled as the
    read goes, so they are kept whether it succeeds or not.
    """
    steps.enter("read")
    data = read_bytes(task.path, options.max_file_bytes)
    steps.enter("parse")
    doc = parse_document(data, task.location)
    steps.enter("normalise")
    source = SourceRef(
        kind=task.kind,
        location=task.location,
        format="openapi-3.0",  # set properly by the reader that accepts the document
        sha256=hashlib.sha256(data).hexdigest(),
        index=task.index,
    )
    del data  # a big file's bytes need not wait for its normalised tool
    context = ReadContext(
        source=source,
        folder_category=task.folder_category,
        index_categories=task.index_categories,
        warnings=warnings,
    )
    tool = _read_document(doc, task, context, options, refused_refs)
    if not tool.api_list:
        reason = "no operations found"
        if warnings:
            reason += f" ({len(warnings)} skipped: {warnings[0]})"
        raise SourceRejected(reason)
    return tool


def _read_document(
    doc: Any, task: SourceTask, context: ReadContext, options: ReadOptions, refused_refs: list[str]
) -> Tool:
    if spec_format(doc) is not None:
        resolver = RefResolver(
            doc,
            path=task.path if task.kind == "file" else None,
            max_hops=options.max_ref_hops,
            max_file_bytes=options.max_file_bytes,
            refused=refused_refs,
        )
        return read_openapi(doc, context, resolver, options)
    if is_toolbench_tool(doc):
        return read_toolbench(doc, context, options)
    raise NotASpec(_describe_unknown(doc))


def _describe_unknown(doc: Any) -> str:
    if isinstance(doc, dict):
        if doc and all(isinstance(v, dict) and "versions" in v for v in list(doc.values())[:5]):
            return "an APIs.guru-style index: pass its URL to collect the specs it lists"
        keys = ", ".join(sorted(str(k) for k in list(doc)[:6]))
        return f"not an OpenAPI, Swagger or ToolBench document (top-level keys: {keys or 'none'})"
    return f"not an OpenAPI, Swagger or ToolBench document (top level is a {type(doc).__name__})"
