"""The annotate stage: search a solution path (DFSDT or ReACT) for every query, calling the APIs.

Queries come from ``<run>/queries/G*.jsonl`` (the generate stage) or from files in ToolBench's
query format (a JSON list such as ``G1_query.json``, or JSONL), read and resolved against the
run's catalog by :mod:`pipeline.toolbench.queries`. Unresolved ``api_list`` entries are kept with
the trajectory; a query with none resolved, or one that is not a valid query, is skipped with its
reason and the others go on.

All searches share one environment (one sandbox, one response cache) and run ``concurrency`` at a
time, each with its own ``client_id``. Every finished search is appended at once to
``<run>/trajectories/<group or file stem>.jsonl`` (a :class:`~pipeline.records.TrajectoryRecord`:
the search's trajectory plus ``group``, ``model``, ``training`` and the search settings), so a killed run loses only the
searches in flight: a rerun reads those files (a torn last line is ignored) and skips the query
ids already there. A search that never reaches ``give_answer`` is written too, with
``finish_type = "give_up"`` and ``training = false`` (unless ``include_failed_in_training``).
A query whose search raised (a model error, or anything else one query's data can cause: a value,
an observation, a model reply) is not written but recorded in ``<run>/failures/annotate.jsonl``
with its error (see :mod:`pipeline.failures`), and the other queries go on; a rerun tries it again.

Open domain (``annotate.open_domain`` or ``--open-domain``): as in ToolBench's open-domain
inference, a query's ``api_list`` is not read (query files without one are accepted); the run's
retriever index, loaded once when the stage opens, gives each query to search its top
``retrieve_k`` catalog APIs for its instruction, queries retrieved in batches
(:mod:`pipeline.retriever.open_domain`). Each trajectory records the APIs retrieved and, when its
relevant APIs are known, the share of them retrieved (``retrieval_recall``; its mean is in the
report). A trajectory already in the run, open-domain or not, is not searched again: annotate
open-domain into its own run folder (``--out``) to keep both.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from pipeline.errors import ConfigError, NothingToDo
from pipeline.failures import FailureLog
from pipeline.gc_tuning import relaxed_gc
from pipeline.llm.types import ChatModel, ModelError, check_chat_model, close_chat_model, model_usage
from pipeline.models import Api, Tool
from pipeline.records import (
    QUERIES_DIR,
    TRAJECTORIES_DIR,
    ApiPair,
    RecordAppender,
    TrajectoryRecord,
    iter_trajectories,
    query_files,
)
from pipeline.retriever.hits import SearchBackend
from pipeline.retriever.open_domain import Retrieved, open_run_retriever, retrieve_apis
from pipeline.search.dfsdt import DFSDTSearch, SearchBase
from pipeline.search.functions import FunctionCatalog
from pipeline.search.react import ReActSearch
from pipeline.settings import AnnotateSettings, Settings
from pipeline.specs.catalog import iter_tools
from pipeline.stages import (
    Artifact,
    BatchedStage,
    Plan,
    ProgressCallback,
    StageContext,
    StageOptions,
    StageReport,
    TableArtifact,
    run_stage,
)
from pipeline.toolbench.queries import ApiResolver, QueryItem, load_query_items

log = logging.getLogger(__name__)


class NothingAnnotated(NothingToDo):
    """There was no query to annotate at all (the message says where it looked)."""


class GroupFigures(BaseModel):
    queries: int = 0
    answered: int = 0
    failed: int = 0


class AnnotateReport(StageReport):
    """Totals over every trajectory of this stage's queries (earlier, resumed runs included);
    ``resumed``, ``searched``, ``errors``, ``llm_usage`` and ``seconds`` are this invocation's."""

    algorithm: str = "dfsdt"
    model: str = ""
    queries: int = 0
    answered: int = 0
    failed: int = 0
    answered_calls_ok: int = Field(default=0, description="answered with every call on the chosen path OK")
    skipped: int = 0
    skipped_reasons: dict[str, int] = Field(default_factory=dict)
    unresolved_apis: int = 0
    errors: int = 0
    resumed: int = 0
    searched: int = 0
    per_group: dict[str, GroupFigures] = Field(default_factory=dict)
    backtracking_trees: int = 0
    mean_model_calls: float = 0.0
    mean_api_calls: float = 0.0
    mean_nodes: float = 0.0
    mean_backtracks: float = 0.0
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    llm_usage: dict[str, dict[str, Any]] = Field(default_factory=dict)
    environment: dict[str, Any] = Field(default_factory=dict)
    model_errors: dict[str, int] = Field(default_factory=dict)
    query_failures: dict[str, int] = Field(default_factory=dict, description="queries that raised, by error type")
    failures_outstanding: int = Field(default=0, description="queries listed in failures/annotate.jsonl")
    query_files: list[str] = Field(default_factory=list)
    unreadable_queries: list[str] = Field(default_factory=list, description="where and why (the first 100)")
    search: dict[str, Any] = Field(default_factory=dict)
    open_domain: bool = False
    retrieve_k: int | None = Field(default=None, description="open domain: APIs retrieved per query")
    retrieval_recall: float | None = Field(
        default=None, description="open domain: mean share of a query's relevant APIs retrieved (queries with any)")
    retrieval_recall_queries: int = Field(default=0, description="open-domain queries the recall is the mean of")


# --- what the totals need of finished searches -------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Finished:
    """What the stage's totals need of one finished trajectory (the record itself is on disk:
    holding 100k trees in memory is what the resume files are for)."""

    group: str
    answered: bool
    calls_ok: bool
    counts: tuple[int, ...]  # in the order of _COUNTED
    recall: float | None = None  # open domain: the query's retrieval recall


_COUNTED = ("model_calls", "api_calls", "nodes", "backtracks", "cache_hits", "prompt_tokens", "completion_tokens")


def _finished(record: TrajectoryRecord) -> _Finished:
    counts = record.counts.model_dump()
    return _Finished(record.group, record.answered, record.answered and record.path_calls_ok(),
                     tuple(int(counts.get(key) or 0) for key in _COUNTED), record.retrieval_recall)


def _finished_before(run_dir: Path) -> dict[tuple[str, str], _Finished]:
    return {record.key: _finished(record) for record in iter_trajectories(run_dir)}


# --- searching ----------------------------------------------------------------------------------


def _search(item: QueryItem, policy: ChatModel, environment: Any, cfg: AnnotateSettings,
            algorithm: str, width: int) -> SearchBase:
    catalog = FunctionCatalog(item.pairs)
    common: dict[str, Any] = {
        "max_depth": cfg.max_depth,
        "max_model_calls": cfg.max_model_calls,
        "max_api_calls": cfg.max_api_calls,
        "observation_chars": cfg.observation_chars,
        "client_id": f"annotate:{item.group}:{item.query_id}",
        "temperature": cfg.temperature,
    }
    if algorithm == "react":
        return ReActSearch(policy, environment, catalog, restarts=cfg.restarts, **common)
    return DFSDTSearch(policy, environment, catalog, width=width, **common)


def _model_name(settings: Settings, model: ChatModel | None, built: ChatModel | None) -> str:
    if model is not None:
        return str(getattr(model, "model_name", None) or settings.llm.model_for("policy"))
    if built is None:
        from pipeline.llm.offline_policy import MODEL_NAME

        return MODEL_NAME
    return settings.llm.model_for("policy")


async def annotate_queries(
    settings: Settings,
    *,
    run_dir: Path | None = None,
    query_files: list[Path] | None = None,
    algorithm: str | None = None,
    width: int | None = None,
    model: ChatModel | None = None,
    progress: ProgressCallback | None = None,
    open_domain: bool | None = None,
    retrieve_k: int | None = None,
    retriever: SearchBackend | None = None,
) -> AnnotateReport:
    """Write ``trajectories/<group>.jsonl`` for the run's queries; see the module docstring.

    ``model`` (the caller closes it) defaults to the configured ``policy`` model, or the offline
    rule-based policy for ``llm.backend = "offline"``. Raises :class:`NothingAnnotated` when
    there is no query at all. ``open_domain`` (default: ``annotate.open_domain``) gives each
    query the top ``retrieve_k`` APIs of ``retriever`` (default: the run's index) instead of
    its ``api_list``.
    """
    options = AnnotateOptions(query_files=query_files, algorithm=algorithm, width=width,  # type: ignore[arg-type]
                              open_domain=open_domain, retrieve_k=retrieve_k)
    return await run_stage(AnnotateStage(model=model, retriever=retriever), StageContext.of(settings, run_dir, progress),
                           options)


class AnnotateOptions(StageOptions):
    query_files: list[Path] | None = None  # ToolBench-format files instead of queries/G*.jsonl
    algorithm: Literal["dfsdt", "react"] | None = None  # default: annotate.algorithm
    width: int | None = Field(default=None, ge=1)  # default: annotate.width
    batch_size: int = Field(default=256, ge=1)
    open_domain: bool | None = None  # default: annotate.open_domain
    retrieve_k: int | None = Field(default=None, ge=1, le=100)  # default: annotate.retrieve_k


@dataclass
class AnnotatePlan(Plan[list[QueryItem]]):
    files: list[Path] = field(default_factory=list)
    algorithm: str = "dfsdt"
    width: int = 2
    queries: list[QueryItem] = field(default_factory=list)  # every resolved query, done or not
    total_queries: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    unresolved: int = 0
    unreadable: list[str] = field(default_factory=list)
    done: dict[tuple[str, str], _Finished] = field(default_factory=dict)
    open_domain: bool = False
    retrieve_k: int = 5
    catalog: dict[tuple[str, str], tuple[Tool, Api]] = field(default_factory=dict)  # open domain: by ids
    retrieved: dict[tuple[str, str], Retrieved] = field(default_factory=dict)  # open domain: by query key


@dataclass
class _AnnotateSession:
    context: StageContext
    plan: AnnotatePlan
    policy: ChatModel
    model_name: str
    environment: Any
    limit: asyncio.Semaphore
    search_settings: dict[str, Any]
    failures: FailureLog
    appenders: dict[str, RecordAppender[TrajectoryRecord]] = field(default_factory=dict)
    errors: Counter[str] = field(default_factory=Counter)
    searched: int = 0

    def write(self, record: TrajectoryRecord, line: bytes) -> None:
        if record.group not in self.appenders:
            path = self.context.run_dir / TRAJECTORIES_DIR / f"{record.group}.jsonl"
            self.appenders[record.group] = RecordAppender(path)
        self.appenders[record.group].write_line(line)  # at once: a kill loses only searches in flight
        self.plan.done[record.key] = _finished(record)


class AnnotateStage(BatchedStage[AnnotateOptions, AnnotatePlan, _AnnotateSession, list[QueryItem], int,
                                 AnnotateReport]):
    """``trajectories/<group>.jsonl``: a DFSDT (or ReACT) search per query, calling the APIs."""

    name = "annotate"
    title = "searching"
    inputs = ("catalog/", QUERIES_DIR + "/")
    outputs = (TRAJECTORIES_DIR + "/", "failures/annotate.jsonl")
    options_type = AnnotateOptions

    def __init__(self, model: ChatModel | None = None, retriever: SearchBackend | None = None) -> None:
        self.model = model  # the caller's policy model (it closes it); default: the configured one
        self.retriever = retriever  # open domain: the caller's backend; default: the run's index

    async def plan(self, context: StageContext, options: AnnotateOptions) -> AnnotatePlan:
        run_dir, cfg = context.run_dir, context.settings.annotate
        algorithm = options.algorithm or cfg.algorithm
        if algorithm not in ("dfsdt", "react"):
            raise ConfigError(f"annotate.algorithm {algorithm!r}: use dfsdt or react")
        files = list(options.query_files) if options.query_files else query_files(run_dir)
        missing = [str(f) for f in files if not f.is_file()]
        if missing:
            raise NothingAnnotated(f"query file not found: {', '.join(missing)}")
        if not files:
            raise NothingAnnotated(
                f"no queries: {run_dir / QUERIES_DIR} has no G*.jsonl (run `toolgen generate` first)")
        open_domain = cfg.open_domain if options.open_domain is None else options.open_domain
        resolver = ApiResolver(iter_tools(run_dir))
        loaded = load_query_items(files, resolver, open_domain=open_domain)
        items, skipped = loaded.items, loaded.skipped
        total_queries = len(items) + sum(skipped.values())
        if total_queries == 0:
            raise NothingAnnotated(f"no queries in {', '.join(str(f) for f in files)}")
        done = _finished_before(run_dir)
        todo = [item for item in items if item.key not in done]
        log.info("annotate: %d queries (%d done before, %d to search, %d skipped) with %s",
                 len(items), len(items) - len(todo), len(todo), sum(skipped.values()), algorithm)
        size = options.batch_size
        return AnnotatePlan(
            batches=[todo[start:start + size] for start in range(0, len(todo), size)], items=len(todo),
            files=files, algorithm=algorithm, width=options.width if options.width is not None else cfg.width,
            queries=items, total_queries=total_queries, skipped=skipped, unresolved=loaded.unresolved,
            unreadable=loaded.unreadable, done=done, open_domain=open_domain,
            retrieve_k=options.retrieve_k if options.retrieve_k is not None else cfg.retrieve_k,
            catalog=resolver.by_ids if open_domain else {},
        )

    @asynccontextmanager
    async def open(self, context: StageContext, plan: AnnotatePlan) -> AsyncIterator[_AnnotateSession]:
        settings, cfg = context.settings, context.settings.annotate
        built: ChatModel | None = None
        policy = self.model
        if policy is None:
            from pipeline.llm.factory import build_chat_model
            from pipeline.llm.offline_policy import OfflinePolicy

            built = build_chat_model(settings, run_dir=context.run_dir)
            # not `or`: the cached model defines __len__, and an empty cache is falsy
            policy = built if built is not None else OfflinePolicy()
        search_settings = {"width": plan.width if plan.algorithm == "dfsdt" else 1, "max_depth": cfg.max_depth,
                           "max_model_calls": cfg.max_model_calls, "max_api_calls": cfg.max_api_calls,
                           "restarts": cfg.restarts if plan.algorithm == "react" else 0}
        if plan.open_domain and plan.items:
            await _retrieve(plan, self.retriever, context)
        needed: dict[str, Tool] = {}
        for batch in plan.batches:
            for item in batch:
                for tool, _ in item.pairs:
                    needed.setdefault(tool.id, tool)
        session: _AnnotateSession | None = None
        try:
            if built is not None and plan.items:
                await check_chat_model(built, ["policy"])  # fail in a second, not after every query
            async with AsyncExitStack() as stack:
                environment: Any = None
                if needed:
                    from pipeline.env.environment import open_environment

                    # The LLM simulator (env.simulation.use_llm) shares the policy's client: one
                    # budget of requests in flight, one reply cache, and its usage counted in
                    # this stage's llm_usage under the "simulator" role.
                    environment = await stack.enter_async_context(
                        open_environment(list(needed.values()), settings, run_dir=context.run_dir, model=built))
                session = _AnnotateSession(context=context, plan=plan, policy=policy,
                                           model_name=_model_name(settings, self.model, built),
                                           environment=environment, limit=asyncio.Semaphore(cfg.concurrency),
                                           search_settings=search_settings,
                                           failures=FailureLog(context.run_dir, self.name,
                                                              strict=settings.strict_items))
                with relaxed_gc():  # the catalog and imports stay alive: keep full collections off them
                    yield session
        finally:
            for appender in session.appenders.values() if session is not None else ():
                appender.close()
            if session is not None:
                session.failures.close()
            if built is not None:
                await close_chat_model(built)

    async def run_batch(self, session: _AnnotateSession, batch: list[QueryItem]) -> int:
        cfg, plan = session.context.settings.annotate, session.plan

        async def one(item: QueryItem) -> None:
            if item.key in plan.done:  # written by an earlier attempt at this batch
                return
            try:
                async with session.limit:
                    trajectory = await _search(item, session.policy, session.environment, cfg, plan.algorithm,
                                               plan.width).run(item.query, item.query_id)
                retrieved = plan.retrieved.get(item.key)
                record = TrajectoryRecord.from_trajectory(
                    trajectory, query_id=item.query_id, group=item.group, model=session.model_name,
                    training=trajectory.succeeded or cfg.include_failed_in_training,
                    search=session.search_settings, relevant_apis=item.relevant, unresolved_apis=item.unresolved,
                    retrieved_apis=retrieved.names if retrieved is not None else None,
                    retrieved_api_ids=retrieved.ids if retrieved is not None else None,
                    retrieval_recall=retrieved.recall if retrieved is not None else None,
                )
                line = record.dump_line()  # serialised before anything is written: a line is whole or absent
            except Exception as error:  # noqa: BLE001 - one query's failure is that query's (pipeline.failures)
                if isinstance(error, ModelError):
                    session.errors[f"model error: {error}"[:200]] += 1
                session.failures.guard(error, group=item.group, item_id=item.query_id,
                                       expected=isinstance(error, ModelError))
            else:
                session.write(record, line)
                session.searched += 1
            session.context.advance()

        await asyncio.gather(*(one(item) for item in batch))
        return len(batch)

    async def finalize(self, session: _AnnotateSession, results: list[int]) -> AnnotateReport:
        plan = session.plan
        report = _totals([plan.done[item.key] for item in plan.queries if item.key in plan.done], plan.queries,
                         plan.skipped)
        report.algorithm = plan.algorithm
        report.model = session.model_name
        report.queries = plan.total_queries
        report.unresolved_apis = plan.unresolved
        report.errors = session.failures.total
        report.model_errors = dict(session.errors)
        report.query_failures = dict(session.failures.counts)
        report.failures_outstanding = session.failures.settle(plan.done)
        report.resumed = len(plan.queries) - plan.items
        report.searched = session.searched
        report.llm_usage = model_usage(session.policy)
        report.environment = session.environment.stats() if session.environment is not None else {}
        report.query_files = [str(f) for f in plan.files]
        report.unreadable_queries = plan.unreadable[:100]
        report.search = session.search_settings
        if plan.open_domain:
            recalls = [one.recall for item in plan.queries if (one := plan.done.get(item.key)) is not None
                       and one.recall is not None]
            report.open_domain, report.retrieve_k = True, plan.retrieve_k
            report.retrieval_recall_queries = len(recalls)
            report.retrieval_recall = round(sum(recalls) / len(recalls), 4) if recalls else None
        log.info("annotated %d queries: %d answered, %d failed, %d skipped",
                 report.answered + report.failed, report.answered, report.failed, report.skipped)
        return report

    def summary(self, report: AnnotateReport) -> dict[str, Any]:
        return annotate_summary(report)

    def artifacts(self, report: AnnotateReport) -> list[Artifact]:
        return [TableArtifact(
            key="annotate-groups",
            rows=[{"group": group, **figures.model_dump()} for group, figures in report.per_group.items()],
            description=(f"{report.answered} answered, {report.failed} failed, {report.skipped} skipped; "
                         f"{report.backtracking_trees} trees backtracked"),
        )]


# --- open domain --------------------------------------------------------------------------------


NO_API_RETRIEVED = "the retriever found no API of the catalog"


async def _retrieve(plan: AnnotatePlan, backend: SearchBackend | None, context: StageContext) -> None:
    """Give every query to search the retriever's top APIs (the index loaded once, queries in batches).

    A query for which no retrieved API is in the catalog is skipped with that reason.
    """
    settings = context.settings
    if backend is None:
        backend = await asyncio.to_thread(open_run_retriever, context.run_dir, settings.retriever)
    todo = [item for batch in plan.batches for item in batch]
    relevant: list[list[ApiPair] | None] = [item.relevant_ids for item in todo]
    # encoding is CPU work: off the event loop
    found = await asyncio.to_thread(retrieve_apis, backend, [item.query for item in todo], plan.catalog,
                                    k=plan.retrieve_k, relevant=relevant)
    empty: set[tuple[str, str]] = set()
    for item, retrieved in zip(todo, found, strict=True):
        item.pairs = list(retrieved.pairs)
        item.unresolved = []
        plan.retrieved[item.key] = retrieved
        if not item.pairs:
            empty.add(item.key)
    if empty:
        plan.skipped[NO_API_RETRIEVED] += len(empty)
        plan.batches = [kept for batch in plan.batches if (kept := [i for i in batch if i.key not in empty])]
        plan.queries = [item for item in plan.queries if item.key not in empty]
        plan.items -= len(empty)
        context.set_total(plan.items)
    log.info("open domain: retrieved %d APIs for each of %d queries", plan.retrieve_k, len(todo))


# --- figures ------------------------------------------------------------------------------------


def _totals(finished: list[_Finished], items: list[QueryItem], skipped: Counter[str]) -> AnnotateReport:
    report = AnnotateReport(skipped=sum(skipped.values()), skipped_reasons=dict(skipped))
    per_group: dict[str, GroupFigures] = {}
    for item in items:
        per_group.setdefault(item.group, GroupFigures()).queries += 1
    sums = [0] * len(_COUNTED)
    for one in finished:
        figures = per_group.setdefault(one.group, GroupFigures())
        if one.answered:
            report.answered += 1
            figures.answered += 1
            report.answered_calls_ok += int(one.calls_ok)
        else:
            report.failed += 1
            figures.failed += 1
        for index, value in enumerate(one.counts):
            sums[index] += value
        report.backtracking_trees += int(one.counts[_COUNTED.index("backtracks")] > 0)
    total = dict(zip(_COUNTED, sums, strict=True))
    report.per_group = dict(sorted(per_group.items()))
    n = max(1, len(finished))
    report.mean_model_calls = round(total["model_calls"] / n, 2)
    report.mean_api_calls = round(total["api_calls"] / n, 2)
    report.mean_nodes = round(total["nodes"] / n, 2)
    report.mean_backtracks = round(total["backtracks"] / n, 2)
    report.cache_hits = total["cache_hits"]
    report.prompt_tokens = total["prompt_tokens"]
    report.completion_tokens = total["completion_tokens"]
    return report


def annotate_summary(report: AnnotateReport) -> dict[str, Any]:
    """The figures the CLI prints."""
    searched = report.answered + report.failed
    figures: dict[str, Any] = {
        "algorithm / model": f"{report.algorithm} / {report.model}",
        "queries (searched now / resumed / skipped)": f"{report.queries} ({report.searched} / {report.resumed} / {report.skipped})",
        "answered": f"{report.answered} of {searched}",
        "answered, every call on the path OK": report.answered_calls_ok,
        "failed (give_up)": report.failed,
        "backtracking trees": report.backtracking_trees,
        "mean model calls / API calls / nodes": f"{report.mean_model_calls} / {report.mean_api_calls} / {report.mean_nodes}",
    }
    if report.open_domain:
        figures["open domain: APIs retrieved per query"] = report.retrieve_k
        if report.retrieval_recall is not None:
            figures["open domain: relevant APIs retrieved (mean recall)"] = (
                f"{report.retrieval_recall:.3f} over {report.retrieval_recall_queries} queries")
    if report.skipped_reasons:
        figures["skipped"] = report.skipped_reasons
    if report.errors:
        figures["queries failed by an error (retried on rerun)"] = (
            f"{report.errors}: " + ", ".join(f"{name} {count}" for name, count in sorted(report.query_failures.items())))
    if report.failures_outstanding:
        figures["outstanding failures"] = f"{report.failures_outstanding} (failures/annotate.jsonl)"
    for group, counts in report.per_group.items():
        figures[f"{group} answered / failed / queries"] = f"{counts.answered} / {counts.failed} / {counts.queries}"
    figures["tokens"] = report.prompt_tokens + report.completion_tokens
    figures["seconds"] = report.seconds
    return figures
