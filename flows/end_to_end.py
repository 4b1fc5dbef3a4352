"""Prefect flow ``pipeline``: every stage end to end, each as a subflow."""

from __future__ import annotations

from typing import Any

from prefect import flow

from flows.annotate import annotate_flow
from flows.collect import collect_flow
from flows.common import resolve_settings
from flows.env import probe_flow
from flows.export import export_flow
from flows.generate import generate_flow
from flows.report import report_flow
from flows.verify import verify_flow
from pipeline.settings import Settings


@flow(name="pipeline", validate_parameters=False)
async def pipeline_flow(
    specs: list[str] | None = None,
    settings: Settings | None = None,
    config: str | None = None,
    run_name: str | None = None,
) -> dict[str, Any]:
    """Every stage end to end into the run folder."""
    settings = resolve_settings(settings, config, run_name)
    reports: dict[str, Any] = {}
    reports["collect"] = await collect_flow(sources=specs, settings=settings)
    reports["probe"] = await probe_flow(settings=settings)
    reports["generate"] = await generate_flow(settings=settings)
    reports["annotate"] = await annotate_flow(settings=settings)
    reports["verify"] = await verify_flow(settings=settings)
    reports["export"] = await export_flow(settings=settings)
    reports["report"] = await report_flow(settings=settings)
    return reports
