"""The dataset card (``README.md``) and checksum list (``SHA256SUMS``) beside each export.

The card says where the data came from (catalog counts, collect sources), how much there is per
split, what verification kept, which models made it, and under what terms. When a stage ran on
the offline rule engine it says so first: such data exercises the pipeline and the formats, and
must not be mistaken for LLM-written training data.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline import __version__
from pipeline.export.common import ExportReport, sha256_file
from pipeline.export.lengths import card_section
from pipeline.manifest import now_iso
from pipeline.redact import redact_url
from pipeline.report.quality import quality_card_lines
from pipeline.specs.catalog import CatalogMissing, iter_tools

CARD_NAME = "README.md"
SUMS_NAME = "SHA256SUMS"
OFFLINE_PREFIX = "offline-"


@dataclass(frozen=True)
class CatalogFigures:
    tools: int = 0
    apis: int = 0
    categories: Counter[str] = field(default_factory=Counter)


def catalog_figures(run_dir: Path) -> CatalogFigures | None:
    """Counts from ``catalog/tools.jsonl``, streamed; None when the run has no catalog."""
    tools = apis = 0
    categories: Counter[str] = Counter()
    try:
        for tool in iter_tools(run_dir):
            tools += 1
            apis += len(tool.api_list)
            categories[tool.category] += 1
    except CatalogMissing:
        return None
    return CatalogFigures(tools=tools, apis=apis, categories=categories)


def stage_models(manifest: Mapping[str, Any]) -> dict[str, str]:
    """Stage name → the model it recorded (``model`` key of its manifest section)."""
    models = {}
    for stage, section in (manifest.get("stages") or {}).items():
        if isinstance(section, Mapping) and isinstance(section.get("model"), str):
            models[stage] = section["model"]
    return models


def is_offline(model: str) -> bool:
    return model.startswith(OFFLINE_PREFIX)


def dataset_card(*, report: ExportReport, description: str, manifest: Mapping[str, Any],
                 catalog: CatalogFigures | None, licence: str, split_rule: str,
                 lengths: Mapping[str, list[int]] | None = None) -> str:
    """The card's Markdown; ``lengths`` (tokens per row, per split) adds the token-length section."""
    stages = manifest.get("stages") or {}
    models = stage_models(manifest)
    lines = [f"# toolgen dataset: {report.format}", ""]
    lines.append(f"Made by toolgen {__version__} from run `{manifest.get('run', '?')}` on {now_iso()}.")
    lines.append("")
    offline = {stage: model for stage, model in models.items() if is_offline(model)}
    if offline:
        which = ", ".join(f"{stage} ({model})" for stage, model in sorted(offline.items()))
        warning = (
            "> **Not LLM-quality data.** These samples come from toolgen's offline rule-based engine "
            f"({which}), not from a language model. They are fit for testing pipelines and training "
            "code, not for training a model you intend to use."
        )
        lines += [warning, ""]
    lines += ["## Format", "", description.strip(), ""]

    lines += ["## Splits", "", "| split | samples | rows |", "|---|---|---|"]
    for split in sorted(set(report.samples) | set(report.rows)):
        lines.append(f"| {split} | {report.samples.get(split, 0)} | {report.rows.get(split, 0)} |")
    lines += ["", split_rule, ""]
    if report.samples_skipped:
        lines += [f"{report.samples_skipped} accepted samples had no answered path and were skipped.", ""]
    for name, value in sorted(report.notes.items()):
        lines.append(f"- {name.replace('_', ' ')}: {value}")
    if report.notes:
        lines.append("")
    lines += card_section(report.format, lengths or {})

    lines += ["## Sources", ""]
    if catalog is not None:
        lines.append(f"Catalog: {catalog.tools} tools, {catalog.apis} APIs, {len(catalog.categories)} categories.")
    else:
        lines.append("Catalog: not found in the run folder.")
    collect = stages.get("collect") or {}
    inputs = collect.get("inputs") or []
    if inputs:
        # a card is published: a manifest written before sources were masked must not leak here
        lines += ["", "Collected from:", ""] + [f"- `{redact_url(str(source))}`" for source in inputs]
    lines.append("")

    verify = stages.get("verify")
    if isinstance(verify, Mapping) and verify:
        lines += ["## Verification", ""]
        if verify.get("judge"):
            lines.append(f"Judge: {verify['judge']} ({verify.get('votes', 1)} vote(s)).")
        funnel = verify.get("funnel") or {}
        if funnel:
            lines += ["", "| check | passed |", "|---|---|"] + [f"| {k} | {v} |" for k, v in funnel.items()]
        if "accepted" in verify:
            lines += ["", f"Accepted: {verify['accepted']}."]
        rejected = verify.get("rejected") or {}
        if rejected:
            lines.append("Rejected: " + ", ".join(f"{k} {v}" for k, v in rejected.items()) + ".")
        lines.append("")

    lines += quality_card_lines(report.directory, manifest)
    lines += ["## Models", ""]
    if models:
        lines += [f"- {stage}: `{model}`" for stage, model in models.items()]
    else:
        lines.append("No model recorded in the manifest.")
    lines += ["", "## Licence", "", licence, "", "## Checksums", "",
              f"`{SUMS_NAME}` lists every file's SHA-256: check with `sha256sum -c {SUMS_NAME}`.", ""]
    return "\n".join(lines)


def write_checksums(folder: Path, files: list[Path]) -> Path:
    """``SHA256SUMS`` in ``sha256sum`` text mode layout (``<hex>  <name>``)."""
    lines = [f"{sha256_file(path)}  {path.relative_to(folder).as_posix()}\n" for path in sorted(files)]
    target = folder / SUMS_NAME
    target.write_text("".join(lines), encoding="utf-8")
    return target
