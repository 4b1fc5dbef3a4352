"""The whole pipeline as one library call: every stage that exists, in order.

``toolgen run --engine local`` calls this; the Prefect flow ``pipeline`` (``flows/end_to_end.py``)
runs the same stages as subflows. Each stage reads what the earlier ones wrote to the run folder.
"""

from __future__ import annotations

from typing import Any

from pipeline.env.probe import probe_catalog
from pipeline.export.stage import export_datasets
from pipeline.generate.stage import generate_queries
from pipeline.report.build import build_report
from pipeline.search.stage import annotate_queries
from pipeline.settings import Settings
from pipeline.specs.collect import collect_catalog
from pipeline.verify.stage import verify_trajectories


async def run_pipeline(settings: Settings, *, specs: list[str] | None = None) -> dict[str, Any]:
    """Run every stage end to end into ``settings.run_dir``; returns each stage's report."""
    reports: dict[str, Any] = {}
    reports["collect"] = await collect_catalog(specs, settings)
    reports["probe"] = await probe_catalog(settings)
    reports["generate"] = await generate_queries(settings)
    reports["annotate"] = await annotate_queries(settings)
    reports["verify"] = await verify_trajectories(settings)
    reports["export"] = export_datasets(settings)
    reports["report"] = build_report(settings.run_dir)
    return reports
