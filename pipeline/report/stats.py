"""Figures of a run folder, gathered by streaming its files.

A run can hold 100k trajectories of a few hundred kB each, so nothing here keeps records: every
figure is a counter or a bounded histogram (:class:`Distribution`), and the only tree kept is
the one the report draws.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.manifest import read_manifest
from pipeline.records import ACCEPTED_FILE as VERIFIED_ACCEPTED
from pipeline.records import VERIFIED_DIR, TrajectoryRecord, accepted_path, iter_accepted, iter_trajectories
from pipeline.search.tree import SearchNode
from pipeline.specs.catalog import CatalogMissing, iter_tools

ACCEPTED_FILE = Path(VERIFIED_DIR) / VERIFIED_ACCEPTED

# Values below this are kept exactly (calls, nodes, backtracks); larger ones (tokens) are
# rounded to three significant figures so a histogram stays at most ~900 buckets per decade.
_EXACT_BELOW = 10_000
_SIGNIFICANT = 3

# A tree this size still reads as a picture; bigger ones are drawn only if nothing else backtracks.
_DRAWABLE_NODES = range(5, 41)

COST_FIGURES = ("model_calls", "prompt_tokens", "completion_tokens", "total_tokens", "api_calls")


def _bucket(value: float) -> float:
    if abs(value) < _EXACT_BELOW:
        return value
    digits = _SIGNIFICANT - 1 - math.floor(math.log10(abs(value)))
    return round(value, digits)


class Distribution:
    """A histogram of numbers with exact count, sum, min and max, and percentiles from buckets."""

    def __init__(self) -> None:
        self._counts: Counter[float] = Counter()
        self.count = 0
        self.total = 0.0
        self.min: float | None = None
        self.max: float | None = None

    def add(self, value: float) -> None:
        self._counts[_bucket(value)] += 1
        self.count += 1
        self.total += value
        self.min = value if self.min is None else min(self.min, value)
        self.max = value if self.max is None else max(self.max, value)

    @property
    def mean(self) -> float:
        return self.total / self.count if self.count else 0.0

    def percentile(self, q: float) -> float:
        """The ``q``-th percentile (0-100) with linear interpolation between ranks, as numpy's
        default does; exact for values below 10,000, within 0.5 % above."""
        if not self.count:
            return 0.0
        position = (self.count - 1) * q / 100.0
        low_rank, high_rank = math.floor(position), math.ceil(position)
        low = high = None
        seen = 0
        for value, n in sorted(self._counts.items()):
            seen += n
            if low is None and seen > low_rank:
                low = value
            if seen > high_rank:
                high = value
                break
        assert low is not None and high is not None
        return low + (high - low) * (position - low_rank)

    @property
    def median(self) -> float:
        return self.percentile(50)

    @property
    def p90(self) -> float:
        return self.percentile(90)

    def items(self) -> list[tuple[float, int]]:
        """(value, how many) in ascending order of value."""
        return sorted(self._counts.items())


@dataclass(slots=True)
class CatalogStats:
    """Tools and APIs per category."""

    tools: Counter[str] = field(default_factory=Counter)
    apis: Counter[str] = field(default_factory=Counter)

    @property
    def total_tools(self) -> int:
        return sum(self.tools.values())

    @property
    def total_apis(self) -> int:
        return sum(self.apis.values())


@dataclass(frozen=True, slots=True)
class TreeSample:
    """The one search tree the report draws."""

    group: str
    query_id: str
    finish_type: str
    backtracks: int
    chosen_path: tuple[int, ...]
    nodes: tuple[SearchNode, ...]


def _tree_preference(record: TrajectoryRecord) -> tuple[bool, bool, bool, int]:
    """Higher is a better picture: backtracking first, then a legible size, then an answer."""
    backtracks = record.counts.backtracks
    return backtracks > 0, record.node_count in _DRAWABLE_NODES, record.answered, min(backtracks, 3)


def chosen_path_calls(record: TrajectoryRecord | Mapping[str, Any]) -> int:
    """How many API calls (not Finish) the trajectory's chosen path makes."""
    return sum(1 for node in TrajectoryRecord.of(record).path_nodes() if node.kind == "call")


@dataclass(slots=True)
class SampleStats:
    """Per-sample figures over one set of samples: accepted ones, or answered trajectories
    when the verify stage has not run."""

    source: str
    count: int = 0
    calls_per_path: Distribution = field(default_factory=Distribution)
    cost: dict[str, Distribution] = field(default_factory=lambda: {name: Distribution() for name in COST_FIGURES})

    def add(self, record: TrajectoryRecord | Mapping[str, Any]) -> None:
        record = TrajectoryRecord.of(record)
        self.count += 1
        self.calls_per_path.add(chosen_path_calls(record))
        for name, value in _cost_figures(record).items():
            self.cost[name].add(value)


def _cost_figures(record: TrajectoryRecord) -> dict[str, int]:
    counts = record.counts
    return {"model_calls": counts.model_calls, "prompt_tokens": counts.prompt_tokens,
            "completion_tokens": counts.completion_tokens,
            "total_tokens": counts.prompt_tokens + counts.completion_tokens, "api_calls": counts.api_calls}


@dataclass(slots=True)
class TrajectoryStats:
    """Search figures over every tree searched, answered or not."""

    trees: int = 0
    finish_types: Counter[str] = field(default_factory=Counter)
    nodes: Distribution = field(default_factory=Distribution)
    backtracks: Distribution = field(default_factory=Distribution)
    backtracking_trees: int = 0
    totals: Counter[str] = field(default_factory=Counter)
    drawn: TreeSample | None = None
    _drawn_preference: tuple[bool, bool, bool, int] | None = None

    def add(self, record: TrajectoryRecord | Mapping[str, Any]) -> None:
        record = TrajectoryRecord.of(record)
        self.trees += 1
        self.finish_types[record.finish_type] += 1
        self.nodes.add(record.counts.nodes or record.node_count)
        backtracks = record.counts.backtracks
        self.backtracks.add(backtracks)
        self.backtracking_trees += backtracks > 0
        self.totals.update(_cost_figures(record))
        self._consider_for_picture(record)

    def _consider_for_picture(self, record: TrajectoryRecord) -> None:
        preference = _tree_preference(record)
        # Strictly better only, so the earliest of equally good trees wins and reruns agree.
        if self._drawn_preference is not None and preference <= self._drawn_preference:
            return
        self._drawn_preference = preference
        self.drawn = TreeSample(
            group=record.group,
            query_id="" if record.query_id is None else str(record.query_id),
            finish_type=record.finish_type,
            backtracks=record.counts.backtracks,
            chosen_path=tuple(record.chosen_path),
            nodes=tuple(record.tree_nodes().values()),
        )

    @property
    def backtracking_share(self) -> float:
        return self.backtracking_trees / self.trees if self.trees else 0.0


@dataclass(slots=True)
class RunStats:
    """Everything the report shows, gathered in one pass per file."""

    run_dir: Path
    manifest: dict[str, Any]
    catalog: CatalogStats | None
    trajectories: TrajectoryStats
    samples: SampleStats

    @property
    def stages(self) -> dict[str, Any]:
        return self.manifest.get("stages") or {}

    def stage(self, name: str) -> dict[str, Any] | None:
        section = self.stages.get(name)
        return section if isinstance(section, dict) else None


def gather_catalog(run_dir: Path) -> CatalogStats | None:
    """Tools and APIs per category, or ``None`` when the run has no catalog."""
    stats = CatalogStats()
    try:
        for tool in iter_tools(run_dir):
            stats.tools[tool.category] += 1
            stats.apis[tool.category] += len(tool.api_list)
    except CatalogMissing:
        return None
    return stats


def gather_samples(records: Iterable[TrajectoryRecord | Mapping[str, Any]], source: str) -> SampleStats:
    stats = SampleStats(source=source)
    for record in records:
        stats.add(record)
    return stats


def gather_run(run_dir: Path) -> RunStats:
    """Read the manifest and stream the catalog, trajectories and accepted samples once each."""
    run_dir = Path(run_dir)
    trajectories = TrajectoryStats()
    answered = SampleStats(source="answered")
    for record in iter_trajectories(run_dir):
        trajectories.add(record)
        if record.answered:
            answered.add(record)
    samples = gather_samples(iter_accepted(run_dir), "accepted") if accepted_path(run_dir).is_file() else answered
    return RunStats(run_dir=run_dir, manifest=read_manifest(run_dir), catalog=gather_catalog(run_dir),
                    trajectories=trajectories, samples=samples)
