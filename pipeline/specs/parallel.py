"""Run a function over many items in worker processes, in order, surviving worker crashes.

Readers run in separate processes for two reasons: two cores parse twice as fast, and a
C-level crash (libyaml on a pathological file) kills a worker, not the collector. When the
pool breaks, the items that were in flight are re-run one at a time in an isolated worker so
the one that crashes is found and reported, and the rest still succeed.
"""

from __future__ import annotations

import logging
import multiprocessing
import queue
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
    weigh: Callable[[R], int] | None = None,
    max_waiting_weight: int = 256 * 1024 * 1024,
    initializer: Callable[[], None] | None = None,
) -> Iterator[R]:
    """Yield ``function(item, *extra_args)`` for each item, in the order of ``items``.

    Results are yielded in order, so one slow item holds back the finished ones behind it.
    Work goes on past it while fewer than ``window`` items are unfinished (queued or running)
    and the finished-but-waiting results weigh less than ``max_waiting_weight`` (by ``weigh``,
    e.g. their size in bytes): memory stays bounded however many items there are, and one huge
    item does not idle the other workers.
    ``workers == 0`` runs in this process (for debugging; no crash isolation).
    """
    if workers == 0:
        for item in items:  # no initializer: it would tune this process, not a worker
            yield function(item, *extra_args)
        return
    window = window or workers * 4
    context = multiprocessing.get_context("spawn")  # no fork: the caller may hold threads

    def new_pool(size: int) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=size, mp_context=context, initializer=initializer)

    pool = new_pool(workers)
    isolated: ProcessPoolExecutor | None = None
    pending = iter(items)
    in_flight: deque[tuple[T, Future[R]]] = deque()
    finished: queue.SimpleQueue[Future[R]] = queue.SimpleQueue()  # filled by done-callbacks
    live: set[Future[R]] = set()  # submitted and not yet yielded
    weights: dict[Future[R], int] = {}  # finished live futures, and their weight
    waiting_weight = 0

    def account(future: Future[R]) -> None:
        nonlocal waiting_weight
        # a callback may arrive after its future was yielded: only live ones count
        if future not in live or future in weights or future.cancelled():
            return
        weight = 0
        if weigh is not None and future.exception() is None:
            weight = weigh(future.result())
        weights[future] = weight
        waiting_weight += weight

    try:
        while True:
            while len(in_flight) - len(weights) < window and waiting_weight < max_waiting_weight:
                item = next(pending, _DONE)
                if item is _DONE:
                    break
                future = pool.submit(function, item, *extra_args)
                live.add(future)
                future.add_done_callback(finished.put)
                in_flight.append((item, future))
            if not in_flight:
                return
            item, future = in_flight[0]
            if not future.done():
                account(finished.get())  # sleep until any item finishes, then top up
                continue
            in_flight.popleft()
            account(future)
            waiting_weight -= weights.pop(future)
            live.discard(future)
            try:
                yield future.result()
                continue
            except BrokenProcessPool:
                pass
            suspects = [item, *(queued for queued, _ in in_flight)]
            in_flight.clear()
            live.clear()
            weights.clear()
            waiting_weight = 0
            finished = queue.SimpleQueue()
            pool.shutdown(wait=False, cancel_futures=True)
            log.warning("a reader process crashed; re-running %d sources one by one", len(suspects))
            for suspect in suspects:
                if isolated is None:
                    isolated = new_pool(1)
                try:
                    yield isolated.submit(function, suspect, *extra_args).result()
                except BrokenProcessPool:
                    isolated.shutdown(wait=False, cancel_futures=True)
                    isolated = None
                    yield on_crash(suspect)
            pool = new_pool(workers)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        if isolated is not None:
            isolated.shutdown(wait=True, cancel_futures=True)


_DONE: Any = object()
