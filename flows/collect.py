"""Prefect flow ``collect``: API specs → catalog. A thin wrapper over the library."""

from __future__ import annotations

from prefect import flow, task
from prefect.artifacts import acreate_markdown_artifact, acreate_table_artifact
from prefect.cache_policies import NO_CACHE

from flows.common import resolve_settings
from pipeline.settings import Settings
from pipeline.specs.collect import CollectReport, collect_catalog


@task(name="collect-catalog", retries=1, retry_delay_seconds=5, cache_policy=NO_CACHE)
async def collect_catalog_task(sources: list[str] | None, settings: Settings) -> CollectReport:
    # One coarse task: readers already run in parallel processes inside it, and re-running
    # it after a failure is safe because every catalog file is written atomically.
    return await collect_catalog(sources, settings)


@flow(name="collect", validate_parameters=False, log_prints=False)
async def collect_flow(
    sources: list[str] | None = None,
    settings: Settings | None = None,
    config: str | None = None,
    run_name: str | None = None,
) -> CollectReport:
    """Collect ``sources`` (default: the configured ones) into the run's catalog."""
    settings = resolve_settings(settings, config, run_name)
    report = await collect_catalog_task(sources, settings)
    await publish_collect_artifacts(report, settings)
    return report


async def publish_collect_artifacts(report: CollectReport, settings: Settings) -> None:
    await acreate_table_artifact(
        key="collect-categories",
        table=[{"category": name, "tools": count} for name, count in report.categories.items()],
        description=f"Tools per category in {settings.run_dir}",
    )
    lines = [
        f"# Catalog of `{settings.run_dir}`",
        "",
        f"- tools: **{report.tools}**, APIs: **{report.apis}** from {report.files_read} files",
        f"- errors: {report.errors} ({report.errors_by_stage})",
        f"- filtered APIs: {report.filtered}",
        f"- collections: {len(report.collections)}",
    ]
    await acreate_markdown_artifact(key="collect-summary", markdown="\n".join(lines))
