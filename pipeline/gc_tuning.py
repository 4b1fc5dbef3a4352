"""Keep Python's cycle collector from rescanning long-lived objects over and over.

Stages that make many short-lived objects while a large heap stays alive (imported modules, the
catalog, settings) pay for every full collection with a scan of that whole heap: in annotation
that was a quarter of a second per collection at 64 concurrent searches, long enough to hold
every reply waiting (``benchmarks/annotate.py``). Freezing what is alive when the stage starts
moves it out of the collector's sight; higher thresholds make collections rare. Cycles made
during the stage are still collected.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

# Young collections every 50k allocations instead of 700; a full one after 50 older ones.
RELAXED_THRESHOLDS = (50_000, 50, 100)


def relax_gc(thresholds: tuple[int, int, int] = RELAXED_THRESHOLDS) -> None:
    """Freeze the objects alive now and raise the thresholds, for the rest of the process
    (a worker process's initializer)."""
    gc.freeze()
    gc.set_threshold(*thresholds)


@contextmanager
def relaxed_gc(thresholds: tuple[int, int, int] = RELAXED_THRESHOLDS) -> Iterator[None]:
    """:func:`relax_gc` for the duration of the block; the old thresholds come back after it and
    the frozen objects return to the collector's oldest generation."""
    previous = gc.get_threshold()
    relax_gc(thresholds)
    try:
        yield
    finally:
        gc.set_threshold(*previous)
        gc.unfreeze()
