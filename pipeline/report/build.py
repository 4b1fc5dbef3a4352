"""Entry point: build ``<run>/report/report.md`` and its charts from a run folder."""

from __future__ import annotations

import logging
from pathlib import Path

from pipeline.io import atomic_write_bytes
from pipeline.report.markdown import MarkdownDocument
from pipeline.report.models import Report
from pipeline.report.sections import SECTIONS
from pipeline.report.stats import gather_run

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
