"""Keep Python's cycle collector from rescanning long-lived objects over and over.

Stages that make many short-lived objects while a large heap stays alive (imported modules, the
catalog, settings) pay for every full collection with a scan of that whole heap: in annotation
that was a quarter of a second per collection at 64 concurrent searches, long enough to hold
every reply waiting (``benchmarks/annotate.py``). Freezing what is alive when the stage starts
moves it out of the collector's sight; higher thresholds make collections rare. Cycles made
during the stage are still collected.

The collector's settings belong to the whole process, and several stages may run in one process
at once (Prefect tasks on threads): :func:`relaxed_gc` is therefore counted, so the first user
to enter relaxes the collector and only the last one to leave gives it back.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

# Young collections every 50k allocations instead of 700; a full one after 50 older ones.
RELAXED_THRESHOLDS = (50_000, 50, 100)


def relax_gc(thresholds: tuple[int, int, int] = RELAXED_THRESHOLDS) -> None:
    """Freeze the objects alive now and raise the thresholds, for the rest of the process
    (a worker process's initializer)."""
    gc.freeze()
    gc.set_threshold(*thresholds)


class _Relaxation:
    """How many blocks want the collector relaxed, and the thresholds to restore after them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users = 0
        self._previous: tuple[int, int, int] | None = None

    def enter(self, thresholds: tuple[int, int, int]) -> None:
        with self._lock:
            if self._users == 0:
                self._previous = gc.get_threshold()
                relax_gc(thresholds)
            self._users += 1

    def exit(self) -> None:
        with self._lock:
            self._users -= 1
            if self._users == 0 and self._previous is not None:
                gc.set_threshold(*self._previous)
                gc.unfreeze()
                self._previous = None

    @property
    def users(self) -> int:
        return self._users


# The collector is one per process, so is the count of those who relaxed it.
_RELAXATION = _Relaxation()


@contextmanager
def relaxed_gc(thresholds: tuple[int, int, int] = RELAXED_THRESHOLDS) -> Iterator[None]:
    """:func:`relax_gc` for the duration of the block; the old thresholds come back after it and
    the frozen objects return to the collector's oldest generation.

    Blocks may nest or overlap (threads): the first to enter freezes the heap and sets its
    ``thresholds``, later ones join it, and the last one to leave restores the collector.
    """
    _RELAXATION.enter(thresholds)
    try:
        yield
    finally:
        _RELAXATION.exit()


def relaxed_gc_users() -> int:
    """How many :func:`relaxed_gc` blocks are open in this process now."""
    return _RELAXATION.users
