"""The whole pipeline as one library call: every stage of the registry, in order.

``toolgen run --engine local`` calls this; the Prefect flow ``pipeline``
(:mod:`flows.end_to_end`) runs the same registry, each stage as a subflow. Each stage reads what
the earlier ones wrote to the run folder.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pipeline.runlock import run_folder_lock
from pipeline.settings import Settings
from pipeline.stages import (
    ProgressCallback,
    Stage,
    StageContext,
    StageRunner,
    check_stage_names,
    execute_directly,
    registry,
    run_stage,
)


async def run_pipeline(
    settings: Settings,
    *,
    options: Mapping[str, Mapping[str, Any] | None] | None = None,
    specs: list[str] | None = None,
    runner: StageRunner = execute_directly,
    progress: Callable[[Stage[Any, Any]], ProgressCallback | None] | None = None,
) -> dict[str, Any]:
    """Run every stage end to end into ``settings.run_dir``; returns each stage's report by name.

    ``options`` maps a stage name to its options (``{"generate": {"per_group": 5}}``); ``specs``
    is shorthand for the collect stage's ``sources``. ``progress`` gives each stage its
    progress callback.
    """
    chosen: dict[str, Mapping[str, Any] | None] = dict(options or {})
    if specs is not None:
        chosen["collect"] = {**(chosen.get("collect") or {}), "sources": specs}
    stages = registry()
    check_stage_names(chosen, [stage.name for stage in stages])
    reports: dict[str, Any] = {}
    # held across the stages (each also takes it): another writer cannot slip in between two
    with run_folder_lock(settings.run_dir, purpose="toolgen run"):
        for stage in stages:
            context = StageContext.of(settings, progress=progress(stage) if progress else None)
            reports[stage.name] = await run_stage(stage, context, chosen.get(stage.name), runner=runner)
    return reports
