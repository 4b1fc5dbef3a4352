"""The GC helper used around annotation: it freezes what is alive, then gives everything back."""

from __future__ import annotations

import gc

from pipeline.gc_tuning import RELAXED_THRESHOLDS, relaxed_gc


def test_relaxed_gc_raises_thresholds_and_restores_them() -> None:
    before = gc.get_threshold()
    with relaxed_gc():
        assert gc.get_threshold() == RELAXED_THRESHOLDS
        assert gc.get_freeze_count() > 0  # the heap alive at entry is out of the collector's sight
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_cycles_made_inside_are_still_collected() -> None:
    with relaxed_gc():
        cycle: list[object] = []
        cycle.append(cycle)
        alive = id(cycle)
        del cycle
        gc.collect()
        assert all(id(o) != alive for o in gc.get_objects())
