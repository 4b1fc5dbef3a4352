"""The probe stage: call every API of the catalog once with its documented values.

ToolBench dropped APIs that fail a basic call; toolgen keeps them in the catalog but records,
per API, whether a call with the documented examples works, in which mode (real or simulated),
and what went wrong. Later stages can prefer APIs that answered.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from pipeline.env.environment import open_environment
from pipeline.io import AtomicJsonlWriter
from pipeline.models import Api
from pipeline.settings import Settings
from pipeline.specs.catalog import iter_tools
from pipeline.stages import Stage, StageContext, StageOptions, run_stage

log = logging.getLogger(__name__)

_NO_VALUE = object()


class ProbeReport(BaseModel):
    apis: int = 0
    ok: int = 0
    failed: int = 0
    skipped: int = 0
    modes: dict[str, int] = Field(default_factory=dict)
    failures_by_status: dict[str, int] = Field(default_factory=dict)
    environment: dict[str, Any] = Field(default_factory=dict)
    seconds: float = 0.0


def documented_arguments(api: Api) -> dict[str, Any] | str:
    """Arguments from the spec's own values: every required argument (example, default, enum)
    and the optional ones that have an example; a message if a required one has none."""
    arguments: dict[str, Any] = {}
    for param in api.required_parameters:
        value = _documented_value(param.example, param.default, param.enum, param.schema_)
        if value is _NO_VALUE:
            return f"no documented value for required argument {param.name!r}"
        arguments[param.name] = value
    for param in api.optional_parameters:
        example = param.example if param.example is not None else param.schema_.get("example")
        if example is not None and example != "":
            arguments[param.name] = example
    return arguments


def _documented_value(example: Any, default: Any, enum: list[Any] | None, schema: dict[str, Any]) -> Any:
    for candidate in (example, default, schema.get("example"), schema.get("default")):
        if candidate is not None and candidate != "":
            return candidate
    if enum:
        return enum[0]
    return _NO_VALUE


async def probe_catalog(settings: Settings, *, run_dir: Path | None = None, concurrency: int = 16) -> ProbeReport:
    """Probe every API of the run's catalog; writes ``env/probe.jsonl`` and the manifest."""
    return await run_stage(ProbeStage(), StageContext.of(settings, run_dir), ProbeOptions(concurrency=concurrency))


class ProbeOptions(StageOptions):
    concurrency: int = Field(default=16, ge=1, le=1024)


class ProbeStage(Stage[ProbeOptions, ProbeReport]):
    """``env/probe.jsonl``: every API called once with its documented values."""

    name = "probe"
    title = "probe"
    inputs = ("catalog/",)
    outputs = ("env/probe.jsonl",)
    options_type = ProbeOptions

    async def execute(self, context: StageContext, options: ProbeOptions) -> ProbeReport:
        return await _probe(context.settings, context.run_dir, options.concurrency)

    def summary(self, report: ProbeReport) -> dict[str, Any]:
        return {
            "APIs probed": report.apis,
            "answered": report.ok,
            "failed": report.failed,
            "skipped (no documented value)": report.skipped,
            "modes": report.modes,
            "seconds": report.seconds,
        }


async def _probe(settings: Settings, run_dir: Path, concurrency: int) -> ProbeReport:
    clock = time.perf_counter()
    tools = list(iter_tools(run_dir))
    report = ProbeReport()
    modes: Counter[str] = Counter()
    failures: Counter[str] = Counter()
    limit = asyncio.Semaphore(concurrency)
    async with open_environment(tools, settings, run_dir=run_dir) as environment:

        async def probe(tool_id: str, api: Api) -> dict[str, Any]:
            arguments = documented_arguments(api)
            record: dict[str, Any] = {"tool": tool_id, "api": api.id, "mode": environment.modes.get(tool_id)}
            if isinstance(arguments, str):
                return {**record, "status": "skipped", "reason": arguments}
            async with limit:
                # a client of its own per API: each call sees the seeded state, not whichever of
                # the tool's writes (probed at the same time) happened to land first
                observation = await environment.call(tool_id, api.id, arguments,
                                                     client_id=f"probe:{tool_id}:{api.id}")
            return {
                **record,
                "status": "ok" if observation.ok else "failed",
                "arguments": arguments,
                "http_status": observation.status,
                "error": observation.error or None,
                "elapsed_ms": round(observation.elapsed_ms, 2),
            }

        jobs = [probe(tool.id, api) for tool in tools for api in tool.api_list]
        with AtomicJsonlWriter(run_dir / "env" / "probe.jsonl") as out:
            for record in await asyncio.gather(*jobs):
                out.write(record)
                report.apis += 1
                modes[str(record["mode"])] += 1
                if record["status"] == "ok":
                    report.ok += 1
                elif record["status"] == "skipped":
                    report.skipped += 1
                else:
                    report.failed += 1
                    failures[str(record.get("http_status") or "no response")] += 1
        report.environment = environment.stats()
    report.modes = dict(modes)
    report.failures_by_status = dict(failures)
    report.seconds = round(time.perf_counter() - clock, 3)
    log.info(
        "probed %d APIs: %d ok, %d failed, %d skipped (modes %s)",
        report.apis, report.ok, report.failed, report.skipped, report.modes,
    )
    return report
