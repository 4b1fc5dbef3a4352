"""Prefect flow ``annotate``: search a solution path (DFSDT / ReACT) for every query."""

from __future__ import annotations

from pathlib import Path

from prefect import flow, task
from prefect.artifacts import acreate_table_artifact
from prefect.cache_policies import NO_CACHE

from flows.common import resolve_settings
from pipeline.search.stage import AnnotateReport, annotate_queries
from pipeline.settings import Settings


@task(name="annotate-queries", cache_policy=NO_CACHE)
async def annotate_task(
    settings: Settings, query_files: list[str] | None, algorithm: str | None, width: int | None
) -> AnnotateReport:
    files = [Path(f) for f in query_files] if query_files else None
    return await annotate_queries(settings, query_files=files, algorithm=algorithm, width=width)


@flow(name="annotate", validate_parameters=False)
async def annotate_flow(
    settings: Settings | None = None,
    config: str | None = None,
    run_name: str | None = None,
    query_files: list[str] | None = None,
    algorithm: str | None = None,
    width: int | None = None,
) -> AnnotateReport:
    """Write trajectories/<group>.jsonl for the run's queries (offline rule-based policy by default)."""
    settings = resolve_settings(settings, config, run_name)
    report = await annotate_task(settings, query_files, algorithm, width)
    await acreate_table_artifact(
        key="annotate-groups",
        table=[{"group": group, **figures.model_dump()} for group, figures in report.per_group.items()],
        description=(f"{report.answered} answered, {report.failed} failed, {report.skipped} skipped; "
                     f"{report.backtracking_trees} trees backtracked"),
    )
    return report
