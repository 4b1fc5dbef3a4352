"""Scheduled runs: one Prefect deployment per ``[[schedules]]`` entry, served by this process.

Schedules need a real Prefect server (``prefect server start`` and ``PREFECT_API_URL``); the
temporary server Prefect starts on its own does not schedule.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from prefect import Flow, serve
from prefect.client.orchestration import get_client
from prefect.schedules import Cron, Interval, Schedule
from prefect.settings import PREFECT_API_URL
from prefect.types.entrypoint import EntrypointType
from pydantic import ValidationError

from flows.end_to_end import pipeline_flow
from flows.stage_flows import flow_for
from pipeline.errors import ConfigError
from pipeline.settings import ScheduleSpec, Settings


def _flow_named(name: str) -> Flow[..., Any]:
    return pipeline_flow if name == "pipeline" else flow_for(name)


def build_deployments(settings: Settings, config: Path | None) -> list[Any]:
    """A runner deployment per schedule; runs load ``config`` when they start.

    Raises :class:`ConfigError` for a schedule Prefect refuses (cron syntax, time zone, name).
    """
    deployments = []
    for index, schedule in enumerate(settings.schedules):
        parameters: dict[str, Any] = {"config": str(config.resolve()) if config else None}
        if schedule.run_name:
            parameters["run_name"] = schedule.run_name
        try:
            deployments.append(
                _flow_named(schedule.flow).to_deployment(
                    name=schedule.name,
                    schedules=[_trigger(schedule)],
                    parameters=parameters,
                    description=f"toolgen {schedule.flow} on a schedule",
                    tags=["toolgen"],
                    # A file-path entrypoint (Prefect's default) is loaded with flows/ first on
                    # sys.path; a module path is imported like any other module.
                    entrypoint_type=EntrypointType.MODULE_PATH,
                )
            )
        except ValueError as error:  # pydantic's ValidationError and Prefect's InvalidNameError
            raise ConfigError(
                f"invalid schedule in {config or 'the configuration'}: schedules.{index} "
                f"({schedule.name!r}): {_reason(error)}"
            ) from error
    return deployments


def _trigger(schedule: ScheduleSpec) -> Schedule:
    if schedule.cron is not None:
        return Cron(schedule.cron, timezone=schedule.timezone)
    assert schedule.interval_s is not None  # ScheduleSpec requires exactly one of the two
    return Interval(timedelta(seconds=schedule.interval_s), timezone=schedule.timezone)


def _reason(error: ValueError) -> str:
    if isinstance(error, ValidationError):
        return "; ".join(detail["msg"] for detail in error.errors())
    return str(error)


def require_a_server() -> None:
    """Raise :class:`ConfigError` unless a Prefect server answers at ``PREFECT_API_URL``.

    Without one Prefect serves against a temporary server that never schedules a run, so
    ``toolgen serve`` would wait for ever and do nothing.
    """
    api_url = PREFECT_API_URL.value()
    if not api_url:
        raise ConfigError(
            "schedules need a Prefect server: run `prefect server start` and set PREFECT_API_URL "
            "(e.g. http://127.0.0.1:4200/api)"
        )
    with get_client(sync_client=True) as client:
        error = client.api_healthcheck()
    if error is not None:
        raise ConfigError(f"no Prefect server answers at PREFECT_API_URL={api_url}: {error}")


def serve_schedules(settings: Settings, config: Path | None) -> None:
    """Serve every configured schedule until interrupted."""
    deployments = build_deployments(settings, config)
    require_a_server()
    serve(*deployments, limit=settings.serve_limit)
