"""Run a function over many items in worker processes, in order, surviving worker crashes.

Readers run in separate processes for two reasons: two cores parse twice as fast, and a
C-level crash (libyaml on a pathological file) kills a worker, not the collector. When the
pool breaks, the items that were in flight are re-run one at a time in an isolated worker so
the one that crashes is found and reported, and the rest still succeed.
"""

from __future__ import annotations

import logging
import multiprocessing
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


def ordered_map(
    function: Callable[..., R],
    items: Sequence[T],
    *,
    extra_args: tuple[Any, ...] = (),
    workers: int,
    on_crash: Callable[[T], R],
    window: int | None = None,
) -> Iterator[R]:
    """Yield ``function(item, *extra_args)`` for each item, in the order of ``items``.

    At most ``window`` results are pending at once, so memory stays bounded however many items
    there are. ``workers == 0`` runs in this process (for debugging; no crash isolation).
    """
    if workers == 0:
        for item in items:
            yield function(item, *extra_args)
        return
    window = window or workers * 4
    context = multiprocessing.get_context("spawn")  # no fork: the caller may hold threads
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context)
    isolated: ProcessPoolExecutor | None = None
    pending = iter(items)
    in_flight: deque[tuple[T, Future[R]]] = deque()
    try:
        while True:
            while len(in_flight) < window:
                item = next(pending, _DONE)
                if item is _DONE:
                    break
                in_flight.append((item, pool.submit(function, item, *extra_args)))
            if not in_flight:
                return
            item, future = in_flight.popleft()
            try:
                yield future.result()
                continue
            except BrokenProcessPool:
                pass
            suspects = [item, *(queued for queued, _ in in_flight)]
            in_flight.clear()
            pool.shutdown(wait=False, cancel_futures=True)
            log.warning("a reader process crashed; re-running %d sources one by one", len(suspects))
            for suspect in suspects:
                if isolated is None:
                    isolated = ProcessPoolExecutor(max_workers=1, mp_context=context)
                try:
                    yield isolated.submit(function, suspect, *extra_args).result()
                except BrokenProcessPool:
                    isolated.shutdown(wait=False, cancel_futures=True)
                    isolated = None
                    yield on_crash(suspect)
            pool = ProcessPoolExecutor(max_workers=workers, mp_context=context)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        if isolated is not None:
            isolated.shutdown(wait=True, cancel_futures=True)


_DONE: Any = object()
