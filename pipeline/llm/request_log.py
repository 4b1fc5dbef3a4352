"""``--log-requests FILE``: every model request and what came back, one JSON line per attempt.

For debugging a model's behaviour (what exactly was sent, what exactly it answered, which
attempt failed how). The API key never reaches the file: it travels in a header that is not
logged, and every string is passed through :func:`pipeline.redact.redact_value` and the
client's own key scrubber.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pipeline.io import JsonlAppender
from pipeline.redact import redact_value


class RequestLog:
    """Appends one record per attempt to ``path`` (created on first use)."""

    def __init__(self, path: Path, *, scrub: Callable[[str], str]) -> None:
        self.path = Path(path)
        self._scrub = scrub
        self._appender: JsonlAppender | None = None

    def write(
        self, *, role: str, model: str, endpoint: str, attempt: int, request: dict[str, Any],
        outcome: str, status: int | None, response: Any, elapsed_ms: float,
    ) -> None:
        record = {
            "at": time.time(), "role": role, "model": model, "endpoint": endpoint, "attempt": attempt,
            "outcome": outcome, "status": status, "elapsed_ms": round(elapsed_ms, 1),
            "request": request, "response": response,
        }
        if self._appender is None:
            self._appender = JsonlAppender(self.path)
        self._appender.write(self._scrubbed(redact_value(record, by_key=True)))

    def _scrubbed(self, value: Any) -> Any:
        if isinstance(value, str):
            return self._scrub(value)
        if isinstance(value, dict):
            return {key: self._scrubbed(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self._scrubbed(item) for item in value]
        return value

    def close(self) -> None:
        if self._appender is not None:
            self._appender.close()
            self._appender = None
