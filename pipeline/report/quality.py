"""Whether a run's data is fit to train on: the data-quality figures of a run folder.

:func:`data_quality` reads the run's samples (the accepted ones; the answered trajectories when
verify has not run) and the manifest, and returns a :class:`DataQuality`: the same
:class:`QualityFigures` over the whole run and per group (G1, G2, G3 ...). What each figure
means:

* **grounded arguments**: arguments of the path's calls (Finish aside) whose value comes from the
  instruction, an earlier result, the parameter's schema, or is a free value
  (:mod:`pipeline.verify.grounding`, the funnel's own rule, applied again here so a run verified
  before the check existed is measured too); ``ungrounded_required`` counts the made-up required
  values (the funnel rejects them, so on accepted samples it should be 0);
* **corrected errors**: paths on which a failed call is followed by a successful call of the same
  function (trial and error that teaches recovery);
* **truncated observations**: tool results the model saw shortened to the character cap
  (:func:`pipeline.env.shorten.is_cut`: the structural cut's notes, or an old ``...(truncated)``),
  and results that are not valid JSON;
* **duplicates** of instructions and of final answers: *exact* (same text after case, accents,
  punctuation and spacing are dropped) and *near* (not exact, but within the generate stage's
  deduplication threshold of one kept before it, by its hashing embedder: shared-word rewordings);
* **openings**: distinct first four words of the thoughts (the ``Thought:`` label aside) and of
  the final answers, and the share the most common opening takes: templated text shows here;
* **answers with raw JSON**: final answers that paste a JSON object;
* **mean calls per path**: API calls on the chosen path;
* **funnel**: instructions generated (made) → kept (after deduplication) → annotated (searched) →
  solved (the search answered) → accepted (passed verification), each with its pass rate.

:func:`quality_tables` renders it for the report, :func:`write_quality` writes
``<run>/report/quality.json``, :func:`quality_card_lines` gives the dataset card's section.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from pipeline.generate.dedup import DEFAULT_THRESHOLD, Deduplicator, HashingEmbedder
from pipeline.io import atomic_write_bytes
from pipeline.manifest import MANIFEST_NAME
from pipeline.records import (
    AcceptedSample,
    RecordError,
    TrajectoryRecord,
    accepted_path,
    iter_accepted,
    iter_trajectories,
)
from pipeline.env.shorten import is_cut
from pipeline.report.models import Cell, ReportTable
from pipeline.verify.checks import check_path_grounding, path_calls

QUALITY_FILE = "quality.json"
OPENING_WORDS = 4
ALL = "all"
_JSON_OBJECT = re.compile(r"[{\[]\s*\"[^\"\n]{1,80}\"\s*:")
_LABEL = re.compile(r"^\s*thought\s*:\s*", re.IGNORECASE)
_WORDS = re.compile(r"[^\W_]+(?:'[^\W_]+)?")


Duplicate = Literal["exact", "near"] | None


def _rate(part: int | float, whole: int | float) -> float:
    return round(part / whole, 4) if whole else 0.0


class FunnelFigures(BaseModel):
    """Instructions through the pipeline; ``None`` where the stage has not run."""

    generated: int | None = None
    kept: int | None = None
    annotated: int | None = None
    solved: int | None = None
    accepted: int | None = None

    def steps(self) -> list[tuple[str, int]]:
        return [(name, value) for name, value in self.model_dump().items() if value is not None]

    def pass_rates(self) -> dict[str, float]:
        """Each stage's count over the previous one's, and the overall yield (accepted / generated)."""
        steps = self.steps()
        rates = {f"{name} / {before}": _rate(value, previous)
                 for (before, previous), (name, value) in zip(steps, steps[1:], strict=False)}
        if self.generated and self.accepted is not None:
            rates["accepted / generated"] = _rate(self.accepted, self.generated)
        return rates


class QualityFigures(BaseModel):
    """The data-quality figures of a set of samples (see the module docstring)."""

    samples: int = 0
    arguments: int = 0
    grounded_arguments: int = 0
    grounded_rate: float = 0.0
    ungrounded_required: int = Field(default=0, description="made-up required argument values")
    samples_with_ungrounded_required: int = 0
    ungrounded_optional: int = 0
    paths_with_failed_call: int = 0
    corrected_paths: int = 0
    corrected_rate: float = Field(default=0.0, description="paths that correct a failed call / samples")
    observations: int = 0
    truncated_observations: int = 0
    truncated_rate: float = 0.0
    invalid_json_observations: int = 0
    instruction_exact_duplicate_rate: float = 0.0
    instruction_near_duplicate_rate: float = 0.0
    answer_exact_duplicate_rate: float = 0.0
    answer_near_duplicate_rate: float = 0.0
    thoughts: int = 0
    distinct_thought_openings: int = 0
    top_thought_opening_share: float = 0.0
    answers: int = 0
    distinct_answer_openings: int = 0
    top_answer_opening_share: float = 0.0
    answers_with_json: int = 0
    mean_calls_per_path: float = 0.0
    funnel: FunnelFigures = Field(default_factory=FunnelFigures)
    pass_rates: dict[str, float] = Field(default_factory=dict)


class DataQuality(BaseModel):
    """:func:`data_quality`'s answer: the run's figures, whole and per group."""

    run_dir: str
    source: Literal["accepted", "answered", "none"] = Field(
        description="which samples were measured: accepted ones, or answered trajectories before verify ran")
    overall: QualityFigures
    groups: dict[str, QualityFigures] = Field(default_factory=dict)
    duplicate_threshold: float = DEFAULT_THRESHOLD
    unreadable: int = Field(default=0, description="sample lines that are no valid record (not measured)")


@dataclass
class _Sample:
    """What the figures need of one sample, kept small: the records are streamed."""

    instruction: str
    answer: str
    thoughts: list[str]
    arguments: int
    grounded: int
    ungrounded_required: int
    ungrounded_optional: int
    failed_call: bool
    corrected: bool
    observations: int
    truncated: int
    invalid_json: int
    calls: int
    instruction_duplicate: Duplicate = None  # over the whole run, set by data_quality
    answer_duplicate: Duplicate = None


def _opening(text: str) -> str:
    words = _WORDS.findall(_LABEL.sub("", text).casefold())
    return " ".join(words[:OPENING_WORDS])


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # OpenAI content parts
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, Mapping))
    return ""


def measure_sample(record: TrajectoryRecord) -> _Sample:
    """One sample's figures: grounding of its arguments, errors, observations, thoughts, answer."""
    calls = path_calls(record)
    recorded = record.verification.grounding if isinstance(record, AcceptedSample) else None
    # the funnel's own verdict when it has one; a run verified before the check existed is checked here
    grounding = recorded if recorded is not None else check_path_grounding(record, calls)
    api_calls = [call for call in calls if not call.is_finish]
    failed = [call for call in api_calls if call.error is not None]
    corrected = any(later.name == bad.name and later.error is None
                    for bad in failed for later in api_calls[bad.index:])
    observations = [_text(message.content) for message in record.chat() if message.role == "tool"]
    flagged_nodes = sum(bool(node.observation and node.observation.get("truncated")) for node in record.path_nodes())
    truncated = max(sum(is_cut(text) for text in observations), flagged_nodes)
    invalid = 0
    for text in observations:
        try:
            json.loads(text)
        except ValueError:
            invalid += 1
    thoughts = [_text(message.content) for message in record.chat()
                if message.role == "assistant" and _text(message.content).strip()]
    return _Sample(
        instruction=record.query, answer=record.final_answer or "", thoughts=thoughts,
        arguments=grounding.arguments, grounded=grounding.grounded,
        ungrounded_required=sum(flag.required for flag in grounding.flagged),
        ungrounded_optional=sum(not flag.required for flag in grounding.flagged),
        failed_call=bool(failed), corrected=corrected, observations=len(observations), truncated=truncated,
        invalid_json=invalid, calls=len(api_calls),
    )


def duplicates(texts: list[str], threshold: float = DEFAULT_THRESHOLD) -> list[Duplicate]:
    """For each text: ``exact`` or ``near`` when it repeats a text before it that was not a
    duplicate itself (as the generate stage deduplicates), else None. Empty texts are None."""
    kept = [i for i, text in enumerate(texts) if text.strip()]
    found: list[Duplicate] = [None] * len(texts)
    if not kept:
        return found
    reasons = Deduplicator(HashingEmbedder(), threshold=threshold).filter([texts[i] for i in kept])
    for index, reason in zip(kept, reasons, strict=True):
        found[index] = "exact" if reason and reason.startswith("exact") else "near" if reason else None
    return found


def _duplicate_rates(flags: list[Duplicate]) -> tuple[float, float]:
    return _rate(flags.count("exact"), len(flags)), _rate(flags.count("near"), len(flags))


def _openings(texts: Iterable[str]) -> tuple[int, int, float]:
    counts = Counter(_opening(text) for text in texts)
    total = sum(counts.values())
    top = counts.most_common(1)[0][1] if counts else 0
    return total, len(counts), _rate(top, total)


def summarise(samples: list[_Sample], funnel: FunnelFigures) -> QualityFigures:
    """The figures of a set of measured samples (their duplicate flags already set)."""
    figures = QualityFigures(samples=len(samples), funnel=funnel, pass_rates=funnel.pass_rates())
    if not samples:
        return figures
    figures.arguments = sum(s.arguments for s in samples)
    figures.grounded_arguments = sum(s.grounded for s in samples)
    figures.grounded_rate = _rate(figures.grounded_arguments, figures.arguments)
    figures.ungrounded_required = sum(s.ungrounded_required for s in samples)
    figures.samples_with_ungrounded_required = sum(s.ungrounded_required > 0 for s in samples)
    figures.ungrounded_optional = sum(s.ungrounded_optional for s in samples)
    figures.paths_with_failed_call = sum(s.failed_call for s in samples)
    figures.corrected_paths = sum(s.corrected for s in samples)
    figures.corrected_rate = _rate(figures.corrected_paths, len(samples))
    figures.observations = sum(s.observations for s in samples)
    figures.truncated_observations = sum(s.truncated for s in samples)
    figures.truncated_rate = _rate(figures.truncated_observations, figures.observations)
    figures.invalid_json_observations = sum(s.invalid_json for s in samples)
    figures.instruction_exact_duplicate_rate, figures.instruction_near_duplicate_rate = _duplicate_rates(
        [s.instruction_duplicate for s in samples])
    figures.answer_exact_duplicate_rate, figures.answer_near_duplicate_rate = _duplicate_rates(
        [s.answer_duplicate for s in samples])
    figures.thoughts, figures.distinct_thought_openings, figures.top_thought_opening_share = _openings(
        thought for s in samples for thought in s.thoughts)
    answers = [s.answer for s in samples if s.answer.strip()]
    figures.answers, figures.distinct_answer_openings, figures.top_answer_opening_share = _openings(answers)
    figures.answers_with_json = sum(bool(_JSON_OBJECT.search(answer)) for answer in answers)
    figures.mean_calls_per_path = round(sum(s.calls for s in samples) / len(samples), 2)
    return figures


def _manifest(run_dir: Path) -> dict[str, Any]:
    try:
        data = json.loads((run_dir / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _count(section: Any, key: str) -> int | None:
    value = section.get(key) if isinstance(section, Mapping) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def funnel_of(manifest: Mapping[str, Any], group: str | None = None) -> FunnelFigures:
    """The instruction funnel from the manifest's stage sections, for the run or one group."""
    stages = manifest.get("stages") if isinstance(manifest.get("stages"), Mapping) else {}
    assert isinstance(stages, Mapping)

    def section(stage: str) -> Any:
        found = stages.get(stage)
        if group is None or not isinstance(found, Mapping):
            return found
        per_group = found.get("per_group")
        return per_group.get(group) if isinstance(per_group, Mapping) else None

    generate, annotate, verify = section("generate"), section("annotate"), section("verify")
    return FunnelFigures(
        generated=_count(generate, "made"), kept=_count(generate, "kept"),
        annotated=_count(annotate, "queries"),
        solved=_count(annotate, "answered"), accepted=_count(verify, "accepted"),
    )


@dataclass
class _Reader:
    unreadable: int = 0
    source: Literal["accepted", "answered", "none"] = "none"
    samples: dict[str, list[_Sample]] = field(default_factory=dict)

    def skip(self, error: RecordError) -> None:
        self.unreadable += 1

    def records(self, run_dir: Path) -> Iterator[TrajectoryRecord]:
        accepted: Iterator[AcceptedSample] = iter_accepted(run_dir, on_error=self.skip)
        first = next(accepted, None)
        if first is not None:
            self.source = "accepted"
            yield first
            yield from accepted
            return
        for record in iter_trajectories(run_dir):
            if record.answered:
                self.source = "answered"
                yield record


def data_quality(run_dir: Path | str, *, threshold: float = DEFAULT_THRESHOLD) -> DataQuality:
    """The data-quality figures of a run folder (see the module docstring), whole and per group.

    Measures the accepted samples, or the answered trajectories when verify has not run; the
    funnel comes from the manifest. Streams the samples (each is reduced to a few figures and its
    instruction, answer and thoughts). ``threshold`` is the near-duplicate cosine.
    """
    run_dir = Path(run_dir)
    reader = _Reader()
    for record in reader.records(run_dir):
        reader.samples.setdefault(record.group, []).append(measure_sample(record))
    manifest = _manifest(run_dir)
    every = [sample for group in sorted(reader.samples) for sample in reader.samples[group]]
    # duplicates are found over the whole run, once: a group's rate is the share of its samples
    # that repeat an earlier sample of the run
    for sample, flag in zip(every, duplicates([s.instruction for s in every], threshold), strict=True):
        sample.instruction_duplicate = flag
    for sample, flag in zip(every, duplicates([s.answer for s in every], threshold), strict=True):
        sample.answer_duplicate = flag
    per_group = manifest.get("stages", {}).get("generate", {}).get("per_group") if isinstance(
        manifest.get("stages"), Mapping) else None
    names = sorted(set(reader.samples) | (set(per_group) if isinstance(per_group, Mapping) else set()))
    return DataQuality(
        run_dir=str(run_dir), source=reader.source, duplicate_threshold=threshold, unreadable=reader.unreadable,
        overall=summarise(every, funnel_of(manifest)),
        groups={name: summarise(reader.samples.get(name, []), funnel_of(manifest, name))
                for name in names},
    )


def write_quality(quality: DataQuality, folder: Path) -> Path:
    """``quality.json`` in ``folder`` (the run's ``report/``), written atomically."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / QUALITY_FILE
    atomic_write_bytes(target, (quality.model_dump_json(indent=2) + "\n").encode("utf-8"))
    return target


def _pct(value: float) -> str:
    return f"{100 * value:.1f} %"


# (row label, how to show a QualityFigures' value)
_ROWS: tuple[tuple[str, Any], ...] = (
    ("samples", lambda q: q.samples),
    ("grounded arguments", lambda q: f"{_pct(q.grounded_rate)} ({q.grounded_arguments}/{q.arguments})"),
    ("ungrounded required arguments (samples)", lambda q: f"{q.ungrounded_required} ({q.samples_with_ungrounded_required})"),
    ("ungrounded optional arguments", lambda q: q.ungrounded_optional),
    ("paths correcting a failed call", lambda q: f"{_pct(q.corrected_rate)} ({q.corrected_paths}/{q.samples})"),
    ("paths with a failed call", lambda q: q.paths_with_failed_call),
    ("truncated observations", lambda q: f"{_pct(q.truncated_rate)} ({q.truncated_observations}/{q.observations})"),
    ("observations not valid JSON", lambda q: q.invalid_json_observations),
    ("instructions: exact / near duplicates",
     lambda q: f"{_pct(q.instruction_exact_duplicate_rate)} / {_pct(q.instruction_near_duplicate_rate)}"),
    ("answers: exact / near duplicates",
     lambda q: f"{_pct(q.answer_exact_duplicate_rate)} / {_pct(q.answer_near_duplicate_rate)}"),
    ("distinct thought openings (top share)",
     lambda q: f"{q.distinct_thought_openings}/{q.thoughts} ({_pct(q.top_thought_opening_share)})"),
    ("distinct answer openings (top share)",
     lambda q: f"{q.distinct_answer_openings}/{q.answers} ({_pct(q.top_answer_opening_share)})"),
    ("answers pasting raw JSON", lambda q: q.answers_with_json),
    ("mean API calls per path", lambda q: q.mean_calls_per_path),
)


def quality_tables(quality: DataQuality) -> list[ReportTable]:
    """The figures table (a column for the run and one per group) and the funnel table."""
    columns = [ALL, *quality.groups]
    figures = [quality.overall, *quality.groups.values()]
    rows: list[list[Cell]] = [[label, *(show(q) for q in figures)] for label, show in _ROWS]
    measured = "accepted samples" if quality.source == "accepted" else "answered trajectories"
    table = ReportTable(key="data_quality", title=f"Data quality ({measured})", columns=["figure", *columns],
                        rows=rows)
    steps = ("generated", "kept", "annotated", "solved", "accepted")
    funnel_rows: list[list[Cell]] = []
    for step, before in zip(steps, (None, *steps), strict=False):
        cells: list[Cell] = [step]
        for q in figures:
            value = getattr(q.funnel, step)
            previous = getattr(q.funnel, before) if before else None
            cells.append("-" if value is None else (f"{value} ({_pct(_rate(value, previous))})" if previous else str(value)))
        funnel_rows.append(cells)
    funnel = ReportTable(key="quality_funnel", title="Instructions through the pipeline (pass rate from the step before)",
                         columns=["step", *columns], rows=funnel_rows)
    return [table, funnel]


def quality_markdown(quality: DataQuality) -> str:
    """The tables as markdown (the dataset card's section, the CLI's note)."""
    from pipeline.report.markdown import table_markdown

    return "\n\n".join(f"**{table.title}**\n\n{table_markdown(table)}" for table in quality_tables(quality))


def quality_card_lines(export_directory: str | Path, manifest: Mapping[str, Any]) -> list[str]:
    """The dataset card's "Data quality" section, for the run an export folder belongs to.

    An export is written in ``<run>/datasets/<folder>``, so the run is two levels up; when that
    folder holds no manifest, the manifest's ``config.run_dir`` is tried. No lines when neither
    can be read or the run has no samples."""
    config = manifest.get("config")
    recorded = config.get("run_dir") if isinstance(config, Mapping) else None
    candidates = [Path(export_directory).parent.parent, *([Path(recorded)] if isinstance(recorded, str) else [])]
    run_dir = next((path for path in candidates if (path / MANIFEST_NAME).is_file()), None)
    if run_dir is None:
        return []
    accepted = accepted_path(run_dir)
    try:
        stamp = accepted.stat() if accepted.is_file() else None
        markdown = _card_markdown(str(run_dir.resolve()), (stamp.st_mtime_ns, stamp.st_size) if stamp else None)
    except (OSError, ValueError):
        return []
    return ["## Data quality", "", markdown, ""] if markdown else []


@lru_cache(maxsize=4)
def _card_markdown(run_dir: str, accepted_stamp: tuple[int, int] | None) -> str:
    # every export's card shows the same section: measured once per state of accepted.jsonl
    quality = data_quality(Path(run_dir))
    return quality_markdown(quality) if quality.source != "none" else ""
