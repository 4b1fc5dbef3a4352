"""When a request is tried again and how long to wait first: one policy for every retry loop.

Three loops talk to servers we do not control: tool calls (:mod:`pipeline.env.http`), spec
downloads (:mod:`pipeline.specs.fetch`) and model requests (:mod:`pipeline.llm.openai_backend`).
They share the loop itself (:func:`retrying`) and the policy (:class:`RetryPolicy`): up to
``retries`` more attempts after a retryable failure; before each, the server's ``Retry-After``
(capped at ``max_retry_after_s``) or else exponential backoff with equal jitter
(:func:`pipeline.net.backoff_delay`). Which HTTP statuses are worth another attempt differs by
what a repeat may cost, and is written once here:

=================  ===========================  ========================  ===================
loop               any request                  idempotent requests only  Retry-After read on
=================  ===========================  ========================  ===================
tool calls         429, 503                     500, 502, 504             429, 503
spec downloads     408, 425, 429, 500, 502-504  (all downloads are GETs)  429, 503
model requests     408, 409, 429, every 5xx     —                         every retried status
=================  ===========================  ========================  ===================

A tool call that fails with a 500 may already have booked the hotel, so only methods that may be
repeated are tried again; a model request has no side effects. Transport failures (timeouts,
refused connections ...) are classified in :mod:`pipeline.http_errors`.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from pipeline.net import backoff_delay

# Only these two carry a Retry-After that means "wait this long" (RFC 9110 §10.2.3).
RETRY_AFTER_STATUSES = frozenset({429, 503})


@dataclass(frozen=True)
class RetryStatuses:
    """Which HTTP statuses a loop asks again for, and on which it reads ``Retry-After``."""

    any_request: frozenset[int]
    idempotent_only: frozenset[int] = frozenset()
    # None: on every status it retries
    retry_after: frozenset[int] | None = RETRY_AFTER_STATUSES

    def retries(self, status: int, *, idempotent: bool = True) -> bool:
        return status in self.any_request or (idempotent and status in self.idempotent_only)

    def reads_retry_after(self, status: int) -> bool:
        if self.retry_after is None:
            return self.retries(status)
        return status in self.retry_after


# The server said "not now" without doing anything: safe to ask again whatever the method. The
# server (or a gateway) failed: asking again could repeat a booking, so only for idempotent ones.
TOOL_CALL_STATUSES = RetryStatuses(
    any_request=frozenset({429, 503}), idempotent_only=frozenset({500, 502, 504})
)
# The server said "later" or failed in passing.
SPEC_DOWNLOAD_STATUSES = RetryStatuses(any_request=frozenset({408, 425, 429, 500, 502, 503, 504}))
# Timeouts, conflicts, rate limits and any server error; a 429 for an exhausted quota is not
# retried (the backend tells it apart by the body before asking the policy).
MODEL_REQUEST_STATUSES = RetryStatuses(
    any_request=frozenset({408, 409, 429}) | frozenset(range(500, 600)), retry_after=None
)


@dataclass(frozen=True)
class RetryPolicy:
    """How often to try again and how long to wait before each new attempt."""

    statuses: RetryStatuses
    retries: int  # attempts after the first
    backoff_base_s: float
    backoff_max_s: float
    max_retry_after_s: float

    def may_retry(self, attempts: int) -> bool:
        """Whether another attempt may follow ``attempts`` made so far."""
        return attempts <= self.retries

    def delay(self, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        """The wait after failed attempt number ``attempt`` (1-based): the server's
        ``retry_after`` capped at ``max_retry_after_s``, else jittered exponential backoff."""
        if retry_after is not None:
            return min(retry_after, self.max_retry_after_s)
        return backoff_delay(attempt, self.backoff_base_s, self.backoff_max_s, rng)


class Attempt(Protocol):
    """What one attempt tells the loop: whether to try again, and the server's wish."""

    @property
    def retryable(self) -> bool: ...

    @property
    def retry_after(self) -> float | None: ...


A = TypeVar("A", bound=Attempt)


async def retrying(
    attempt: Callable[[int], Awaitable[A]],
    policy: RetryPolicy,
    *,
    rng: random.Random,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    stop: Callable[[A], bool] | None = None,
    before_retry: Callable[[A, int, float], None] | None = None,
) -> tuple[A, int]:
    """Run ``attempt(n)`` for n = 1, 2, ... until one is not retryable, the policy allows no
    more, or ``stop`` says so; waits ``policy.delay`` between attempts (``before_retry`` sees
    the failed attempt, its number and the wait first). Returns the last attempt and how many
    were made. Exceptions from ``attempt`` are not caught: it reports failures as attempts.
    """
    attempts = 0
    while True:
        attempts += 1
        outcome = await attempt(attempts)
        if not outcome.retryable or not policy.may_retry(attempts) or (stop is not None and stop(outcome)):
            return outcome, attempts
        delay = policy.delay(attempts, outcome.retry_after, rng)
        if before_retry is not None:
            before_retry(outcome, attempts, delay)
        await sleep(delay)
