"""The export stage: ``<run>/verified/accepted.jsonl`` → ``<run>/datasets/<format>/``.

One pass over the accepted samples per format, streamed. Everything is written into a staging
folder beside the target (``datasets/.<format>.partial-<pid>``) which replaces the old folder
only once every file, the card and the checksums are complete, so a killed export leaves the
previous export (or none), never half of one. The manifest's ``export`` section gets one entry
per format, merged with the formats exported before.
"""

from __future__ import annotations

import inspect
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import MappingProxyType

from pipeline.export import openai_chat, retriever, rl, sharegpt, toolllama
from pipeline.export.card import CARD_NAME, catalog_figures, dataset_card, write_checksums
from pipeline.export.common import (
    DATASETS_DIR,
    SPLITS,
    ExportContext,
    Exporter,
    ExportReport,
    NothingToExport,
    accepted_path,
    dialogue_of,
    iter_accepted,
    split_of,
)
from pipeline.manifest import read_manifest, record_stage
from pipeline.settings import EXPORT_FORMATS, Settings

log = logging.getLogger(__name__)

__all__ = ["FORMATS", "ExportReport", "NothingToExport", "export_dataset", "export_datasets"]

ExporterFactory = Callable[[Path, ExportContext], Exporter]

# Format name → (exporter factory, module whose docstring describes the layout on the card).
FORMATS: MappingProxyType[str, tuple[ExporterFactory, object]] = MappingProxyType({
    "toolllama": (toolllama.ToolLlamaExporter, toolllama),
    "openai": (openai_chat.OpenAIChatExporter, openai_chat),
    "sharegpt": (sharegpt.ShareGptExporter, sharegpt),
    "rl": (rl.RlExporter, rl),
    "retriever": (retriever.RetrieverExporter, retriever),
})
assert set(FORMATS) == set(EXPORT_FORMATS), "settings and exporters must name the same formats"


def _split_rule(settings: Settings) -> str:
    return (
        f"Split by instruction: a sample is in `eval` when the SHA-256 of `{settings.export.split_seed}\\0` + "
        "its instruction (lower case, whitespace collapsed) read as a fraction falls under "
        f"{settings.export.eval_fraction}; one instruction never appears on both sides."
    )


def export_dataset(settings: Settings, fmt: str, *, run_dir: Path | None = None) -> ExportReport:
    """Write ``<run>/datasets/<fmt>/`` from the run's accepted samples and record it."""
    report = _export(settings, fmt, run_dir=run_dir)
    _record(settings, run_dir, [report])
    return report


def export_datasets(settings: Settings, formats: Iterable[str] | None = None, *,
                    run_dir: Path | None = None) -> dict[str, ExportReport]:
    """Export each of ``formats`` (default: ``settings.export.formats``); one manifest update."""
    names = list(formats if formats is not None else settings.export.formats)
    for name in names:
        _check_format(name)
    reports = {name: _export(settings, name, run_dir=run_dir) for name in names}
    _record(settings, run_dir, list(reports.values()))
    return reports


def _check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")


def _export(settings: Settings, fmt: str, *, run_dir: Path | None) -> ExportReport:
    _check_format(fmt)
    run_dir = Path(run_dir if run_dir is not None else settings.run_dir)
    source = accepted_path(run_dir)
    if not source.is_file():
        raise NothingToExport(f"{source} does not exist: run `toolgen verify` first")
    started = time.perf_counter()
    target = run_dir / DATASETS_DIR / fmt
    staging = target.parent / f".{fmt}.partial-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        report = _write(settings, fmt, run_dir, staging)
        report.directory = str(target)
        report.seconds = round(time.perf_counter() - started, 3)
        _swap(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    log.info("export %s: %s rows per split into %s", fmt, report.rows, target)
    return report


def _write(settings: Settings, fmt: str, run_dir: Path, staging: Path) -> ExportReport:
    factory, module = FORMATS[fmt]
    context = ExportContext(run_dir=run_dir, settings=settings)
    report = ExportReport(format=fmt, directory=str(staging), samples=dict.fromkeys(SPLITS, 0))
    exporter = factory(staging, context)
    try:
        for record in iter_accepted(run_dir):
            report.samples_read += 1
            dialogue = dialogue_of(record) if _passed(record) else None
            if dialogue is None:
                report.samples_skipped += 1
                continue
            split = split_of(dialogue.query, eval_fraction=settings.export.eval_fraction,
                             seed=settings.export.split_seed)
            report.samples[split] += 1
            exporter.add(record, dialogue, split)
    finally:
        exporter.close()
    report.rows, report.notes = exporter.rows, exporter.notes
    files = exporter.paths()
    card = staging / CARD_NAME
    card.write_text(dataset_card(report=report, description=inspect.getdoc(module) or "",
                                 manifest=read_manifest(run_dir), catalog=catalog_figures(run_dir),
                                 licence=settings.export.licence, split_rule=_split_rule(settings)),
                    encoding="utf-8")
    sums = write_checksums(staging, [*files, card])
    report.files = sorted(p.relative_to(staging).as_posix() for p in [*files, card, sums])
    return report


def _passed(record: Mapping[str, object]) -> bool:
    verification = record.get("verification")
    return not isinstance(verification, dict) or verification.get("passed", True) is not False


def _swap(staging: Path, target: Path) -> None:
    """Put ``staging`` where ``target`` is; the old folder goes only after the new one is in place."""
    old = target.parent / f".{target.name}.old-{os.getpid()}"
    if target.exists():
        os.replace(target, old)
    os.replace(staging, target)
    shutil.rmtree(old, ignore_errors=True)


def _record(settings: Settings, run_dir: Path | None, reports: list[ExportReport]) -> None:
    run_dir = Path(run_dir if run_dir is not None else settings.run_dir)
    section = {report.format: report.model_dump(mode="json") for report in reports}
    record_stage(run_dir, "export", section, settings, merge=True)
