"""Entry point: build ``<run>/report/report.md`` and its charts from a run folder."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from pipeline.errors import NothingToDo
from pipeline.io import atomic_write_bytes
from pipeline.manifest import MANIFEST_NAME
from pipeline.report.markdown import MarkdownDocument
from pipeline.report.models import Report
from pipeline.report.sections import SECTIONS
from pipeline.report.stats import gather_run
from pipeline.stages import Artifact, MarkdownArtifact, Stage, StageContext, StageOptions, TableArtifact

log = logging.getLogger(__name__)

REPORT_DIR = "report"
REPORT_FILE = "report.md"


def build_report(run_dir: Path, *, out_dir: Path | None = None) -> Report:
    """Write the run report (markdown plus PNGs beside it) and return its tables and figures.

    Works on a run at any stage: sections whose stage has not run say so. The trajectory and
    sample files are streamed once each, so the size of the run does not bound memory.
    """
    run_dir = Path(run_dir).resolve()
    folder = (Path(out_dir) if out_dir is not None else run_dir / REPORT_DIR).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    stats = gather_run(run_dir)
    document = MarkdownDocument(folder)
    for section in SECTIONS:
        section(document, stats)
    markdown_path = folder / REPORT_FILE
    atomic_write_bytes(markdown_path, document.render().encode("utf-8"))
    log.info("report: %s (%d tables, %d figures)", markdown_path, len(document.tables), len(document.figures))
    return Report(markdown_path=markdown_path, figures=document.figures, tables=document.tables)


class ReportOptions(StageOptions):
    out_dir: Path | None = None  # default: <run>/report


class ReportStage(Stage[ReportOptions, Report]):
    """``report/report.md`` and its plots, from whatever stages the run folder holds."""

    name = "report"
    title = "report"
    inputs = (MANIFEST_NAME, "catalog/", "queries/", "trajectories/", "verified/", "datasets/")
    outputs = (REPORT_DIR + "/",)
    options_type = ReportOptions
    writes_run_folder = False  # a reader: it replaces only report/, atomically, and may run beside a writer

    async def execute(self, context: StageContext, options: ReportOptions) -> Report:
        if not (context.run_dir / MANIFEST_NAME).is_file():
            raise NothingToDo(f"{context.run_dir / MANIFEST_NAME} does not exist: run a stage first (toolgen run)")
        return build_report(context.run_dir, out_dir=options.out_dir)

    def manifest_section(self, report: Report) -> dict[str, Any] | None:
        return None  # the report describes the manifest; it adds nothing to it

    def summary(self, report: Report) -> dict[str, Any]:
        return {"report": str(report.markdown_path), "figures": len(report.figures), "tables": len(report.tables)}

    def artifacts(self, report: Report) -> list[Artifact]:
        tables: list[Artifact] = [
            # artifact keys allow lowercase letters, digits and dashes only
            TableArtifact(key=f"report-{table.key.replace('_', '-')}", rows=table.records(), description=table.title)
            for table in report.tables
        ]
        return [*tables, MarkdownArtifact(
            key="report-summary",
            markdown=f"Report written to `{report.markdown_path}` with {len(report.figures)} figures.",
        )]
