"""In-process request and token rate limits for model calls (token buckets).

Providers enforce per-minute quotas over much shorter windows (OpenAI: 60,000 requests per
minute may be enforced as 1,000 per second), so requests are spaced evenly rather than sent in
a burst at the top of each minute: the request bucket holds one request. The token bucket holds
one second's worth of tokens; a request larger than that waits for a full bucket and then goes
into debt, so it is never blocked for ever. Prompt sizes are estimated before sending
(:func:`estimate_tokens`) and corrected with the usage the server reports.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from pipeline.io import dumps

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[Any]]


def estimate_tokens(*parts: Any) -> int:
    """A cheap token estimate: about four characters of JSON per token."""
    size = 0
    for part in parts:
        if part is None:
            continue
        size += len(part) if isinstance(part, str) else len(dumps(part))
    return size // 4 + 1


class TokenBucket:
    """``rate_per_s`` units refill continuously up to ``capacity``; callers wait in FIFO order."""

    def __init__(
        self, rate_per_s: float, capacity: float, *, clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep
    ) -> None:
        if rate_per_s <= 0 or capacity <= 0:
            raise ValueError("a token bucket needs a positive rate and capacity")
        self.rate_per_s = rate_per_s
        self.capacity = capacity
        self._clock = clock
        self._sleep = sleep
        self._level = capacity
        self._updated = clock()
        self._lock = asyncio.Lock()

    @classmethod
    def per_minute(cls, amount: int, *, burst_s: float, clock: Clock = time.monotonic,
                   sleep: Sleep = asyncio.sleep) -> TokenBucket:
        rate = amount / 60.0
        return cls(rate, max(1.0, rate * burst_s), clock=clock, sleep=sleep)

    async def acquire(self, amount: float = 1.0) -> float:
        """Take ``amount`` units, waiting until they are there; returns the seconds waited."""
        waited = 0.0
        async with self._lock:
            need = min(amount, self.capacity)
            self._refill()
            while self._level < need:
                delay = (need - self._level) / self.rate_per_s
                await self._sleep(delay)
                waited += delay
                self._refill()
            self._level -= amount
        return waited

    def adjust(self, extra: float) -> None:
        """Charge ``extra`` more units (negative: refund) once the true cost is known."""
        self._refill()
        self._level = min(self.capacity, self._level - extra)

    def _refill(self) -> None:
        now = self._clock()
        self._level = min(self.capacity, self._level + (now - self._updated) * self.rate_per_s)
        self._updated = now
