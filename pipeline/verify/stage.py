"""The verify stage: every trajectory of the run passes the funnel, and every rejection keeps why.

Candidates are the lines of ``<run>/trajectories/*.jsonl`` (streamed). Each goes through
format → execution → semantic (:mod:`pipeline.verify.checks`, :mod:`pipeline.verify.judge`) and
stops at the first check it fails. Outputs, in ``<run>/verified/``:

* ``accepted.jsonl``: the trajectory record, whole, plus ``verification`` (every check's result,
  the judge's votes, how many errors the path corrected): what the exports read;
* ``rejected.jsonl``: ``group``, ``query_id``, ``query``, ``failed_at`` and ``reasons``, plus
  ``verification``, so a rejection can be inspected without the tree.

Each verdict is appended at once; a rerun skips the (group, query id) pairs already in either
file, so a killed run resumes and a finished one does no work. A sample whose judging failed
with a model error, or whose checks raised on its data, is written nowhere (counted in
``judge_errors`` / ``sample_failures`` and listed in ``<run>/failures/verify.jsonl``, see
:mod:`pipeline.failures`) and is verified again next time; the other samples go on.
The funnel figures in the manifest cover both files, earlier runs included.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import Field

from pipeline.errors import ConfigError, NothingToDo
from pipeline.failures import FailureLog
from pipeline.llm.types import ChatModel, ModelError, check_chat_model, close_chat_model, model_usage
from pipeline.records import (
    ACCEPTED_FILE,
    REJECTED_FILE,
    VERIFIED_DIR,
    AcceptedSample,
    RecordAppender,
    RecordError,
    RejectedSample,
    TrajectoryRecord,
    accepted_path,
    iter_accepted,
    iter_rejected,
    iter_trajectory_file,
    read_keys,
    rejected_path,
)
from pipeline.settings import GroundingMode, Settings
from pipeline.specs.catalog import CatalogMissing, iter_tools
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
from pipeline.toolbench.queries import ApiResolver
from pipeline.verify.checks import SchemaBook, check_execution, check_format, check_path_grounding, path_calls
from pipeline.verify.judge import Judge, LLMJudge, OfflineJudge
from pipeline.verify.verdict import Verification

log = logging.getLogger(__name__)

STAGES = ("format", "execution", "grounding", "semantic")



class NothingToVerify(NothingToDo):
    """The run has no trajectories (the message says where it looked)."""


class VerifyReport(StageReport):
    """The funnel over every verdict of the run (earlier, resumed runs included); ``verified``,
    ``resumed``, ``judge_errors``, ``llm_usage`` and ``seconds`` are this invocation's."""

    judge: str = ""
    votes: int = 1
    funnel: dict[str, int] = Field(default_factory=dict)  # candidates, then passed per check
    accepted: int = 0
    rejected: dict[str, int] = Field(default_factory=dict)  # per check that rejected
    reasons: dict[str, int] = Field(default_factory=dict)  # kind of reason → samples
    per_group: dict[str, dict[str, int]] = Field(default_factory=dict)
    corrected_errors: int = Field(default=0, description="accepted samples that correct an error on their path")
    verified: int = 0
    resumed: int = 0
    judge_errors: int = 0
    sample_failures: dict[str, int] = Field(default_factory=dict, description="samples whose verification raised, by error type")
    failures_outstanding: int = Field(default=0, description="samples listed in failures/verify.jsonl")
    llm_usage: dict[str, dict[str, Any]] = Field(default_factory=dict)
    unreadable: list[str] = Field(default_factory=list, description="trajectory lines that are no valid record")


async def verify_record(
    record: TrajectoryRecord | Mapping[str, Any], judge: Judge, book: SchemaBook | None = None, *,
    unsure_passes: bool = False, grounding: GroundingMode = "reject",
) -> Verification:
    """Run the funnel on one trajectory record; stops at the first failed check.

    ``grounding``: ``reject`` fails a sample with an ungrounded required argument, ``flag`` only
    records the ungrounded arguments, ``off`` skips the check."""
    record = TrajectoryRecord.of(record)
    calls = path_calls(record)
    formatted = check_format(record, calls, book)
    if not formatted.passed:
        return Verification(passed=False, failed_at="format", format=formatted)
    executed = check_execution(calls)
    corrected = len(formatted.corrected) + len(executed.corrected)
    if not executed.passed:
        return Verification(passed=False, failed_at="execution", format=formatted, execution=executed,
                            corrected_errors=corrected)
    grounded = check_path_grounding(record, calls) if grounding != "off" else None
    if grounded is not None and grounding == "flag":
        grounded.passed, grounded.reasons = True, []
    if grounded is not None and not grounded.passed:
        return Verification(passed=False, failed_at="grounding", format=formatted, execution=executed,
                            grounding=grounded, corrected_errors=corrected)
    judgement = await judge.judge(record, calls)
    passed = judgement.verdict == "solved" or (unsure_passes and judgement.verdict == "unsure")
    return Verification(passed=passed, failed_at=None if passed else "semantic", format=formatted,
                        execution=executed, grounding=grounded, semantic=judgement, corrected_errors=corrected)


def build_judge(settings: Settings, *, run_dir: Path, model: ChatModel | None) -> tuple[Judge, ChatModel | None]:
    """The configured judge, and the model built for it (the caller closes that one)."""
    cfg = settings.verify
    built: ChatModel | None = None
    use_llm = cfg.judge == "llm" or (cfg.judge == "auto" and (model is not None or settings.llm.backend != "offline"))
    if use_llm:
        if model is None:
            from pipeline.llm.factory import build_chat_model

            model = built = build_chat_model(settings, run_dir=run_dir)
        if model is None:
            raise ConfigError("verify.judge = 'llm' needs a model: set llm.backend (and llm.base_url / api_key)")
        name = str(getattr(model, "model_name", None) or settings.llm.model_for("judge"))
        return LLMJudge(model, model_name=name, votes=cfg.votes, trajectory_chars=cfg.trajectory_chars,
                        structured_output=settings.llm.structured_output), built
    try:
        resolver = ApiResolver(iter_tools(run_dir))
    except CatalogMissing:
        resolver = None

    def lookup(tool_name: str, api_name: str) -> tuple[str, str] | None:
        found = resolver.resolve_names(tool_name, api_name) if resolver else None
        return (found[0].id, found[1].id) if found else None

    return OfflineJudge(lookup if resolver is not None else None), None


def _done_keys(run_dir: Path) -> set[tuple[str, str]]:
    keys: set[tuple[str, str]] = set()
    for path in (accepted_path(run_dir), rejected_path(run_dir)):
        if path.is_file():
            keys.update(read_keys(path))
    return keys


async def verify_trajectories(
    settings: Settings,
    *,
    run_dir: Path | None = None,
    model: ChatModel | None = None,
    judge: Judge | None = None,
    progress: ProgressCallback | None = None,
) -> VerifyReport:
    """Write ``verified/accepted.jsonl`` and ``rejected.jsonl``; see the module docstring.

    ``judge`` replaces the configured one; ``model`` (the caller closes it) is the LLM judge's
    model instead of one built from ``settings.llm``. Raises :class:`NothingToVerify` when the
    run has no trajectory.
    """
    stage = VerifyStage(model=model, judge=judge)
    return await run_stage(stage, StageContext.of(settings, run_dir, progress), VerifyOptions())


class VerifyOptions(StageOptions):
    batch_size: int = Field(default=64, ge=1)


@dataclass(frozen=True)
class TrajectorySlice:
    """A batch: lines ``[start, stop)`` of one trajectory file (records stay on disk until then)."""

    path: Path
    start: int
    stop: int


@dataclass
class VerifyPlan(Plan[TrajectorySlice]):
    done: set[tuple[str, str]] = field(default_factory=set)
    resumed: int = 0


@dataclass
class _VerifySession:
    context: StageContext
    plan: VerifyPlan
    judge: Judge
    model: ChatModel | None
    limit: asyncio.Semaphore
    accepted: RecordAppender[AcceptedSample]
    rejected: RecordAppender[RejectedSample]
    failures: FailureLog
    unreadable: list[str] = field(default_factory=list)
    book: SchemaBook = field(default_factory=SchemaBook)
    counts: Counter[str] = field(default_factory=Counter)


class VerifyStage(BatchedStage[VerifyOptions, VerifyPlan, _VerifySession, TrajectorySlice, int, VerifyReport]):
    """``verified/``: every trajectory through the format, execution and semantic checks."""

    name = "verify"
    title = "verifying"
    inputs = ("trajectories/", "catalog/")
    outputs = (VERIFIED_DIR + "/", "failures/verify.jsonl")
    options_type = VerifyOptions
    parallel_batches = 4  # a batch holds its trajectories in memory

    def __init__(self, model: ChatModel | None = None, judge: Judge | None = None) -> None:
        self.model = model  # the LLM judge's model (the caller closes it); default: the configured one
        self.judge = judge  # replaces the configured judge

    async def plan(self, context: StageContext, options: VerifyOptions) -> VerifyPlan:
        source = context.run_dir / "trajectories"
        files = sorted(source.glob("*.jsonl")) if source.is_dir() else []
        if not files:
            raise NothingToVerify(f"no trajectories in {source}: run `toolgen annotate` first")
        done = _done_keys(context.run_dir)
        batches: list[TrajectorySlice] = []
        items = 0
        for path in files:
            # the keys of the lines still to verify; the records themselves are read per batch
            lines = 0
            for key in read_keys(path, group=path.stem):
                lines += 1
                items += key not in done
            batches.extend(TrajectorySlice(path, start, min(start + options.batch_size, lines))
                           for start in range(0, lines, options.batch_size))
        return VerifyPlan(batches=batches, items=items, done=done, resumed=len(done))

    @asynccontextmanager
    async def open(self, context: StageContext, plan: VerifyPlan) -> AsyncIterator[_VerifySession]:
        built: ChatModel | None = None
        judge = self.judge
        if judge is None:
            judge, built = build_judge(context.settings, run_dir=context.run_dir, model=self.model)
        log.info("verify: judge %s (%d vote(s)), %d verdicts from before", judge.name, getattr(judge, "votes", 1),
                 len(plan.done))
        folder = context.run_dir / VERIFIED_DIR
        session = _VerifySession(context=context, plan=plan, judge=judge, model=built or self.model,
                                 limit=asyncio.Semaphore(context.settings.verify.concurrency),
                                 accepted=RecordAppender(folder / ACCEPTED_FILE),
                                 rejected=RecordAppender(folder / REJECTED_FILE),
                                 failures=FailureLog(context.run_dir, self.name,
                                                   strict=context.settings.strict_items))
        try:
            if built is not None and plan.items:
                await check_chat_model(built, ["judge"])  # fail in a second, not after every sample
            yield session
        finally:
            session.accepted.close()
            session.rejected.close()
            session.failures.close()
            if built is not None:
                await close_chat_model(built)

    async def run_batch(self, session: _VerifySession, batch: TrajectorySlice) -> int:
        def unreadable(error: RecordError) -> None:
            session.unreadable.append(str(error))
            log.warning("not verified: %s", error)

        lines = iter_trajectory_file(batch.path, on_error=unreadable)
        records = [record for record in itertools.islice(lines, batch.start, batch.stop)
                   if record.key not in session.plan.done]
        await asyncio.gather(*(self._verify_one(session, record) for record in records))
        return len(records)

    async def _verify_one(self, session: _VerifySession, record: TrajectoryRecord) -> None:
        key = record.key
        out: RecordAppender[Any]
        try:
            async with session.limit:
                verification = await verify_record(record, session.judge, session.book,
                                                   unsure_passes=session.context.settings.verify.unsure_passes,
                                                   grounding=session.context.settings.verify.grounding)
            if key in session.plan.done:  # a retried batch: an earlier attempt wrote it meanwhile
                return
            # serialised before anything is written: a verdict line is whole or absent
            if verification.passed:
                out, line = session.accepted, AcceptedSample.accept(record, verification).dump_line()
            else:
                out, line = session.rejected, RejectedSample.reject(record, verification).dump_line()
        except Exception as error:  # noqa: BLE001 - one sample's failure is that sample's (pipeline.failures)
            if isinstance(error, ModelError):
                session.counts["judge_errors"] += 1
            session.failures.guard(error, group=key[0], item_id=key[1], expected=isinstance(error, ModelError))
            return
        out.write_line(line)
        session.plan.done.add(key)
        session.counts["verified"] += 1
        session.context.advance()

    async def finalize(self, session: _VerifySession, results: list[int]) -> VerifyReport:
        report = funnel_figures(session.context.run_dir)
        report.judge, report.votes = session.judge.name, getattr(session.judge, "votes", 1)
        report.verified, report.resumed = session.counts["verified"], session.plan.resumed
        report.judge_errors = session.counts["judge_errors"]
        report.sample_failures = dict(session.failures.counts)
        report.failures_outstanding = session.failures.settle(session.plan.done)
        report.unreadable = session.unreadable[:100]
        report.llm_usage = model_usage(session.model) if session.model is not None else {}
        log.info("verified %d samples: %d accepted, rejected %s", report.funnel.get("candidates", 0),
                 report.accepted, report.rejected)
        return report

    def summary(self, report: VerifyReport) -> dict[str, Any]:
        return verify_summary(report)

    def artifacts(self, report: VerifyReport) -> list[Artifact]:
        candidates = report.funnel.get("candidates", 0)
        return [
            TableArtifact(
                key="verify-funnel",
                rows=[{"check": "candidates", "passed": candidates, "rejected": 0},
                      *({"check": check, "passed": report.funnel.get(check, 0),
                         "rejected": report.rejected.get(check, 0)} for check in STAGES)],
                description=f"{report.accepted} of {candidates} accepted by {report.judge}",
            ),
            *([TableArtifact(key="verify-reasons",
                             rows=[{"reason": kind, "samples": count} for kind, count in report.reasons.items()],
                             description="why samples were rejected")] if report.reasons else []),
        ]


def funnel_figures(run_dir: Path) -> VerifyReport:
    """The funnel, rejection reasons and per-group counts over the run's verdict files."""
    report = VerifyReport()
    rejected: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    groups: dict[str, Counter[str]] = {}
    judged: set[tuple[str, str]] = set()  # a sample both accepted and rejected (two writers) counts once
    for accepted in iter_accepted(run_dir):
        judged.add(accepted.key)
        report.accepted += 1
        report.corrected_errors += int(accepted.verification.corrected_errors > 0)
        group = groups.setdefault(accepted.group, Counter())
        group["candidates"] += 1
        group["accepted"] += 1
    for rejection in iter_rejected(run_dir):
        if rejection.key in judged:
            continue
        rejected[rejection.failed_at] += 1
        for kind in dict.fromkeys(rejection.kinds):
            reasons[kind] += 1
        groups.setdefault(rejection.group, Counter())["candidates"] += 1
    candidates = report.accepted + sum(rejected.values())
    report.funnel = {"candidates": candidates}
    remaining = candidates
    for stage in STAGES:
        remaining -= rejected[stage]
        report.funnel[stage] = remaining
    report.rejected = {stage: rejected[stage] for stage in STAGES}
    report.reasons = dict(reasons.most_common(40))
    report.per_group = {g: {"candidates": c["candidates"], "accepted": c["accepted"]} for g, c in sorted(groups.items())}
    return report


def verify_summary(report: VerifyReport) -> dict[str, Any]:
    """The figures the CLI prints."""
    figures: dict[str, Any] = {
        "judge": f"{report.judge} ({report.votes} vote{'s' if report.votes != 1 else ''})",
        "candidates": report.funnel.get("candidates", 0),
        f"passed {' / '.join(STAGES)}": " / ".join(str(report.funnel.get(s, 0)) for s in STAGES),
        "accepted": report.accepted,
        "accepted with corrected errors": report.corrected_errors,
        "verified now / resumed": f"{report.verified} / {report.resumed}",
    }
    for kind, count in list(report.reasons.items())[:8]:
        figures[f"rejected: {kind}"] = count
    for group, counts in report.per_group.items():
        figures[f"{group} accepted / candidates"] = f"{counts['accepted']} / {counts['candidates']}"
    if report.judge_errors:
        figures["judge errors (judged again on rerun)"] = report.judge_errors
    if report.sample_failures:
        figures["samples failed by an error (verified again on rerun)"] = ", ".join(
            f"{name} {count}" for name, count in sorted(report.sample_failures.items()))
    figures["seconds"] = report.seconds
    return figures
