"""The report's charts as PNG files.

matplotlib's object API only (``Figure`` + the Agg canvas): pyplot keeps global figure state
and wants a display, neither of which a flow worker has.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from pipeline.report.stats import Distribution

_DPI = 110
_MAX_BARS = 60  # more distinct values than this are binned, or the bars turn into hairlines
_COLOURS = ("#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3")


def new_figure(width: float, height: float) -> tuple[Figure, Axes]:
    figure = Figure(figsize=(width, height), dpi=_DPI)
    FigureCanvasAgg(figure)
    return figure, figure.add_subplot()


def save(figure: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    # "tight" keeps legends placed outside the axes inside the image.
    figure.savefig(path, format="png", bbox_inches="tight")
    return path


def bar_chart(path: Path, labels: Sequence[str], series: dict[str, Sequence[float]], *, title: str,
              value_label: str, stacked: bool = False) -> Path:
    """Horizontal bars, one row per label and one bar (or stack segment) per series."""
    height = max(2.5, 0.35 * len(labels) * (1 if stacked else max(1, len(series))) + 1.2)
    figure, ax = new_figure(8, min(height, 30))
    positions = np.arange(len(labels))
    bar_height = 0.8 if stacked else 0.8 / max(1, len(series))
    left = np.zeros(len(labels))
    for index, (name, values) in enumerate(series.items()):
        values_array = np.asarray(values, dtype=float)
        offset = 0.0 if stacked else (index - (len(series) - 1) / 2) * bar_height
        ax.barh(positions + offset, values_array, height=bar_height, left=left if stacked else None,
                label=name, color=_COLOURS[index % len(_COLOURS)])
        if stacked:
            left = left + values_array
    ax.set_yticks(positions, labels=list(labels))
    ax.invert_yaxis()  # first label on top, as in the table
    ax.set_xlabel(value_label)
    ax.set_title(title)
    if len(series) > 1:  # right of the axes, where it cannot hide a bar
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return save(figure, path)


def funnel_chart(path: Path, stages: Sequence[str], remaining: Sequence[int], *, title: str) -> Path:
    """Bars shrinking stage by stage, each labelled with its count and share of the first."""
    figure, ax = new_figure(8, max(2.5, 0.6 * len(stages) + 1.2))
    positions = np.arange(len(stages))
    ax.barh(positions, remaining, color=_COLOURS[0])
    first = remaining[0] if remaining and remaining[0] else 1
    for position, value in enumerate(remaining):
        ax.text(value, position, f" {value} ({100 * value / first:.0f}%)", va="center")
    ax.set_yticks(positions, labels=list(stages))
    ax.invert_yaxis()
    ax.set_xlim(0, max(remaining or [1]) * 1.25)
    ax.set_xlabel("samples")
    ax.set_title(title)
    return save(figure, path)


def histogram(path: Path, dist: Distribution, *, title: str, value_label: str) -> Path:
    """One bar per value while there are few; otherwise ~40 equal bins over the range."""
    figure, ax = new_figure(8, 3.5)
    items = dist.items()
    values = np.array([value for value, _ in items], dtype=float)
    counts = np.array([n for _, n in items], dtype=float)
    if len(items) <= _MAX_BARS:
        ax.bar(values, counts, width=0.8 if len(items) < 2 else 0.8 * float(np.min(np.diff(values))),
               color=_COLOURS[0])
    else:
        ax.hist(values, bins=40, weights=counts, color=_COLOURS[0])
    ax.axvline(dist.mean, color=_COLOURS[3], linestyle="--", label=f"mean {dist.mean:.2f}")
    ax.set_xlabel(value_label)
    ax.set_ylabel("count")
    ax.set_title(title)
    ax.legend(loc="upper right")
    return save(figure, path)
