"""One item's failure is that item's, never its stage's.

A stage that works item by item (a query searched, a trajectory verified, an API set written
into instructions) meets data nobody has checked: a tool document's example, an API's response,
a model's reply. Whatever one item raises is caught at the item, logged, and appended to
``<run>/failures/<stage>.jsonl`` (an :class:`ItemFailure` per line: group, item id, error type
and message); the item is not marked done, so a rerun tries it again, and the stage's report
counts the failures by error type. At the end of a stage the file is rewritten to hold only the
items still not done, so it always lists what is outstanding.

An error about the stage rather than one item (any :class:`~pipeline.errors.ToolgenError`: a
configuration error, a model endpoint that cannot serve anything) still stops the stage, as
cancellation and ``KeyboardInterrupt`` do.

With ``strict_items`` set (``TOOLGEN_STRICT_ITEMS=1``; the test suite sets it) an unexpected
exception propagates instead, so a bug fails a test rather than looking like one bad item; the
failures a stage expects of the outside world (a model error) are recorded either way.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Container
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from pipeline.errors import ToolgenError
from pipeline.io import JsonlAppender, read_jsonl, write_jsonl
from pipeline.llm.types import ModelError

log = logging.getLogger(__name__)

FAILURES_DIR = "failures"
STRICT_ENV = "TOOLGEN_STRICT_ITEMS"  # the environment's name for settings.strict_items
MAX_MESSAGE_CHARS = 2000


def failures_path(run_dir: Path, stage: str) -> Path:
    return Path(run_dir) / FAILURES_DIR / f"{stage}.jsonl"


class ItemFailure(BaseModel):
    """One item a stage could not finish, and why."""

    model_config = ConfigDict(extra="ignore")

    stage: str
    group: str
    item_id: str
    error_type: str
    message: str
    at: float = 0.0
    role: str | None = None  # the LLM role whose call failed (a model error)
    status: int | None = None  # the HTTP status the model server answered with
    response_body: str | None = None  # what the model server sent back, cut and with the key scrubbed

    @property
    def key(self) -> tuple[str, str]:
        return (self.group, self.item_id)


class FailureLog:
    """Appends a stage's item failures to ``failures/<stage>.jsonl`` as they happen (a killed
    run keeps them) and counts this invocation's by error type."""

    def __init__(self, run_dir: Path, stage: str, *, strict: bool = False) -> None:
        self.strict = strict  # settings.strict_items: unexpected exceptions propagate
        self.path = failures_path(run_dir, stage)
        self.stage = stage
        self.counts: Counter[str] = Counter()
        self._appender: JsonlAppender | None = None

    def guard(self, error: BaseException, *, group: str, item_id: object, expected: bool = False) -> None:
        """Record ``error`` as the failure of item (``group``, ``item_id``), or re-raise it when
        it is not one item's to own: a configuration error, or an unexpected one in strict mode."""
        if isinstance(error, ToolgenError) or not isinstance(error, Exception):
            raise error  # about the stage, not this item: bad configuration, an unusable endpoint
        if not expected and self.strict:
            raise error
        self.record(error, group=group, item_id=item_id)

    def record(self, error: BaseException, *, group: str, item_id: object) -> ItemFailure:
        name = type(error).__name__
        message = str(error)[:MAX_MESSAGE_CHARS]
        failure = ItemFailure(stage=self.stage, group=group, item_id=str(item_id), error_type=name,
                              message=message, at=time.time())
        if isinstance(error, ModelError):
            failure.role, failure.status, failure.response_body = error.role, error.status, error.body
        log.warning("%s: %s %s failed (recorded in %s; retried on rerun): %s: %s", self.stage, group, item_id,
                    self.path, name, message[:300], exc_info=not isinstance(error, _QUIET))
        if self._appender is None:
            self._appender = JsonlAppender(self.path)
        self._appender.write(failure.model_dump())
        self.counts[name] += 1
        return failure

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def close(self) -> None:
        if self._appender is not None:
            self._appender.close()
            self._appender = None

    def settle(self, done: Container[tuple[str, str]] | Callable[[tuple[str, str]], bool]) -> int:
        """Rewrite the file to the failures whose item is still not done (the latest of each);
        remove it when there are none. Returns how many are outstanding."""
        self.close()
        if not self.path.is_file():
            return 0
        is_done = done if callable(done) else done.__contains__
        latest = {failure.key: failure for failure in _read(self.path)}
        outstanding = [failure.model_dump() for key, failure in latest.items() if not is_done(key)]
        if outstanding:
            write_jsonl(self.path, outstanding)
        else:
            self.path.unlink(missing_ok=True)
        return len(outstanding)


def read_failures(run_dir: Path, stage: str) -> list[ItemFailure]:
    """The outstanding failures a stage recorded (none when there is no file)."""
    path = failures_path(run_dir, stage)
    return _read(path) if path.is_file() else []


def _read(path: Path) -> list[ItemFailure]:
    """The failures in ``path``; a damaged line (or file) is passed over: this file is a list
    of what to look at, and the stage's rerun retries every item not done whatever it says."""
    out = []
    try:
        for line in read_jsonl(path):
            try:
                out.append(ItemFailure.model_validate(line))
            except ValueError:
                continue
    except (ValueError, OSError) as error:
        log.warning("%s: %s (the rest of the file is passed over)", path, error)
    return out


# errors whose traceback says nothing the message does not (the outside world's, not a bug's)
_QUIET: tuple[type[BaseException], ...] = (OSError, TimeoutError)
