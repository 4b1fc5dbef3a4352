"""Scheduled runs: one Prefect deployment per ``[[schedules]]`` entry, served by this process.

Schedules need a real Prefect server (``prefect server start`` and ``PREFECT_API_URL``); the
temporary server Prefect starts on its own does not schedule.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import Flow, serve

from flows.collect import collect_flow
from flows.env import probe_flow
from flows.pipeline import pipeline_flow
from pipeline.settings import Settings

FLOWS: dict[str, Flow[..., Any]] = {"collect": collect_flow, "probe": probe_flow, "pipeline": pipeline_flow}


def build_deployments(settings: Settings, config: Path | None) -> list[Any]:
    """A runner deployment per schedule; runs load ``config`` when they start."""
    deployments = []
    for schedule in settings.schedules:
        parameters: dict[str, Any] = {"config": str(config.resolve()) if config else None}
        if schedule.run_name:
            parameters["run_name"] = schedule.run_name
        deployments.append(
            FLOWS[schedule.flow].to_deployment(
                name=schedule.name,
                cron=schedule.cron,
                interval=schedule.interval_s,
                parameters=parameters,
                description=f"toolgen {schedule.flow} on a schedule",
                tags=["toolgen"],
            )
        )
    return deployments


def serve_schedules(settings: Settings, config: Path | None) -> None:
    """Serve every configured schedule until interrupted."""
    serve(*build_deployments(settings, config), limit=settings.serve_limit)
