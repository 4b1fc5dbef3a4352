"""Prefect flow ``probe``: call every catalog API once through the environment."""

from __future__ import annotations

from prefect import flow, task
from prefect.artifacts import acreate_table_artifact
from prefect.cache_policies import NO_CACHE

from flows.common import resolve_settings
from pipeline.env.probe import ProbeReport, probe_catalog
from pipeline.settings import Settings


@task(name="probe-apis", cache_policy=NO_CACHE)
async def probe_task(settings: Settings) -> ProbeReport:
    return await probe_catalog(settings)


@flow(name="probe", validate_parameters=False)
async def probe_flow(
    settings: Settings | None = None, config: str | None = None, run_name: str | None = None
) -> ProbeReport:
    """Probe the run's catalog (the sandbox is started when its tools are in the catalog)."""
    settings = resolve_settings(settings, config, run_name)
    report = await probe_task(settings)
    await acreate_table_artifact(
        key="probe-modes",
        table=[{"mode": mode, "apis": count} for mode, count in report.modes.items()],
        description=f"{report.ok}/{report.apis} APIs answered their documented call",
    )
    return report
