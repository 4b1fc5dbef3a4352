"""Prefect flow ``verify``: the format / execution / semantic funnel over the run's trajectories."""

from __future__ import annotations

from prefect import flow, task
from prefect.artifacts import acreate_table_artifact
from prefect.cache_policies import NO_CACHE

from flows.common import resolve_settings
from pipeline.settings import Settings
from pipeline.verify.stage import STAGES, VerifyReport, verify_trajectories


@task(name="verify-trajectories", cache_policy=NO_CACHE)
async def verify_task(settings: Settings) -> VerifyReport:
    return await verify_trajectories(settings)


@flow(name="verify", validate_parameters=False)
async def verify_flow(
    settings: Settings | None = None, config: str | None = None, run_name: str | None = None
) -> VerifyReport:
    """Write verified/accepted.jsonl and rejected.jsonl (offline rule judge by default)."""
    settings = resolve_settings(settings, config, run_name)
    report = await verify_task(settings)
    candidates = report.funnel.get("candidates", 0)
    await acreate_table_artifact(
        key="verify-funnel",
        table=[{"check": "candidates", "passed": candidates, "rejected": 0},
               *({"check": stage, "passed": report.funnel.get(stage, 0), "rejected": report.rejected.get(stage, 0)}
                 for stage in STAGES)],
        description=f"{report.accepted} of {candidates} accepted by {report.judge}",
    )
    if report.reasons:
        await acreate_table_artifact(
            key="verify-reasons",
            table=[{"reason": kind, "samples": count} for kind, count in report.reasons.items()],
            description="why samples were rejected",
        )
    return report
