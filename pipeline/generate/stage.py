"""The generate stage: sample API sets, ask the instruction writer about each, keep good queries.

For every sampled set the writer (role ``writer``) gets the prompt of :mod:`pipeline.generate.prompt`;
its reply is parsed (:func:`parse_instructions`), items naming APIs outside the set are dropped
as hallucinated (:func:`check_relevant_apis`), then exact and near duplicates of queries kept
earlier in the run (:class:`Deduplicator`). A reply with no readable instruction is asked again
once (``sample_index`` 1, so a cache does not replay it); a second failure goes to
``queries/failed.jsonl`` with the raw text.

Files under ``<run>/queries/``: ``G1.jsonl`` / ``G2.jsonl`` / ``G3.jsonl`` (ToolBench's query
format plus ``group``, ``api_set_id``, ``model``, ``seed`` and ``relevant_api_ids``),
``dropped.jsonl`` (every dropped item and why), ``failed.jsonl`` and ``sets.jsonl`` (one line
per finished set with its counts: the resume log). A rerun skips the sets in ``sets.jsonl``;
records of a set that never reached it (a crash) are removed first. Replies are processed in
sampling order, so query ids and dedup decisions do not depend on which reply came first.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from pipeline.errors import NothingToDo, ToolgenError
from pipeline.generate.dedup import Deduplicator, HashingEmbedder, SentenceTransformerEmbedder
from pipeline.generate.offline_writer import MODEL_NAME as OFFLINE_MODEL_NAME
from pipeline.generate.offline_writer import OfflineInstructionWriter
from pipeline.generate.parse import (
    WRITER_OUTPUT_SCHEMA,
    allowed_apis,
    check_relevant_apis,
    parse_instructions,
)
from pipeline.generate.prompt import build_writer_messages, set_members
from pipeline.generate.sampling import ApiSet, SamplingSettings, sample_api_sets
from pipeline.io import JsonlAppender, read_jsonl, write_jsonl
from pipeline.llm.structured import StructuredAsker
from pipeline.llm.types import (
    ChatModel,
    ChatReply,
    ChatRequest,
    ModelError,
    check_chat_model,
    close_chat_model,
    model_usage,
)
from pipeline.models import Api, Tool
from pipeline.records import QUERIES_DIR, QueryApi, QueryRecord, RecordAppender, read_records, write_records
from pipeline.settings import Settings
from pipeline.specs.catalog import iter_tools, load_graph
from pipeline.stages import (
    Artifact,
    BatchedStage,
    Plan,
    StageContext,
    StageOptions,
    StageReport,
    TableArtifact,
    run_stage,
)

log = logging.getLogger(__name__)

GROUPS = ("G1", "G2", "G3")


class NothingGenerated(NothingToDo):
    """The stage produced no query at all (the message says why)."""


class GroupCounts(BaseModel):
    sets: int = 0
    made: int = 0
    kept: int = 0
    dropped: int = 0
    failed_sets: int = 0


class SetSummary(BaseModel):
    """One line of ``queries/sets.jsonl``, the resume log: a set whose every record is on disk."""

    api_set_id: str
    group: str
    made: int = 0
    kept: int = 0
    dropped: dict[str, int] = Field(default_factory=dict)
    failed: bool = False


class GenerateReport(StageReport):
    """Totals over every set of the run folder (earlier, resumed runs included), except
    ``model_calls``/``tokens``/``sets_skipped`` which are this invocation's."""

    sets_sampled: int = 0
    sets_skipped: int = 0
    made: int = 0
    kept: int = 0
    dropped: dict[str, int] = Field(default_factory=dict)
    failed_sets: int = 0
    writer_errors: int = Field(default=0, description="sets whose writer call failed this run; asked again next run")
    per_group: dict[str, GroupCounts] = Field(default_factory=dict)
    sampler_reasons: dict[str, str] = Field(default_factory=dict)
    model: str = ""
    model_calls: int = 0
    llm_usage: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="per role: requests, retries, tokens, cost, cache hits"
    )
    prompt_tokens: int = 0
    completion_tokens: int = 0
    files: dict[str, str] = Field(default_factory=dict, description="where the dropped and failed items are")


class _Paths:
    def __init__(self, run_dir: Path) -> None:
        self.folder = Path(run_dir) / QUERIES_DIR
        self.sets = self.folder / "sets.jsonl"
        self.dropped = self.folder / "dropped.jsonl"
        self.failed = self.folder / "failed.jsonl"

    def group(self, group: str) -> Path:
        return self.folder / f"{group}.jsonl"


def _reason_kind(reason: str) -> str:
    """The counted category of a drop reason (the full text goes to dropped.jsonl)."""
    for prefix, kind in (
        ("hallucinated", "hallucinated API"),
        ("exact duplicate", "exact duplicate"),
        ("near duplicate", "near duplicate"),
        ("no relevant APIs", "no relevant APIs"),
        ("empty text", "empty query"),
    ):
        if reason.startswith(prefix):
            return kind
    return "unreadable item"


def _api_record(tool: Tool, api: Api) -> QueryApi:
    """ToolBench's api_list record, plus our ids."""
    return QueryApi(
        category_name=tool.category,
        tool_name=tool.tool_name,
        api_name=api.name,
        api_description=api.description,
        required_parameters=[p.dump() for p in api.required_parameters],
        optional_parameters=[p.dump() for p in api.optional_parameters],
        method=api.method,
        template_response=api.template_response,
        tool_id=tool.id,
        api_id=api.id,
    )


def _sampling_settings(settings: Settings, groups: Sequence[str] | None, per_group: int | None) -> SamplingSettings:
    gen = settings.generate
    wanted = dict(gen.per_group)
    if groups is not None:
        wanted = {g: (per_group if per_group is not None else wanted.get(g, 0)) for g in groups}
    elif per_group is not None:
        wanted = dict.fromkeys(GROUPS, per_group)
    return SamplingSettings(
        per_group=wanted,
        min_tools=gen.min_tools,
        max_tools=gen.max_tools,
        max_apis_per_tool=gen.max_apis_per_tool,
        max_apis_g1=gen.max_apis_g1,
        prefer_feeding=gen.prefer_feeding,
        seed=gen.seed if gen.seed is not None else settings.seed,
    )


def _embedder(settings: Settings) -> Any:
    path = settings.generate.embedding_model
    return SentenceTransformerEmbedder(path) if path else HashingEmbedder()


def _drop_unfinished(paths: _Paths, done: set[str]) -> None:
    """Remove records of sets that are not in the resume log (a run that stopped mid-set)."""
    for group in GROUPS:
        path = paths.group(group)
        if path.is_file():
            queries = list(read_records(path, QueryRecord))
            kept = [query for query in queries if query.api_set_id in done]
            if len(kept) != len(queries):
                write_records(path, kept)
    for path in (paths.dropped, paths.failed):  # the funnel's own logs, keyed by set as well
        if path.is_file():
            lines = list(read_jsonl(path))
            kept_lines = [line for line in lines if line["api_set_id"] in done]
            if len(kept_lines) != len(lines):
                write_jsonl(path, kept_lines)


class _Usage:
    def __init__(self) -> None:
        self.calls = 0
        self.prompt_tokens = 0
        self.completion_tokens = 0

    def add(self, reply: ChatReply) -> None:
        if not reply.cached:
            self.calls += 1
        self.prompt_tokens += reply.usage.prompt_tokens
        self.completion_tokens += reply.usage.completion_tokens


async def _ask(model: ChatModel, api_set: ApiSet, tools_by_id: dict[str, Tool], settings: Settings,
               usage: _Usage, limit: asyncio.Semaphore) -> dict[str, Any]:
    """The writer's parsed answer for one set: instructions, problems, raw texts, or an error.

    Whatever one set's data raises (a tool document's value in the prompt, an odd reply) fails
    that set, written to ``failed.jsonl`` and asked again next run like a model error, not the
    stage (with ``settings.strict_items`` it propagates, so that a bug fails its test)."""
    try:
        return await _ask_writer(model, api_set, tools_by_id, settings, usage, limit)
    except Exception as error:
        if settings.strict_items or isinstance(error, ToolgenError):
            raise
        log.warning("%s: the set failed (%s: %s); it is in failed.jsonl", api_set.id, type(error).__name__, error,
                    exc_info=True)
        return {"error": f"{type(error).__name__}: {error}"[:2000], "raws": [], "model": "", "transient": True}


async def _ask_writer(model: ChatModel, api_set: ApiSet, tools_by_id: dict[str, Tool], settings: Settings,
                      usage: _Usage, limit: asyncio.Semaphore) -> dict[str, Any]:
    gen = settings.generate
    messages = build_writer_messages(
        api_set, tools_by_id, count=gen.instructions_per_set, seeds=gen.seeds_in_prompt,
        description_chars=gen.description_chars,
    )
    raws: list[str] = []
    model_name = ""
    for attempt in range(2):  # a reply that does not parse is asked again once
        request = ChatRequest(role="writer", messages=messages, temperature=gen.temperature,
                              max_tokens=gen.max_tokens, sample_index=attempt)
        try:
            async with limit:
                reply = await model.chat(request)
        except ModelError as error:  # after the client's own retries: an outage, not an answer
            return {"error": str(error), "raws": raws, "model": model_name, "transient": True}
        usage.add(reply)
        model_name = reply.model or model_name
        text = reply.content or ""
        raws.append(text)
        items, problems = parse_instructions(text)
        if items:
            return {"items": items, "problems": problems, "raws": raws, "model": model_name}
        log.info("%s: writer reply not readable (attempt %d): %s", api_set.id, attempt + 1, problems)
    return {"error": "no readable instruction in the reply (asked twice)", "raws": raws, "model": model_name}


class _Outputs:
    """The stage's files, the deduplicator and the query-id counter; settles one set at a time."""

    def __init__(self, paths: _Paths, dedup: Deduplicator, tools_by_id: dict[str, Tool], *,
                 next_id: int, seed: int) -> None:
        self.groups: dict[str, RecordAppender[QueryRecord]] = {g: RecordAppender(paths.group(g)) for g in GROUPS}
        self.dropped = JsonlAppender(paths.dropped)
        self.failed = JsonlAppender(paths.failed)
        self.sets = JsonlAppender(paths.sets)
        self.dedup = dedup
        self.tools_by_id = tools_by_id
        self.next_id = next_id
        self.seed = seed

    def close(self) -> None:
        for queries in self.groups.values():
            queries.close()
        for log_file in (self.dropped, self.failed, self.sets):
            log_file.close()

    def settle(self, api_set: ApiSet, answer: dict[str, Any], default_name: str) -> SetSummary | None:
        """Filter one set's instructions, write what is kept and dropped; the set's resume record
        (written last, so a set is finished only once everything of it is on disk).

        A writer call that failed (the endpoint down, 5xx after retries, a timeout) is logged in
        ``failed.jsonl`` but not settled: ``None``, and the next run asks again. An answer that
        never parsed is settled as failed: asking again would replay the same cached replies.
        """
        model_name = answer.get("model") or default_name
        summary = SetSummary(api_set_id=api_set.id, group=api_set.group)
        if "error" in answer:
            self.failed.write({"api_set_id": api_set.id, "group": api_set.group, "model": model_name,
                               "error": answer["error"], "raw": answer["raws"],
                               "retried_next_run": bool(answer.get("transient"))})
            if answer.get("transient"):
                return None
            summary.failed = True
            self.sets.write(summary.model_dump())
            return summary
        members = set_members(api_set, self.tools_by_id)
        sampled = {t.id: t for t, _ in members}
        allowed = allowed_apis(
            [t.model_copy(update={"api_list": [a for tt, a in members if tt.id == t.id]}) for t in sampled.values()]
        )
        names = {(t.id, a.id): [t.tool_name, a.name] for t, a in members}
        drops: Counter[str] = Counter()

        def drop(query: str, reason: str, apis: Any = None) -> None:
            kind = _reason_kind(reason)
            drops[kind] += 1
            self.dropped.write({"api_set_id": api_set.id, "group": api_set.group, "query": query,
                                "relevant APIs": apis, "reason": reason, "kind": kind})

        for problem in answer["problems"]:
            drop("", problem)
        checked = []
        for item in answer["items"]:
            resolved, why = check_relevant_apis(item, allowed)
            if resolved is None:
                drop(item.query, why or "no relevant APIs", [list(p) for p in item.relevant_apis])
            else:
                checked.append((item, resolved))
        verdicts = self.dedup.filter([item.query for item, _ in checked])
        api_list = [_api_record(t, a) for t, a in members]
        for (item, resolved), verdict in zip(checked, verdicts):
            if verdict is not None:
                drop(item.query, verdict, [names[p] for p in resolved])
                continue
            self.groups[api_set.group].write(QueryRecord(
                query=item.query,
                query_id=self.next_id,
                api_list=api_list,
                relevant_apis=[(names[p][0], names[p][1]) for p in resolved],
                relevant_api_ids=[(p[0], p[1]) for p in resolved],
                group=api_set.group,
                api_set_id=api_set.id,
                model=model_name,
                seed=self.seed,
            ))
            self.next_id += 1
            summary.kept += 1
        summary.made = len(answer["items"]) + len(answer["problems"])
        summary.dropped = dict(drops)
        self.sets.write(summary.model_dump())
        return summary


async def generate_queries(
    settings: Settings,
    *,
    run_dir: Path | None = None,
    groups: list[str] | None = None,
    per_group: int | None = None,
    model: ChatModel | None = None,
) -> GenerateReport:
    """Write ``queries/<group>.jsonl`` for the run's catalog; see the module docstring.

    ``model`` defaults to the configured writer (the offline rule-based writer for
    ``llm.backend = "offline"``). Raises :class:`NothingGenerated` if the run folder ends with
    no query at all.
    """
    options = GenerateOptions(groups=groups, per_group=per_group)  # type: ignore[arg-type]
    return await run_stage(GenerateStage(model=model), StageContext.of(settings, run_dir), options)


Group = Literal["G1", "G2", "G3"]


class GenerateOptions(StageOptions):
    groups: list[Group] | None = None  # default: the groups of generate.per_group
    per_group: int | None = Field(default=None, ge=1)  # API sets per group
    batch_size: int | None = Field(default=None, ge=1)  # default: 4 × generate.concurrency


@dataclass
class GeneratePlan(Plan[list[ApiSet]]):
    sets: list[ApiSet] = field(default_factory=list)  # every sampled set, finished or not
    reasons: dict[str, str] = field(default_factory=dict)
    finished: dict[str, SetSummary] = field(default_factory=dict)
    tools_by_id: dict[str, Tool] = field(default_factory=dict)
    seed: int = 0


@dataclass
class _GenerateSession:
    context: StageContext
    plan: GeneratePlan
    model: ChatModel
    writer: ChatModel  # ``model`` asked with structured output where the server takes it
    default_name: str
    outputs: _Outputs
    usage: _Usage
    limit: asyncio.Semaphore
    writer_errors: int = 0


class GenerateStage(BatchedStage[GenerateOptions, GeneratePlan, _GenerateSession, list[ApiSet], int,
                                 GenerateReport]):
    """``queries/<group>.jsonl``: instructions written for sampled API sets (G1/G2/G3), filtered."""

    name = "generate"
    title = "writing instructions"
    inputs = ("catalog/",)
    outputs = (QUERIES_DIR + "/",)
    options_type = GenerateOptions
    parallel_batches = 1  # in sampling order: query ids and dedup decisions must not depend on timing

    def __init__(self, model: ChatModel | None = None) -> None:
        self.model = model  # the caller's writer model (it closes it); default: the configured one

    async def plan(self, context: StageContext, options: GenerateOptions) -> GeneratePlan:
        settings, run_dir = context.settings, context.run_dir
        tools = list(iter_tools(run_dir))
        graph = load_graph(run_dir)
        groups = list(options.groups) if options.groups is not None else None
        sets, reasons = sample_api_sets(tools, graph, _sampling_settings(settings, groups, options.per_group))
        paths = _Paths(run_dir)
        paths.folder.mkdir(parents=True, exist_ok=True)
        finished = {summary.api_set_id: summary for summary in map(SetSummary.model_validate, read_jsonl(paths.sets))
                    } if paths.sets.is_file() else {}
        _drop_unfinished(paths, set(finished))
        todo = [s for s in sets if s.id not in finished]
        size = options.batch_size or settings.generate.concurrency * 4
        return GeneratePlan(
            batches=[todo[start:start + size] for start in range(0, len(todo), size)], items=len(todo),
            sets=sets, reasons=reasons, finished=finished, tools_by_id={t.id: t for t in tools},
            seed=settings.generate.seed if settings.generate.seed is not None else settings.seed,
        )

    @asynccontextmanager
    async def open(self, context: StageContext, plan: GeneratePlan) -> AsyncIterator[_GenerateSession]:
        settings = context.settings
        paths = _Paths(context.run_dir)
        dedup = Deduplicator(_embedder(settings), settings.generate.dedup_threshold)
        next_id = 1
        for group in GROUPS:
            if paths.group(group).is_file():
                previous = list(read_records(paths.group(group), QueryRecord))
                dedup.filter([query.query for query in previous])
                next_id = max([next_id] + [int(query.query_id) + 1 for query in previous])
        model = self.model
        if model is None:
            from pipeline.llm.factory import build_chat_model

            built = build_chat_model(settings, run_dir=context.run_dir)
            # not `or`: the cached model defines __len__, and an empty cache is falsy
            model = built if built is not None else OfflineInstructionWriter()
        default_name = (OFFLINE_MODEL_NAME if settings.llm.backend == "offline" and self.model is None
                        else settings.llm.model_for("writer"))
        outputs = _Outputs(paths, dedup, plan.tools_by_id, next_id=next_id, seed=plan.seed)
        try:
            if self.model is None and settings.llm.backend != "offline" and plan.items:
                await check_chat_model(model, ["writer"])  # fail in a second, not after every set
            writer = StructuredAsker(model, mode=settings.llm.structured_output, name="instructions",
                                     schema=WRITER_OUTPUT_SCHEMA)
            yield _GenerateSession(context=context, plan=plan, model=model, writer=writer, default_name=default_name,
                                   outputs=outputs, usage=_Usage(),
                                   limit=asyncio.Semaphore(settings.generate.concurrency))
        finally:
            outputs.close()
            if self.model is None:
                await close_chat_model(model)

    async def run_batch(self, session: _GenerateSession, batch: list[ApiSet]) -> int:
        todo = [api_set for api_set in batch if api_set.id not in session.plan.finished]  # a retried batch
        answers = await asyncio.gather(*(
            _ask(session.writer, api_set, session.plan.tools_by_id, session.context.settings, session.usage,
                 session.limit)
            for api_set in todo
        ))
        for api_set, answer in zip(todo, answers, strict=True):  # settled in sampling order
            summary = session.outputs.settle(api_set, answer, session.default_name)
            if summary is None:
                session.writer_errors += 1
            else:
                session.plan.finished[api_set.id] = summary
            session.context.advance()
        return len(todo)

    async def finalize(self, session: _GenerateSession, results: list[int]) -> GenerateReport:
        plan, usage = session.plan, session.usage
        report = _totals(plan.finished, plan.sets, plan.reasons)
        report.sets_skipped = len(plan.sets) - plan.items
        report.writer_errors = session.writer_errors
        report.model = session.default_name
        report.model_calls = usage.calls
        report.llm_usage = model_usage(session.model)
        report.prompt_tokens = usage.prompt_tokens
        report.completion_tokens = usage.completion_tokens
        report.files = {"dropped": str(_Paths(session.context.run_dir).dropped),
                        "failed": str(_Paths(session.context.run_dir).failed)}
        log.info("generated %d queries (%d made, dropped %s) from %d API sets",
                 report.kept, report.made, report.dropped, len(plan.finished))
        return report

    def check(self, report: GenerateReport) -> None:
        if report.kept == 0:
            why = "; ".join(report.sampler_reasons.values()) or "every instruction was dropped or every reply failed"
            raise NothingGenerated(
                f"no queries generated: {why} (see {report.files['dropped']} and {report.files['failed']})")

    def summary(self, report: GenerateReport) -> dict[str, Any]:
        return generate_summary(report)

    def artifacts(self, report: GenerateReport) -> list[Artifact]:
        return [TableArtifact(
            key="generate-groups",
            rows=[{"group": group, **counts.model_dump()} for group, counts in report.per_group.items()],
            description=f"{report.kept} queries kept of {report.made} made; dropped {report.dropped}",
        )]


def _totals(finished: dict[str, SetSummary], sets: list[ApiSet], reasons: dict[str, str]) -> GenerateReport:
    report = GenerateReport(sets_sampled=len(sets), sampler_reasons=dict(reasons))
    dropped: Counter[str] = Counter()
    per_group: dict[str, GroupCounts] = {}
    for summary in finished.values():
        counts = per_group.setdefault(summary.group, GroupCounts())
        counts.sets += 1
        counts.made += summary.made
        counts.kept += summary.kept
        counts.dropped += sum(summary.dropped.values())
        counts.failed_sets += int(summary.failed)
        dropped.update(summary.dropped)
    report.per_group = dict(sorted(per_group.items()))
    report.made = sum(c.made for c in per_group.values())
    report.kept = sum(c.kept for c in per_group.values())
    report.failed_sets = sum(c.failed_sets for c in per_group.values())
    report.dropped = dict(dropped)
    return report


def generate_summary(report: GenerateReport) -> dict[str, Any]:
    """The figures the CLI prints."""
    figures: dict[str, Any] = {
        "API sets (sampled / resumed)": f"{report.sets_sampled} / {report.sets_skipped}",
        "instructions made": report.made,
        "kept": report.kept,
        "dropped": report.dropped or 0,
        "failed sets": report.failed_sets,
        "writer errors (asked again next run)": report.writer_errors,
    }
    for group, counts in report.per_group.items():
        figures[f"{group} kept / made"] = f"{counts.kept} / {counts.made}"
    for group, reason in report.sampler_reasons.items():
        figures[f"{group} not sampled"] = reason
    figures["model (calls, tokens)"] = (
        f"{report.model} ({report.model_calls}, {report.prompt_tokens + report.completion_tokens})"
    )
    figures["seconds"] = report.seconds
    return figures
