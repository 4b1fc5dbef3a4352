"""The collect stage: sources → ``catalog/`` (tools, errors, filtered APIs, graph, collections).

Files are read in worker processes (see :mod:`pipeline.specs.parallel`) and their tools are
streamed straight to ``tools.jsonl``, so memory holds only small per-tool summaries however
large the corpus. Everything that fails is written to ``errors.jsonl`` and skipped; the stage
fails only when nothing at all was collected.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from pipeline.io import AtomicJsonlWriter, write_json
from pipeline.manifest import now_iso, record_stage
from pipeline.models import SourceError, Tool
from pipeline.settings import CollectSettings, Settings
from pipeline.specs.apisguru import expand_sources
from pipeline.specs.catalog import CatalogPaths
from pipeline.specs.filters import CatalogFilter
from pipeline.specs.graph import (
    ToolSummary,
    build_graph,
    category_counts,
    configured_collections,
    derive_collections,
    graph_to_json,
    summarise,
)
from pipeline.specs.ids import IdRegistry, api_ids, standardize
from pipeline.specs.openapi import ReadOptions
from pipeline.specs.parallel import ordered_map
from pipeline.specs.read import SourceOutcome, SourceTask, read_source
from pipeline.specs.sources import discover

log = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int], None]


class NothingCollected(Exception):
    """No source yielded a single tool; the message points at the errors file."""


class CollectReport(BaseModel):
    """The collect stage's figures, also written to the manifest."""

    sources: int = 0
    files_read: int = 0
    urls_fetched: int = 0
    urls_not_modified: int = 0
    tools: int = 0
    apis: int = 0
    errors: int = 0
    errors_by_stage: dict[str, int] = Field(default_factory=dict)
    filtered: dict[str, int] = Field(default_factory=dict)
    tools_emptied_by_filters: int = 0
    warnings: int = 0
    categories: dict[str, int] = Field(default_factory=dict)
    collections: dict[str, int] = Field(default_factory=dict)
    formats: dict[str, int] = Field(default_factory=dict)
    seconds: float = 0.0


def read_options(collect: CollectSettings) -> ReadOptions:
    return ReadOptions(
        max_ref_hops=collect.max_ref_hops,
        max_schema_depth=collect.max_schema_depth,
        max_schema_nodes=collect.max_schema_nodes,
        max_description_chars=collect.max_description_chars,
        max_file_bytes=collect.max_file_bytes,
        category_precedence=tuple(collect.category_precedence),
    )


async def collect_catalog(
    inputs: list[str] | None,
    settings: Settings,
    *,
    run_dir: Path | None = None,
    progress: ProgressCallback | None = None,
) -> CollectReport:
    """Collect ``inputs`` (default: ``settings.collect.sources``) into ``run_dir/catalog``.

    Raises :class:`NothingCollected` when no tool survives; the catalog files are written
    either way so the errors can be read.
    """
    started, clock = now_iso(), time.perf_counter()
    run_dir = Path(run_dir or settings.run_dir)
    sources = list(inputs or settings.collect.sources)
    report = CollectReport(sources=len(sources))

    discovery = discover(sources)
    errors: list[SourceError] = list(discovery.errors)
    tasks = list(discovery.local)
    if discovery.urls:
        remote_tasks, fetch_errors, fetched, not_modified = await _fetch_remote(discovery.urls, settings)
        tasks.extend(remote_tasks)
        errors.extend(fetch_errors)
        report.urls_fetched, report.urls_not_modified = fetched, not_modified

    paths = CatalogPaths(run_dir)
    summaries = _read_and_write(tasks, settings, paths, errors, report, progress)

    collections, collection_warnings = configured_collections(settings.collect.collections, summaries)
    if settings.collect.derive_collections:
        collections.extend(derive_collections(summaries, seed=settings.seed))
    for warning in collection_warnings:
        log.warning(warning)
    write_json(paths.graph, graph_to_json(build_graph(summaries, collections)), indent=False)
    write_json(paths.collections, [asdict(c) for c in collections])

    report.tools = len(summaries)
    report.apis = sum(len(s.api_ids) for s in summaries)
    report.errors = len(errors)
    report.errors_by_stage = dict(Counter(e.stage for e in errors))
    report.categories = category_counts(summaries)
    report.collections = {c.name: len(c.tools) for c in collections}
    report.seconds = round(time.perf_counter() - clock, 3)
    section = {"started": started, "finished": now_iso(), **report.model_dump()}
    section["inputs"] = sources
    section["collection_warnings"] = collection_warnings
    record_stage(run_dir, "collect", section, settings)
    log.info(
        "collected %d tools / %d APIs from %d files (%d errors, %d APIs filtered) in %.1fs",
        report.tools, report.apis, report.files_read, report.errors,
        sum(report.filtered.values()), report.seconds,
    )
    if report.tools == 0:
        raise NothingCollected(
            f"no tool was collected from {len(sources)} source(s); see {paths.errors} for why"
        )
    return report


def _read_and_write(
    tasks: list[SourceTask],
    settings: Settings,
    paths: CatalogPaths,
    errors: list[SourceError],
    report: CollectReport,
    progress: ProgressCallback | None,
) -> list[ToolSummary]:
    """Read every task in worker processes and stream the results into the catalog files."""
    options = read_options(settings.collect)
    ids = IdRegistry()
    catalog_filter = CatalogFilter(settings.collect.filters)
    summaries: list[ToolSummary] = []
    formats: Counter[str] = Counter()
    workers = min(settings.collect.workers, len(tasks))
    with (
        AtomicJsonlWriter(paths.tools) as tools_out,
        AtomicJsonlWriter(paths.errors) as errors_out,
        AtomicJsonlWriter(paths.filtered) as filtered_out,
    ):
        for error in errors:
            errors_out.write(error.model_dump(exclude_none=True))
        outcomes = ordered_map(
            read_source, tasks, extra_args=(options,), workers=workers, on_crash=_crashed
        )
        for done, outcome in enumerate(outcomes, start=1):
            report.files_read += 1
            report.warnings += len(outcome.warnings)
            if outcome.error is not None:
                errors.append(outcome.error)
                errors_out.write(outcome.error.model_dump(exclude_none=True))
            for record in outcome.tools:
                tool = Tool.model_validate(record)
                _assign_ids(tool, ids)
                for dropped in catalog_filter.apply(tool):
                    filtered_out.write(dropped.model_dump())
                if not tool.api_list:
                    report.tools_emptied_by_filters += 1
                    continue
                formats[tool.source.format] += 1
                tools_out.write(tool.dump())
                summaries.append(summarise(tool))
            if progress is not None:
                progress(done, len(tasks))
    report.filtered = dict(catalog_filter.counts)
    report.formats = dict(formats)
    return summaries


def _assign_ids(tool: Tool, ids: IdRegistry) -> None:
    tool.id = ids.tool_id(tool.title or tool.tool_name, tool.source.location)
    tool.standardized_name = tool.standardized_name or standardize(tool.tool_name)
    for api, api_id in zip(tool.api_list, api_ids([a.name for a in tool.api_list]), strict=True):
        api.id = api_id


def _crashed(task: SourceTask) -> SourceOutcome:
    return SourceOutcome(
        location=task.location,
        error=SourceError(
            source=task.location,
            stage="crash",
            reason="the reader process crashed on this file (pathological structure?)",
        ),
    )


async def _fetch_remote(
    urls: list[str], settings: Settings
) -> tuple[list[SourceTask], list[SourceError], int, int]:
    options = settings.collect.fetch
    if options.cache_dir is None:
        options = options.model_copy(update={"cache_dir": settings.shared_cache_dir / "http"})
    specs, failures = await expand_sources(urls, options)
    tasks = []
    not_modified = 0
    for spec in specs:
        result = spec.result
        assert result.path is not None  # a successful fetch always has its body on disk
        not_modified += result.not_modified
        tasks.append(
            SourceTask(
                path=result.path,
                location=result.final_url or result.url,
                kind="url",
                index=spec.entry.index_url if spec.entry else None,
                index_categories=spec.categories,
            )
        )
    errors = [
        SourceError(
            source=f.result.url,
            stage="fetch",
            # the fetcher prefixes its reasons with the URL, which `source` already names
            reason=(f.result.error or "fetch failed").removeprefix(f"{f.result.url}: "),
        )
        for f in failures
    ]
    return tasks, errors, len(specs), not_modified


def collect_summary(report: CollectReport) -> dict[str, Any]:
    """The few figures a person wants to see after a collect."""
    return {
        "tools": report.tools,
        "apis": report.apis,
        "files read": report.files_read,
        "errors": report.errors,
        "filtered": sum(report.filtered.values()),
        "categories": len(report.categories),
        "collections": len(report.collections),
        "seconds": report.seconds,
    }
