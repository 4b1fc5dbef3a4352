"""The GC helper used around annotation: it freezes what is alive, then gives everything back."""

from __future__ import annotations

import gc
import threading

import pytest

from pipeline.gc_tuning import RELAXED_THRESHOLDS, relaxed_gc, relaxed_gc_users


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


def test_a_nested_block_does_not_restore_the_collector_for_the_outer_one() -> None:
    before = gc.get_threshold()
    with relaxed_gc():
        with relaxed_gc():
            assert relaxed_gc_users() == 2
        assert gc.get_threshold() == RELAXED_THRESHOLDS
        assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0
    assert relaxed_gc_users() == 0


def test_two_overlapping_users_on_threads_restore_only_when_the_last_leaves() -> None:
    """Stage A enters, stage B enters, A leaves while B still runs, then B leaves."""
    before = gc.get_threshold()
    b_entered, a_left, b_may_leave = threading.Event(), threading.Event(), threading.Event()
    seen: dict[str, object] = {}

    def stage_a() -> None:
        with relaxed_gc():
            seen["a inside"] = gc.get_threshold()
            b_entered.wait(5)
        a_left.set()

    def stage_b() -> None:
        with relaxed_gc():
            b_entered.set()
            a_left.wait(5)
            # A has left: B must still see the relaxed collector and the frozen heap
            seen["b after a left"] = (gc.get_threshold(), gc.get_freeze_count() > 0)
            b_may_leave.wait(5)

    a = threading.Thread(target=stage_a)
    a.start()
    while relaxed_gc_users() < 1:  # A is inside before B starts
        threading.Event().wait(0.001)
    b = threading.Thread(target=stage_b)
    b.start()
    a.join(5)
    assert relaxed_gc_users() == 1
    b_may_leave.set()
    b.join(5)

    assert seen["a inside"] == RELAXED_THRESHOLDS
    assert seen["b after a left"] == (RELAXED_THRESHOLDS, True)
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0
    assert relaxed_gc_users() == 0


def test_the_collector_is_restored_when_the_block_raises() -> None:
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), relaxed_gc():
        raise RuntimeError("stage failed")
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0
    assert relaxed_gc_users() == 0
