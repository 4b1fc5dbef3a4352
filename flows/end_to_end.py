"""Prefect flow ``pipeline``: every stage of the registry end to end, each as a subflow.

(Not named ``pipeline.py``: Prefect may put ``flows/`` first on ``sys.path``, and a module of that
name would hide the ``pipeline`` package.)
"""

from __future__ import annotations

from typing import Any

from prefect import flow

from flows.common import masked_parameters, resolve_settings
from flows.stage_flows import flow_for
from pipeline.runlock import run_folder_lock
from pipeline.settings import Settings
from pipeline.stages import check_stage_names, registry


@masked_parameters
@flow(name="pipeline", validate_parameters=False)
async def pipeline_flow(
    settings: Settings | None = None,
    config: str | None = None,
    run_name: str | None = None,
    options: dict[str, dict[str, Any] | None] | None = None,
) -> dict[str, Any]:
    """Every stage end to end into the run folder; ``options`` maps a stage name to its options."""
    resolved = resolve_settings(settings, config, run_name)
    stages = registry()
    check_stage_names(options, [stage.name for stage in stages])
    reports: dict[str, Any] = {}
    # held across the stages (each also takes it): another writer cannot slip in between two
    with run_folder_lock(resolved.run_dir, purpose="toolgen pipeline flow"):
        for stage in stages:
            reports[stage.name] = await flow_for(stage.name)(settings=resolved, options=(options or {}).get(stage.name))
    return reports
