"""Prefect flow ``generate``: sample API sets and write instructions for them."""

from __future__ import annotations

from prefect import flow, task
from prefect.artifacts import acreate_table_artifact
from prefect.cache_policies import NO_CACHE

from flows.common import resolve_settings
from pipeline.generate.stage import GenerateReport, generate_queries
from pipeline.settings import Settings


@task(name="generate-queries", cache_policy=NO_CACHE)
async def generate_task(settings: Settings, groups: list[str] | None, per_group: int | None) -> GenerateReport:
    return await generate_queries(settings, groups=groups, per_group=per_group)


@flow(name="generate", validate_parameters=False)
async def generate_flow(
    settings: Settings | None = None,
    config: str | None = None,
    run_name: str | None = None,
    groups: list[str] | None = None,
    per_group: int | None = None,
) -> GenerateReport:
    """Write queries/<group>.jsonl for the run's catalog (offline rule-based writer by default)."""
    settings = resolve_settings(settings, config, run_name)
    report = await generate_task(settings, groups, per_group)
    await acreate_table_artifact(
        key="generate-groups",
        table=[{"group": group, **counts.model_dump()} for group, counts in report.per_group.items()],
        description=f"{report.kept} of {report.made} instructions kept; dropped {report.dropped}",
    )
    return report
