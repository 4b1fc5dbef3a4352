"""The stage contract every stage follows, the one runner, and the one registry of stages.

A stage reads what earlier stages wrote into the run folder and writes its own sub-folder and
its section of ``manifest.json``. The CLI (``toolgen collect`` ... ``toolgen report``),
``toolgen run``, :func:`pipeline.run.run_pipeline` and the Prefect flows in ``flows/`` all
iterate over :func:`registry` and call :func:`run_stage`; none of them knows a stage by hand.

Two shapes of stage:

* :class:`Stage`: one ``execute`` call (collect, probe, export, report: their parallelism is
  inside, a process pool or a pass over files).
* :class:`BatchedStage`: the stages that do model or API work (generate, annotate, verify) split
  it as ``plan`` → ``run_batch`` × N → ``finalize``. ``plan`` reads the inputs and leaves out what
  an earlier run finished (resume); ``open`` holds what batches share (a model client, the
  environment, the output appenders); every ``run_batch`` appends its finished items at once, so a
  killed run loses only work in flight, and may be retried (it skips items it already wrote);
  ``finalize`` computes the totals over the whole run folder. The Prefect flows map batches as
  tasks with retries; the same batches are what a distributed runner will spread.

What every stage gets from the contract, not from its own code: the manifest section with its
start and finish times (:func:`run_stage`), a clean slate (what a killed run left in its outputs
is removed first, :mod:`pipeline.leftovers`), progress (:meth:`StageContext.advance`), and the
"nothing to do" check after the manifest is written (:meth:`Stage.check`).
"""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from pipeline.errors import UsageError
from pipeline.leftovers import clean_leftovers
from pipeline.runlock import run_folder_lock
from pipeline.settings import Settings

OptionsT = TypeVar("OptionsT", bound=BaseModel)
ReportT = TypeVar("ReportT")
PlanT = TypeVar("PlanT", bound="Plan[Any]")
SessionT = TypeVar("SessionT")
BatchT = TypeVar("BatchT")
ResultT = TypeVar("ResultT")
T = TypeVar("T")

ProgressCallback = Callable[[int, int | None], None]
"""``(done, total)``; ``total`` is ``None`` while a stage does not know it yet."""


class StageOptions(BaseModel):
    """A stage's own options (its CLI flags, its flow's parameters); every field optional,
    ``None`` meaning "as configured". Unknown names are refused, so a misspelt flow parameter
    in a deployment fails loudly instead of being ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class StageReport(BaseModel):
    """Base of the stages' reports: :func:`run_stage` fills in how long the stage took."""

    seconds: float = 0.0


@dataclass
class StageContext:
    """What one stage run works with: settings, the run folder, and where progress goes."""

    settings: Settings
    run_dir: Path
    progress: ProgressCallback | None = None
    done: int = field(default=0, init=False)
    total: int | None = field(default=None, init=False)

    @classmethod
    def of(cls, settings: Settings, run_dir: Path | None = None, progress: ProgressCallback | None = None) -> StageContext:
        return cls(settings=settings, run_dir=Path(run_dir or settings.run_dir), progress=progress)

    def set_total(self, total: int | None) -> None:
        self.total = total
        self._report()

    def advance(self, count: int = 1) -> None:
        self.done += count
        self._report()

    def _report(self) -> None:
        if self.progress is not None:
            self.progress(self.done, self.total)


@dataclass(frozen=True)
class TableArtifact:
    """A table to publish beside a run (Prefect shows these in its UI); plain data, no Prefect."""

    key: str  # lowercase letters, digits and dashes (Prefect's rule for artifact keys)
    rows: list[dict[str, Any]]
    description: str = ""


@dataclass(frozen=True)
class MarkdownArtifact:
    key: str
    markdown: str


Artifact = TableArtifact | MarkdownArtifact


class Stage(ABC, Generic[OptionsT, ReportT]):
    """One step of the pipeline. Subclasses set the class attributes and ``execute``."""

    name: ClassVar[str]
    title: ClassVar[str]  # what the progress bar and the CLI's table say
    inputs: ClassVar[tuple[str, ...]]  # run-folder paths it reads
    outputs: ClassVar[tuple[str, ...]]  # run-folder paths it writes
    options_type: ClassVar[type[BaseModel]]
    manifest_merge: ClassVar[bool] = False  # merge into the stage's manifest section (export)
    writes_run_folder: ClassVar[bool] = True  # takes the run folder's writer lock while it runs

    def options(self, values: Mapping[str, Any] | BaseModel | None = None) -> OptionsT:
        """The stage's options from a mapping (flow parameters), refusing unknown names."""
        if isinstance(values, self.options_type):
            return values  # type: ignore[return-value]
        raw = values.model_dump() if isinstance(values, BaseModel) else dict(values or {})
        try:
            return self.options_type.model_validate(raw)  # type: ignore[return-value]
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(str(part) for part in issue['loc']) or '(options)'}: {issue['msg']}"
                for issue in error.errors()
            )
            raise UsageError(f"{self.name} options: {problems}") from None

    @abstractmethod
    async def execute(self, context: StageContext, options: OptionsT) -> ReportT:
        """Do the stage's work into ``context.run_dir``; the report of what it did."""

    def manifest_section(self, report: ReportT) -> dict[str, Any] | None:
        """The stage's part of ``manifest.json`` (``None``: the stage records nothing)."""
        if isinstance(report, BaseModel):
            return report.model_dump(mode="json")
        return None

    def check(self, report: ReportT) -> None:
        """Raise a :class:`~pipeline.errors.StageError` if the run folder ends with nothing to
        show for the stage; called after the manifest is written, so the figures are kept."""

    def summary(self, report: ReportT) -> dict[str, Any]:
        """The figures the CLI prints after the stage."""
        return {}

    def artifacts(self, report: ReportT) -> list[Artifact]:
        """Tables and notes to publish where the run is orchestrated (Prefect artifacts)."""
        return []

    def describe(self, report: ReportT) -> str:
        """One line for the end of ``toolgen run``; defaults to nothing."""
        return ""


@dataclass
class Plan(Generic[BatchT]):
    """What a batched stage will do: the batches left after resume, and how many items they hold.
    Stages subclass it (as dataclasses) with what their ``open`` and ``finalize`` need."""

    batches: list[BatchT]
    items: int


PhaseRunner = Callable[..., Awaitable[Any]]
"""``await call(phase, function, *args)``: how the runner calls each phase of a batched stage.
:func:`call_directly` awaits it; the Prefect flows wrap it as a task (with retries for
``batch``)."""


async def call_directly(phase: str, function: Callable[..., Awaitable[T]], *args: Any) -> T:
    return await function(*args)


class BatchedStage(Stage[OptionsT, ReportT], Generic[OptionsT, PlanT, SessionT, BatchT, ResultT, ReportT]):
    """A stage whose model or API work is split into batches; see the module docstring."""

    parallel_batches: ClassVar[int] = 8
    """Batches in flight at once. The session's semaphores bound the real work (model and API
    calls); this bounds how many items are held in memory. 1 runs batches in order (generate,
    whose query ids and dedup decisions follow the sampling order)."""

    @abstractmethod
    async def plan(self, context: StageContext, options: OptionsT) -> PlanT:
        """Read the inputs, leave out what is finished, and cut the rest into batches."""

    @abstractmethod
    def open(self, context: StageContext, plan: PlanT) -> AbstractAsyncContextManager[SessionT]:
        """What every batch shares (models, environment, appenders), open for the run."""

    @abstractmethod
    async def run_batch(self, session: SessionT, batch: BatchT) -> ResultT:
        """Do one batch and write its finished items at once; safe to call again after a failure."""

    @abstractmethod
    async def finalize(self, session: SessionT, results: list[ResultT]) -> ReportT:
        """The stage's report over the whole run folder (earlier runs included)."""

    async def execute(self, context: StageContext, options: OptionsT) -> ReportT:
        return await self.execute_with(context, options, call_directly)

    async def execute_with(self, context: StageContext, options: OptionsT, call: PhaseRunner) -> ReportT:
        """Plan, run every batch (concurrently: the session's limits bound the real work), finalize."""
        plan: PlanT = await call("plan", self.plan, context, options)
        context.set_total(plan.items)
        gate = asyncio.Semaphore(self.parallel_batches)

        async def one(session: SessionT, batch: BatchT) -> ResultT:
            async with gate:
                result: ResultT = await call("batch", self.run_batch, session, batch)
                return result

        async with self.open(context, plan) as session:
            results = await asyncio.gather(*(one(session, batch) for batch in plan.batches))
            report: ReportT = await call("finalize", self.finalize, session, list(results))
        return report


class StageRunner(Protocol):
    """How :func:`run_stage` executes a stage: directly, or as Prefect tasks (``flows/``)."""

    async def __call__(self, stage: Stage[Any, Any], context: StageContext, options: Any) -> Any: ...


async def execute_directly(stage: Stage[Any, Any], context: StageContext, options: Any) -> Any:
    return await stage.execute(context, options)


async def run_stage(
    stage: Stage[OptionsT, ReportT],
    context: StageContext,
    options: OptionsT | Mapping[str, Any] | None = None,
    *,
    runner: StageRunner = execute_directly,
) -> ReportT:
    """Run ``stage`` into ``context.run_dir``: execute it, record its manifest section with start
    and finish times, then apply its "nothing to do" check. A stage that writes holds the run
    folder's writer lock meanwhile (:mod:`pipeline.runlock`): a second writer fails at once."""
    from pipeline.llm.usage import with_usage_total
    from pipeline.manifest import now_iso, read_manifest, record_stage

    chosen = stage.options(options)
    with run_folder_lock(context.run_dir, purpose=f"toolgen {stage.name}") if stage.writes_run_folder else nullcontext():
        # what a killed run of this stage left (temporary files, staging folders) goes first
        clean_leftovers(context.run_dir, stage.outputs, exclusive=stage.writes_run_folder)
        started, clock = now_iso(), time.perf_counter()
        report: ReportT = await runner(stage, context, chosen)
        if isinstance(report, StageReport):
            report.seconds = round(time.perf_counter() - clock, 3)
        section = stage.manifest_section(report)
        if section is not None:
            if not stage.manifest_merge:
                section = {"started": started, "finished": now_iso(), **section}
            previous = (read_manifest(context.run_dir).get("stages") or {}).get(stage.name)
            section = with_usage_total(section, previous if isinstance(previous, dict) else None)
            record_stage(context.run_dir, stage.name, section, context.settings, merge=stage.manifest_merge)
    stage.check(report)
    return report


def registry() -> tuple[Stage[Any, Any], ...]:
    """Every stage, in pipeline order: what ``toolgen run`` runs and the flows are made of.

    Imported on demand so that ``toolgen --help`` and the retriever's query path do not load
    every stage's dependencies.
    """
    from pipeline.env.probe import ProbeStage
    from pipeline.export.stage import ExportStage
    from pipeline.generate.stage import GenerateStage
    from pipeline.report.build import ReportStage
    from pipeline.retriever.stage import RetrieverStage
    from pipeline.search.stage import AnnotateStage
    from pipeline.specs.collect import CollectStage
    from pipeline.verify.stage import VerifyStage

    return (CollectStage(), ProbeStage(), GenerateStage(), AnnotateStage(), VerifyStage(), ExportStage(),
            RetrieverStage(), ReportStage())


def stage_named(name: str) -> Stage[Any, Any]:
    for stage in registry():
        if stage.name == name:
            return stage
    raise UsageError(f"no stage named {name!r}; stages: {', '.join(s.name for s in registry())}")


def check_stage_names(options: Mapping[str, Any] | None, names: Sequence[str]) -> None:
    """Refuse options for a stage that does not exist (a misspelt name in a pipeline's options)."""
    unknown = sorted(set(options or {}) - set(names))
    if unknown:
        raise UsageError(f"options for unknown stage(s) {', '.join(unknown)}; stages: {', '.join(names)}")
