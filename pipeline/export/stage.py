"""The export stage: ``<run>/verified/accepted.jsonl`` → ``<run>/datasets/<format>/``.

One pass over the accepted samples per format, streamed. Everything is written into a staging
folder beside the target (``datasets/.<format>.partial-<pid>``) which replaces the old folder
only once every file, the card and the checksums are complete, so a killed export leaves the
previous export (or none), never half of one. The manifest's ``export`` section gets one entry
per format, merged with the formats exported before.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from types import MappingProxyType
from typing import Any

from pipeline.errors import UsageError
from pipeline.export import hf_chat, openai_chat, retriever, rl, sharegpt, toolllama
from pipeline.export.card import CARD_NAME, catalog_figures, dataset_card, write_checksums
from pipeline.export.common import (
    DATASETS_DIR,
    SPLITS,
    ExportContext,
    Exporter,
    ExportReport,
    NothingToExport,
    SplitRowsExporter,
    dialogue_of,
    split_of,
)
from pipeline.export.lengths import TOKENIZER_NAME, measure_for, summary
from pipeline.manifest import read_manifest
from pipeline.records import RecordError, accepted_path, iter_accepted
from pipeline.settings import EXPORT_FORMATS, Settings
from pipeline.stages import Artifact, Stage, StageContext, StageOptions, TableArtifact, run_stage

log = logging.getLogger(__name__)

__all__ = ["FORMATS", "ExportReport", "ExportStage", "NothingToExport", "export_dataset", "export_datasets"]

ExporterFactory = Callable[[Path, ExportContext], Exporter]

# Format name → (exporter factory, module whose docstring describes the layout on the card).
FORMATS: MappingProxyType[str, tuple[ExporterFactory, object]] = MappingProxyType({
    "toolllama": (toolllama.ToolLlamaExporter, toolllama),
    "openai": (openai_chat.OpenAIChatExporter, openai_chat),
    "hf": (hf_chat.HfChatExporter, hf_chat),
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
    return export_datasets(settings, [fmt], run_dir=run_dir)[fmt]


def export_datasets(settings: Settings, formats: Iterable[str] | None = None, *,
                    run_dir: Path | None = None) -> dict[str, ExportReport]:
    """Export each of ``formats`` (default: ``settings.export.formats``); one manifest update."""
    options = ExportOptions(formats=list(formats) if formats is not None else None)
    return asyncio.run(run_stage(ExportStage(), StageContext.of(settings, run_dir), options))


class ExportOptions(StageOptions):
    formats: list[str] | None = None  # default: export.formats


class ExportStage(Stage[ExportOptions, dict[str, ExportReport]]):
    """``datasets/<format>/``: the accepted samples in each training format, split, carded, checksummed."""

    name = "export"
    title = "exporting"
    inputs = ("verified/accepted.jsonl", "catalog/")
    outputs = (DATASETS_DIR + "/",)
    options_type = ExportOptions
    manifest_merge = True  # one entry per format, kept beside the formats exported before

    def options(self, values: object = None) -> ExportOptions:
        chosen: ExportOptions = super().options(values)  # type: ignore[arg-type]
        unknown = [name for name in chosen.formats or [] if name not in FORMATS]
        if unknown:
            raise UsageError(f"export format {', '.join(map(repr, unknown))}: choose from {', '.join(FORMATS)}")
        return chosen

    async def execute(self, context: StageContext, options: ExportOptions) -> dict[str, ExportReport]:
        names = list(options.formats if options.formats is not None else context.settings.export.formats)
        context.set_total(len(names))
        reports = {}
        for name in names:
            # a pass over files: run it off the event loop so a Prefect flow stays responsive
            reports[name] = await asyncio.to_thread(_export, context.settings, name, run_dir=context.run_dir)
            context.advance()
        return reports

    def manifest_section(self, report: dict[str, ExportReport]) -> dict[str, Any]:
        return {fmt: one.model_dump(mode="json") for fmt, one in report.items()}

    def summary(self, report: dict[str, ExportReport]) -> dict[str, Any]:
        return {fmt: " / ".join(f"{split} {n}" for split, n in r.rows.items()) + f"  ({r.directory})"
                for fmt, r in report.items()}

    def artifacts(self, report: dict[str, ExportReport]) -> list[Artifact]:
        return [TableArtifact(
            key="export-formats",
            rows=[{"format": fmt, **{f"{split} rows": n for split, n in r.rows.items()}} for fmt, r in report.items()],
            description="datasets written from the verified samples",
        )]


def _check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise UsageError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")


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
    lengths: dict[str, list[int]] = {}
    if isinstance(exporter, SplitRowsExporter):
        exporter.measure = measure_for(fmt)
        lengths = exporter.lengths if exporter.measure is not None else {}
    try:
        def unreadable(error: RecordError) -> None:
            report.samples_read += 1
            report.samples_skipped += 1
            log.warning("export %s: skipped %s", fmt, error)

        for record in iter_accepted(run_dir, on_error=unreadable):
            report.samples_read += 1
            dialogue = dialogue_of(record) if record.verification.passed else None
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
    if any(lengths.values()):
        report.tokenizer = TOKENIZER_NAME
        report.token_lengths = {split: summary(values) for split, values in lengths.items() if values}
    files = exporter.paths()
    card = staging / CARD_NAME
    card.write_text(dataset_card(report=report, description=inspect.getdoc(module) or "",
                                 manifest=read_manifest(run_dir), catalog=catalog_figures(run_dir),
                                 licence=settings.export.licence, split_rule=_split_rule(settings),
                                 lengths=lengths),
                    encoding="utf-8")
    sums = write_checksums(staging, [*files, card])
    report.files = sorted(p.relative_to(staging).as_posix() for p in [*files, card, sums])
    return report


def _swap(staging: Path, target: Path) -> None:
    """Put ``staging`` where ``target`` is; the old folder goes only after the new one is in place."""
    old = target.parent / f".{target.name}.old-{os.getpid()}"
    if target.exists():
        os.replace(target, old)
    os.replace(staging, target)
    shutil.rmtree(old, ignore_errors=True)
