"""Prefect flow ``report``: report.md with plots, and the same tables as Prefect artifacts."""

from __future__ import annotations

from prefect import flow, task
from prefect.artifacts import acreate_markdown_artifact, acreate_table_artifact
from prefect.cache_policies import NO_CACHE

from flows.common import resolve_settings
from pipeline.report.build import build_report
from pipeline.report.models import Report
from pipeline.settings import Settings


@task(name="build-report", cache_policy=NO_CACHE)
def report_task(settings: Settings) -> Report:
    return build_report(settings.run_dir)


@flow(name="report", validate_parameters=False)
async def report_flow(
    settings: Settings | None = None, config: str | None = None, run_name: str | None = None
) -> Report:
    """Write <run>/report/report.md and its PNGs; publish every table as an artifact."""
    settings = resolve_settings(settings, config, run_name)
    report = report_task(settings)
    for table in report.tables:
        # artifact keys allow lowercase letters, digits and dashes only
        await acreate_table_artifact(key=f"report-{table.key.replace('_', '-')}", table=table.records(),
                                     description=table.title)
    await acreate_markdown_artifact(
        key="report-summary",
        markdown=f"Report written to `{report.markdown_path}` with {len(report.figures)} figures.",
    )
    return report
