"""Prefect flow ``export``: the verified samples as training datasets, one task per format."""

from __future__ import annotations

from prefect import flow, task
from prefect.artifacts import acreate_table_artifact
from prefect.cache_policies import NO_CACHE

from flows.common import resolve_settings
from pipeline.export.stage import ExportReport, export_dataset
from pipeline.settings import Settings


@task(name="export-format", cache_policy=NO_CACHE)
def export_task(settings: Settings, fmt: str) -> ExportReport:
    return export_dataset(settings, fmt)


@flow(name="export", validate_parameters=False)
async def export_flow(
    settings: Settings | None = None, config: str | None = None, run_name: str | None = None,
    formats: list[str] | None = None,
) -> dict[str, ExportReport]:
    """Write <run>/datasets/<format>/ for each format (default: export.formats)."""
    settings = resolve_settings(settings, config, run_name)
    # one format at a time: each merges its part into the manifest's export section
    reports = {fmt: export_task(settings, fmt) for fmt in formats or settings.export.formats}
    await acreate_table_artifact(
        key="export-formats",
        table=[{"format": fmt, **{f"{split} rows": n for split, n in r.rows.items()}} for fmt, r in reports.items()],
        description="datasets written from the verified samples",
    )
    return reports
