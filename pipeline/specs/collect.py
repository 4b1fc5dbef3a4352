"""The collect stage: sources → ``catalog/`` (tools, errors, filtered APIs, graph, collections).

Files are read in worker processes (see :mod:`pipeline.specs.parallel`) and their tools are
streamed straight to ``tools.jsonl``, so memory holds only small per-tool summaries however
large the corpus. Every step that handles one source (discovery, reading, normalising, ids,
filters, duplicate keys, the graph summary, and the final id and duplicate check made here) runs
inside one per-source boundary (:mod:`pipeline.specs.isolation`): what fails is written to
``errors.jsonl`` against its source and skipped, and so is each ``$ref`` a source was refused
(stage ``ref``, the tool itself may still be collected). The stage fails only when nothing at
all was collected.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import orjson
from pydantic import BaseModel, Field

from pipeline.errors import NothingToDo
from pipeline.io import AtomicJsonlWriter, write_json
from pipeline.models import FilteredApi, SourceError
from pipeline.redact import redact_text, redact_url
from pipeline.settings import CollectSettings, Settings
from pipeline.specs.apisguru import expand_sources
from pipeline.specs.catalog import CatalogPaths
from pipeline.specs.categorize import CategoryEmbedder, CategoryWindow
from pipeline.specs.filters import DuplicateOperations
from pipeline.specs.graph import (
    ToolSummary,
    build_graph,
    category_counts,
    configured_collections,
    derive_collections,
    graph_to_json,
    warm_up_imports,
)
from pipeline.specs.ids import IdRegistry
from pipeline.specs.isolation import SourceSteps, isolated
from pipeline.specs.openapi import ReadOptions
from pipeline.specs.parallel import ordered_map
from pipeline.specs.prepare import PreparedSource, PreparedTool, prepare_source, reader_initializer
from pipeline.specs.read import SourceTask
from pipeline.specs.sources import discover
from pipeline.specs.taxonomy import Taxonomy, load_taxonomy
from pipeline.stages import (
    Artifact,
    MarkdownArtifact,
    ProgressCallback,
    Stage,
    StageContext,
    StageOptions,
    TableArtifact,
    run_stage,
)

log = logging.getLogger(__name__)

class NothingCollected(NothingToDo):
    """No source yielded a single tool; the message points at the errors file."""


class CollectReport(BaseModel):
    """The collect stage's figures, also written to the manifest."""

    sources: int = 0
    files_read: int = 0
    urls_fetched: int = 0
    urls_not_modified: int = 0
    tools: int = 0
    apis: int = 0
    errors: int = Field(default=0, description="lines in errors.jsonl")
    failed_sources: int = Field(default=0, description="sources that yielded no tool because of an error")
    errors_by_stage: dict[str, int] = Field(default_factory=dict)
    filtered: dict[str, int] = Field(default_factory=dict)
    tools_emptied_by_filters: int = 0
    warnings: int = 0
    categories: dict[str, int] = Field(default_factory=dict)
    taxonomy: str = Field(default="", description="the taxonomy categories were mapped to ('none': raw labels)")
    category_origins: dict[str, int] = Field(
        default_factory=dict, description="tools per way their category was chosen (declared label, embedding ...)"
    )
    single_tool_categories: int = Field(default=0, description="categories that hold one tool")
    tools_in_collections: int = Field(default=0, description="tools in at least one collection (what G3 draws from)")
    collections: dict[str, int] = Field(default_factory=dict)
    formats: dict[str, int] = Field(default_factory=dict)
    seconds: float = 0.0
    inputs: list[str] = Field(default_factory=list)
    errors_file: str = ""
    collection_warnings: list[str] = Field(default_factory=list)


def read_options(collect: CollectSettings, taxonomy: Taxonomy | None = None) -> ReadOptions:
    return ReadOptions(
        max_ref_hops=collect.max_ref_hops,
        max_schema_depth=collect.max_schema_depth,
        max_schema_nodes=collect.max_schema_nodes,
        max_description_chars=collect.max_description_chars,
        max_file_bytes=collect.max_file_bytes,
        max_reader_memory_mb=collect.max_reader_memory_mb,
        category_precedence=tuple(collect.category_precedence),
        taxonomy=taxonomy.lookup(tags_decide=collect.category_from_tags) if taxonomy is not None else None,
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
    return await run_stage(CollectStage(), StageContext.of(settings, run_dir, progress), CollectOptions(sources=inputs))


class CollectOptions(StageOptions):
    sources: list[str] | None = None  # default: collect.sources


class CollectStage(Stage[CollectOptions, CollectReport]):
    """``catalog/``: spec files, folders and URLs read into tools, errors, the graph and collections."""

    name = "collect"
    title = "reading specs"
    inputs = ()
    outputs = ("catalog/",)
    options_type = CollectOptions

    async def execute(self, context: StageContext, options: CollectOptions) -> CollectReport:
        return await _collect(options.sources, context)

    def check(self, report: CollectReport) -> None:
        if report.tools == 0:
            raise NothingCollected(
                f"no tool was collected from {report.sources} source(s); see {report.errors_file} for why"
            )

    def summary(self, report: CollectReport) -> dict[str, Any]:
        return collect_summary(report)

    def artifacts(self, report: CollectReport) -> list[Artifact]:
        return [
            TableArtifact(key="collect-categories",
                          rows=[{"category": name, "tools": count} for name, count in report.categories.items()],
                          description="Tools per category"),
            MarkdownArtifact(key="collect-summary", markdown="\n".join([
                "# Catalog",
                "",
                f"- tools: **{report.tools}**, APIs: **{report.apis}** from {report.files_read} files",
                f"- failed sources: {report.failed_sources}; errors: {report.errors} ({report.errors_by_stage})",
                f"- filtered APIs: {report.filtered}",
                f"- collections: {len(report.collections)}, holding {report.tools_in_collections} of the tools",
                f"- categories: {len(report.categories)} ({report.taxonomy} taxonomy), "
                f"{report.single_tool_categories} with a single tool; placed by {report.category_origins}",
            ])),
        ]


async def _collect(inputs: list[str] | None, context: StageContext) -> CollectReport:
    settings, run_dir = context.settings, context.run_dir
    clock = time.perf_counter()
    sources = list(inputs or settings.collect.sources)
    report = CollectReport(sources=len(sources), inputs=sources)
    # a bad taxonomy file stops the stage before anything is fetched or read
    taxonomy = load_taxonomy(settings.collect.taxonomy)
    report.taxonomy = taxonomy.name if taxonomy is not None else "none"

    discovery = discover(sources)
    errors: list[SourceError] = list(discovery.errors)
    tasks = list(discovery.local)
    if discovery.urls:
        remote_tasks, fetch_errors, fetched, not_modified = await _fetch_remote(discovery.urls, settings)
        tasks.extend(remote_tasks)
        errors.extend(fetch_errors)
        report.urls_fetched, report.urls_not_modified = fetched, not_modified
    report.failed_sources = len(errors)

    paths = CatalogPaths(run_dir)
    if settings.collect.derive_collections:
        # the main process mostly waits on the readers: import the similarity code meanwhile
        threading.Thread(target=warm_up_imports, name="warm-up-imports", daemon=True).start()
    context.set_total(len(tasks))
    summaries = _read_and_write(tasks, settings, taxonomy, paths, errors, report, context)

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
    report.category_origins = dict(Counter(s.category_origin for s in summaries).most_common())
    report.single_tool_categories = sum(1 for count in report.categories.values() if count == 1)
    report.collections = {c.name: len(c.tools) for c in collections}
    report.tools_in_collections = len({tool for c in collections for tool in c.tools})
    report.seconds = round(time.perf_counter() - clock, 3)
    report.collection_warnings = collection_warnings
    report.errors_file = str(paths.errors)
    log.info(
        "collected %d tools / %d APIs from %d files (%d errors, %d APIs filtered) in %.1fs",
        report.tools, report.apis, report.files_read, report.errors,
        sum(report.filtered.values()), report.seconds,
    )
    return report


def _read_and_write(
    tasks: list[SourceTask],
    settings: Settings,
    taxonomy: Taxonomy | None,
    paths: CatalogPaths,
    errors: list[SourceError],
    report: CollectReport,
    context: StageContext,
) -> list[ToolSummary]:
    """Read every task in worker processes and stream the results into the catalog files."""
    options = read_options(settings.collect, taxonomy)
    embedder = None
    if taxonomy is not None and settings.collect.category_fallback == "embedding":
        embedder = CategoryEmbedder(
            taxonomy, model=settings.collect.category_model, min_similarity=settings.collect.category_min_similarity
        )
    ids = IdRegistry()
    duplicates = DuplicateOperations() if settings.collect.filters.drop_duplicates else None
    filtered: Counter[str] = Counter()
    summaries: list[ToolSummary] = []
    formats: Counter[str] = Counter()
    workers = min(settings.collect.workers, len(tasks))
    with (
        AtomicJsonlWriter(paths.tools) as tools_out,
        AtomicJsonlWriter(paths.errors) as errors_out,
        AtomicJsonlWriter(paths.filtered) as filtered_out,
    ):

        def record(error: SourceError) -> None:
            errors.append(error)
            errors_out.write(error.model_dump(exclude_none=True))

        def drop(api: FilteredApi) -> None:
            filtered[api.reason] += 1
            filtered_out.write(api.model_dump())

        def emit(line: bytes, summary: ToolSummary) -> None:
            tools_out.write_json_line(line)
            summaries.append(summary)

        # tools wait here (in order) until a batch of them is placed by the category embedding
        window = CategoryWindow(embedder, emit, record)
        for error in errors:
            errors_out.write(error.model_dump(exclude_none=True))
        outcomes = ordered_map(
            prepare_source,
            tasks,
            extra_args=(options, settings.collect.filters),
            workers=workers,
            on_failure=functools.partial(_reader_failed, memory_mb=options.max_reader_memory_mb),
            # finished results may pile up behind a huge spec (keeping every worker busy) up
            # to a size in bytes, not a count
            weigh=_prepared_size,
            initializer=functools.partial(reader_initializer, options.max_reader_memory_mb),
        )
        for task, outcome in zip(tasks, outcomes, strict=True):
            report.files_read += 1
            report.warnings += outcome.warnings
            for refused in outcome.refused_refs[:MAX_REFUSED_REFS_RECORDED]:
                record(SourceError(source=task.location, stage="ref", reason=refused))
            if outcome.error is not None:
                report.failed_sources += 1
                record(outcome.error)
            for dropped in outcome.filtered:
                drop(dropped)
            report.tools_emptied_by_filters += outcome.emptied_by_filters
            if outcome.tool is not None:
                admitted = _admit(outcome.tool, ids, duplicates)
                if isinstance(admitted, SourceError):
                    report.failed_sources += 1
                    record(admitted)
                    context.advance()
                    continue
                for dropped in admitted.dropped:
                    drop(dropped)
                if admitted.line is None:
                    report.tools_emptied_by_filters += 1
                else:
                    window.add(admitted.line, admitted.summary, task.location)
                    formats[outcome.tool.format] += 1
            context.advance()
        window.flush()
    report.filtered = dict(filtered)
    report.formats = dict(formats)
    return summaries


MAX_REFUSED_REFS_RECORDED = 20
"""Refused ``$ref``s recorded per source; a spec full of remote refs says so in 20 lines."""


@dataclass
class _Admitted:
    """A prepared tool as it goes into the catalog (``line`` is ``None`` when every one of its
    operations was already there)."""

    line: bytes | None
    summary: ToolSummary
    dropped: list[FilteredApi]


def _admit(tool: PreparedTool, ids: IdRegistry, duplicates: DuplicateOperations | None) -> _Admitted | SourceError:
    """Give a prepared tool its final id and drop the operations the catalog already has.

    The main process's share of a source's work, inside the same per-source boundary as the
    reader's: a failure here is this source's error.
    """

    def work(steps: SourceSteps) -> _Admitted | SourceError:
        final_id = ids.tool_id(tool.title, tool.location)
        steps.enter("dedup")
        repeated = duplicates.repeated(tool.operations) if duplicates is not None else set()
        summary = tool.summary
        if final_id == tool.proposed_id and not repeated:
            if duplicates is not None:
                duplicates.remember(tool.operations)
            return _Admitted(tool.line, summary, [])
        # the rare path: the line has to change, so it is parsed and written again
        record = orjson.loads(tool.line)
        record["id"] = final_id
        dropped = [
            FilteredApi(tool=final_id, api=api["name"], reason="duplicate", source=tool.location)
            for api in record["api_list"]
            if api["id"] in repeated
        ]
        record["api_list"] = [api for api in record["api_list"] if api["id"] not in repeated]
        if not record["api_list"]:
            return _Admitted(None, summary, dropped)
        if duplicates is not None:
            duplicates.remember(tool.operations)
        summary = dataclasses.replace(
            summary,
            id=final_id,
            api_ids=[api["id"] for api in record["api_list"]],
            api_names=[api["name"] for api in record["api_list"]],
        )
        return _Admitted(orjson.dumps(record), summary, dropped)

    def failed(error: SourceError) -> _Admitted | SourceError:
        return error

    return isolated(tool.location, work, failed, first_step="ids")


def _prepared_size(prepared: PreparedSource) -> int:
    return len(prepared.tool.line) if prepared.tool is not None else 0


def _reader_failed(task: SourceTask, error: BaseException | None, *, memory_mb: int | None) -> PreparedSource:
    """What a source whose reader did not answer yields: it crashed, or its result was lost."""
    if error is None:
        cap = f", or over the reader memory cap of {memory_mb} MB" if memory_mb is not None else ""
        failure = SourceError(
            source=task.location,
            stage="crash",
            reason=f"the reader process crashed on this file (pathological structure{cap}?)",
        )
    else:
        failure = SourceError(
            source=task.location,
            stage="crash",
            reason=f"the reader's result was lost ({type(error).__name__}: {str(error)[:300]})",
        )
    return PreparedSource(location=task.location, error=failure)


async def _fetch_remote(
    urls: list[str], settings: Settings
) -> tuple[list[SourceTask], list[SourceError], int, int]:
    options = settings.collect.fetch
    if options.cache_dir is None:
        options = options.model_copy(update={"cache_dir": settings.shared_cache_dir / "http"})
    # the sources are the user's own words (arguments or collect.sources): trusted themselves,
    # unlike the URLs their documents and redirects lead to
    specs, failures = await expand_sources(urls, options, trust_sources=True)
    tasks = []
    not_modified = 0
    for spec in specs:
        result = spec.result
        assert result.path is not None  # a successful fetch always has its body on disk
        not_modified += result.not_modified
        tasks.append(
            SourceTask(
                path=result.path,
                # the location names the tool and is the base of relative server URLs: no userinfo
                location=redact_url(result.final_url or result.url, drop_userinfo=True),
                kind="url",
                index=spec.entry.index_url if spec.entry else None,
                index_categories=spec.categories,
            )
        )
    errors = [
        SourceError(
            source=redact_url(f.result.url),
            stage="fetch",
            # the fetcher prefixes its reasons with the URL, which `source` already names
            reason=redact_text((f.result.error or "fetch failed").removeprefix(f"{f.result.url}: ")),
            detail="refused by the host policy" if f.result.refused else None,
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
        "failed sources": report.failed_sources,
        "errors": report.errors,
        "filtered": sum(report.filtered.values()),
        "categories": len(report.categories),
        "single-tool categories": report.single_tool_categories,
        "collections": len(report.collections),
        "tools in collections": report.tools_in_collections,
        "seconds": report.seconds,
    }
