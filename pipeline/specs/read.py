"""Read one source file into catalog tools: the unit of work the collector runs in parallel.

:func:`read_source` never raises for a bad source: whatever goes wrong becomes the outcome's
``error`` with a reason a person can act on, so one broken spec among thousands costs only
itself.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from pipeline.models import SourceError, SourceRef, Tool
from pipeline.specs.document import DocumentError, parse_document, read_bytes
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


def read_source(task: SourceTask, options: ReadOptions) -> SourceOutcome:
    """Parse and normalise one source; the tool comes back as a dict, failures as ``outcome.error``."""
    tool, outcome = read_tool(task, options)
    if tool is not None:
        try:
            outcome.tools.append(tool.dump())
        except Exception as error:  # noqa: BLE001 - a value a reader failed to bound
            outcome.error = unserialisable(task, error)
    return outcome


def unserialisable(task: SourceTask, error: Exception) -> SourceError:
    return SourceError(
        source=task.location,
        stage="normalise",
        reason=f"could not be understood ({type(error).__name__}: {error})",
    )


def read_tool(task: SourceTask, options: ReadOptions) -> tuple[Tool | None, SourceOutcome]:
    """Parse and normalise one source into a :class:`Tool`; never raises for a bad source.

    Returns the tool (``None`` when the source failed) and an outcome holding the error and
    the warnings; the outcome's ``tools`` is left for the caller to fill.
    """
    outcome = SourceOutcome(location=task.location)
    try:
        data = read_bytes(task.path, options.max_file_bytes)
    except OSError as error:
        outcome.error = SourceError(source=task.location, stage="read", reason=f"cannot read: {error.strerror or error}")
        return None, outcome
    except DocumentError as error:
        outcome.error = SourceError(source=task.location, stage="read", reason=str(error))
        return None, outcome
    try:
        doc = parse_document(data, task.location)
    except DocumentError as error:
        outcome.error = SourceError(source=task.location, stage="parse", reason=str(error))
        return None, outcome

    source = SourceRef(
        kind=task.kind,
        location=task.location,
        format="openapi-3.0",  # set properly by the reader that accepts the document
        sha256=hashlib.sha256(data).hexdigest(),
        index=task.index,
    )
    context = ReadContext(
        source=source,
        folder_category=task.folder_category,
        index_categories=task.index_categories,
        warnings=outcome.warnings,
    )
    try:
        tool = _read_document(doc, task, context, options)
    except NotASpec as error:
        outcome.error = SourceError(source=task.location, stage="normalise", reason=str(error))
        return None, outcome
    except RecursionError:
        outcome.error = SourceError(source=task.location, stage="normalise", reason="structure nested too deeply")
        return None, outcome
    except Exception as error:  # noqa: BLE001 - a reader bug must cost one source, not the run
        outcome.error = unserialisable(task, error)
        return None, outcome
    if not tool.api_list:
        reason = "no operations found"
        if outcome.warnings:
            reason += f" ({len(outcome.warnings)} skipped: {outcome.warnings[0]})"
        outcome.error = SourceError(source=task.location, stage="normalise", reason=reason)
        return None, outcome
    return tool, outcome


def _read_document(doc: Any, task: SourceTask, context: ReadContext, options: ReadOptions) -> Tool:
    if spec_format(doc) is not None:
        resolver = RefResolver(
            doc,
            path=task.path if task.kind == "file" else None,
            max_hops=options.max_ref_hops,
            max_file_bytes=options.max_file_bytes,
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
