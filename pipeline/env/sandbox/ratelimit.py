"""Per-client request quotas over a sliding one-minute window."""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass

WINDOW_SECONDS = 60.0


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    retry_after: int  # whole seconds until a slot frees up; 0 when allowed


class RateLimiter:
    """Allow at most ``per_minute`` requests per key in any 60-second window.

    A sliding log (one timestamp per accepted request) rather than fixed windows, so a client
    cannot burst twice the quota across a window boundary; memory is bounded by the quota.
    """

    def __init__(self, per_minute: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        if per_minute < 1:
            raise ValueError("per_minute must be at least 1")
        self.per_minute = per_minute
        self._clock = clock
        self._log: dict[Hashable, deque[float]] = {}

    def check(self, key: Hashable) -> Decision:
        now = self._clock()
        log = self._log.setdefault(key, deque())
        while log and now - log[0] >= WINDOW_SECONDS:
            log.popleft()
        if len(log) >= self.per_minute:
            wait = WINDOW_SECONDS - (now - log[0])
            return Decision(False, self.per_minute, 0, max(1, math.ceil(wait)))
        log.append(now)
        return Decision(True, self.per_minute, self.per_minute - len(log), 0)
