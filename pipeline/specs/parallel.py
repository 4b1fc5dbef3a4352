"""Run a function over many items in worker processes, in order, surviving worker crashes.

Readers run in separate processes for two reasons: two cores parse twice as fast, and a
C-level crash (libyaml on a pathological file) kills a worker, not the collector. When the
pool breaks, the items that were in flight are re-run one at a time in an isolated worker so
the one that crashes is found and reported, and the rest still succeed. An item whose call
raises (or whose result cannot be sent back) is reported the same way, without a re-run.
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
    on_failure: Callable[[T, BaseException | None], R],
    window: int | None = None,
    weigh: Callable[[R], int] | None = None,
    max_waiting_weight: int = 256 * 1024 * 1024,
    initializer: Callable[[], None] | None = None,
) -> Iterator[R]:
    """Yield ``function(item, *extra_args)`` for each item, in the order of ``items``.

    An item whose call raises yields ``on_failure(item, exception)``; one whose worker process
    died yields ``on_failure(item, None)``. Either way the other items go on.

    Results are yielded in order, so one slow item holds back the finished ones behind it.
    Work goes on past it while fewer than ``window`` items are unfinished (queued or running)
    and the finished-but-waiting results weigh less than ``max_waiting_weight`` (by ``weigh``,
    e.g. their size in bytes): memory stays bounded however many items there are, and one huge
    item does not idle the other workers.
    ``workers == 0`` runs in this process (for debugging; no crash isolation, and no
    ``initializer``: it would tune this process, not a worker).
    """
    if workers == 0:
        for item in items:
            yield _call_here(function, item, extra_args, on_failure)
        return
    window = window or workers * 4
    context = multiprocessing.get_context("spawn")  # no fork: the caller may hold threads

    def new_pool(size: int) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=size, mp_context=context, initializer=initializer)

    pool = new_pool(workers)
    isolated: ProcessPoolExecutor | None = None
    pending = iter(items)
    backlog: deque[T] = deque()  # taken before `pending`: items a broken pool would not take
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
                item = backlog.popleft() if backlog else next(pending, _DONE)
                if item is _DONE:
                    break
                try:
                    future = pool.submit(function, item, *extra_args)
                except BrokenProcessPool:
                    # a worker died since the last look; the items in flight will tell which
                    backlog.appendleft(item)
                    break
                live.add(future)
                future.add_done_callback(finished.put)
                in_flight.append((item, future))
            if not in_flight:
                if not backlog:
                    return
                # the pool broke with nothing in flight to blame: start a new one
                pool.shutdown(wait=False, cancel_futures=True)
                pool = new_pool(workers)
                continue
            item, future = in_flight[0]
            if not future.done():
                account(finished.get())  # sleep until any item finishes, then top up
                continue
            in_flight.popleft()
            account(future)
            waiting_weight -= weights.pop(future)
            live.discard(future)
            error = future.exception()
            if not isinstance(error, BrokenProcessPool):
                yield future.result() if error is None else on_failure(item, error)
                continue
            # The pool is broken: every unfinished item fails with it, and any of them may be
            # the one that killed its worker. Those are re-run one at a time in a worker of
            # their own, in order, so the culprit is found and the rest still succeed.
            suspects = [(item, future), *in_flight]
            in_flight.clear()
            live.clear()
            weights.clear()
            waiting_weight = 0
            finished = queue.SimpleQueue()
            pool.shutdown(wait=False, cancel_futures=True)
            rerun = sum(not _settled(f) for _, f in suspects)
            log.warning("a reader process crashed; re-running %d sources one by one", rerun)
            for suspect, earlier in suspects:
                if _settled(earlier):
                    earlier_error = earlier.exception()
                    yield earlier.result() if earlier_error is None else on_failure(suspect, earlier_error)
                    continue
                if isolated is None:
                    isolated = new_pool(1)
                try:
                    result = isolated.submit(function, suspect, *extra_args).result()
                except BrokenProcessPool:
                    isolated.shutdown(wait=False, cancel_futures=True)
                    isolated = None
                    result = on_failure(suspect, None)
                except Exception as suspect_error:  # noqa: BLE001 - it costs this item only
                    result = on_failure(suspect, suspect_error)
                yield result
            pool = new_pool(workers)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        if isolated is not None:
            isolated.shutdown(wait=True, cancel_futures=True)


def _settled(future: Future[Any]) -> bool:
    """Finished with a result or an error of its own (not the pool's breakage, not cancelled)."""
    return future.done() and not future.cancelled() and not isinstance(future.exception(), BrokenProcessPool)


def _call_here(
    function: Callable[..., R], item: T, extra_args: tuple[Any, ...], on_failure: Callable[[T, BaseException | None], R]
) -> R:
    try:
        return function(item, *extra_args)
    except Exception as error:  # noqa: BLE001 - as in a worker: it costs this item only
        return on_failure(item, error)


_DONE: Any = object()
