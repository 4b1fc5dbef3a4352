"""One boundary around each source: whatever goes wrong with one source is recorded against it.

Collecting handles each source in several steps and two processes. A reader process reads,
parses and normalises it, gives it ids, filters its APIs, keys its operations for the
duplicate filter and summarises it for the graph; the main process gives it its final id and
drops the operations the catalog already has. Each of these runs inside :func:`isolated`,
which knows the step it is in, so an exception anywhere (a value no reader anticipated, a bug,
memory running out) becomes a :class:`~pipeline.models.SourceError` naming the source and the
step, and collection goes on with the next source.

A step that refuses a source on purpose raises :class:`SourceRejected`, whose message is the
reason a person reads. Anything else is reported with its exception type and where it was
raised (``detail``), so a reader bug can be told apart from a bad spec and fixed.
"""

from __future__ import annotations

import logging
import resource
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from pipeline.models import SourceError, SourceStep

T = TypeVar("T")
log = logging.getLogger(__name__)

_MAX_REASON = 500
_MB = 1024 * 1024


class SourceRejected(Exception):
    """A source cannot be used; the message says why (it becomes the recorded reason)."""


@dataclass
class SourceSteps:
    """The step a source is in, so a failure can say where it happened."""

    source: str
    step: SourceStep = "read"
    memory_budget_mb: int | None = None  # what a capped reader may use (see cap_memory)

    def enter(self, step: SourceStep) -> None:
        self.step = step

    def failure(self, error: Exception) -> SourceError:
        detail = None
        if not isinstance(error, (SourceRejected, MemoryError, RecursionError, OSError)) and not _out_of_memory(error):
            frames = traceback.extract_tb(error.__traceback__)
            if frames:
                frame = frames[-1]
                detail = f"{type(error).__name__} raised at {frame.filename}:{frame.lineno} in {frame.name}"
        return SourceError(source=self.source, stage=self.step, reason=self.reason(error), detail=detail)

    def reason(self, error: Exception) -> str:
        if isinstance(error, SourceRejected):
            return _short(str(error))
        if _out_of_memory(error):
            if self.memory_budget_mb is None or not memory_capped():
                return "ran out of memory"
            return f"too large to parse in {self.memory_budget_mb} MB"
        if isinstance(error, RecursionError):
            return "structure nested too deeply"
        if isinstance(error, OSError) and self.step in ("discover", "read"):
            return _short(f"cannot read: {error.strerror or error}")
        return _short(f"could not be understood ({type(error).__name__}: {error})")


def isolated(
    source: str,
    work: Callable[[SourceSteps], T],
    failed: Callable[[SourceError], T],
    *,
    first_step: SourceStep = "read",
    memory_budget_mb: int | None = None,
) -> T:
    """``work(steps)``, or ``failed(error)`` with the failure recorded against ``source``.

    ``work`` calls ``steps.enter(step)`` as it moves from one step to the next. Only
    :class:`Exception` is caught: an interrupt still stops the run. ``memory_budget_mb`` is
    the budget :func:`cap_memory` gave this process, named when memory runs out.
    """
    steps = SourceSteps(source, first_step, memory_budget_mb)
    try:
        return work(steps)
    except MemoryError as error:
        # the traceback's frames hold whatever filled the memory: let it go before going on
        traceback.clear_frames(error.__traceback__)
        error.__traceback__ = None
        failure = steps.failure(error)
    except Exception as error:  # noqa: BLE001 - the boundary: one source's failure costs only it
        failure = steps.failure(error)
    return failed(failure)


def _out_of_memory(error: BaseException) -> bool:
    """A :class:`MemoryError`, or an error raised because of one (a C extension that ran out of
    memory may report it as a ``SystemError`` whose cause is the ``MemoryError``)."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, MemoryError):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def cap_memory(budget_mb: int) -> None:
    """Let this process's address space grow by at most ``budget_mb`` from its size now.

    Past it, allocations raise :class:`MemoryError`, which :func:`isolated` records as "too
    large", instead of the machine swapping. The budget is counted from the size the process
    has when it is capped (after its imports) because that size is not the parser's to spend:
    it grows with the machine (a thread pool per core in a numerical library, each with its
    stack and buffers). For reader processes only; the collector's main process is never capped.
    Where that size cannot be read (no ``/proc``: not Linux) nothing is capped, since a cap below
    it would fail every allocation.
    """
    size = _address_space_bytes()
    if size is None:
        log.warning("reader memory is not capped: this system does not report a process's size")
        return
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    wanted = size + budget_mb * _MB
    if hard != resource.RLIM_INFINITY:
        wanted = min(wanted, hard)
    resource.setrlimit(resource.RLIMIT_AS, (wanted, hard))


def memory_capped() -> bool:
    """Whether this process's address space is limited."""
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    return soft != resource.RLIM_INFINITY


def _address_space_bytes() -> int | None:
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[0]) * resource.getpagesize()
    except (OSError, ValueError, IndexError):
        return None


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_REASON else text[: _MAX_REASON - 1] + "…"
