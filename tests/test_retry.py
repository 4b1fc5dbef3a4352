"""The one retry policy: which statuses each loop asks again for, how long it waits, when it stops."""

from __future__ import annotations

import random
from dataclasses import dataclass

import pytest

from pipeline.retry import (
    MODEL_REQUEST_STATUSES,
    SPEC_DOWNLOAD_STATUSES,
    TOOL_CALL_STATUSES,
    RetryPolicy,
    RetryStatuses,
    retrying,
)

# --- the status table: what each loop retries (what the env, fetch and model tests rely on) -----

ALL = range(100, 600)


def retried(statuses: RetryStatuses, *, idempotent: bool = True) -> set[int]:
    return {status for status in ALL if statuses.retries(status, idempotent=idempotent)}


def test_tool_calls_retry_not_now_always_and_server_errors_only_when_repeating_is_safe() -> None:
    assert retried(TOOL_CALL_STATUSES, idempotent=False) == {429, 503}
    assert retried(TOOL_CALL_STATUSES, idempotent=True) == {429, 500, 502, 503, 504}
    assert {s for s in ALL if TOOL_CALL_STATUSES.reads_retry_after(s)} == {429, 503}


def test_spec_downloads_retry_transient_statuses() -> None:
    assert retried(SPEC_DOWNLOAD_STATUSES) == {408, 425, 429, 500, 502, 503, 504}
    assert {s for s in ALL if SPEC_DOWNLOAD_STATUSES.reads_retry_after(s)} == {429, 503}


def test_model_requests_retry_timeouts_conflicts_rate_limits_and_every_server_error() -> None:
    assert retried(MODEL_REQUEST_STATUSES) == {408, 409, 429} | set(range(500, 600))
    assert retried(MODEL_REQUEST_STATUSES, idempotent=False) == retried(MODEL_REQUEST_STATUSES)
    # the server's wish is read on every status it retries, and on no other
    assert {s for s in ALL if MODEL_REQUEST_STATUSES.reads_retry_after(s)} == retried(MODEL_REQUEST_STATUSES)


@pytest.mark.parametrize("statuses", [TOOL_CALL_STATUSES, SPEC_DOWNLOAD_STATUSES, MODEL_REQUEST_STATUSES])
def test_no_loop_retries_a_success_a_redirect_or_a_plain_client_error(statuses: RetryStatuses) -> None:
    for status in (200, 201, 204, 301, 304, 400, 401, 403, 404, 422):
        assert not statuses.retries(status)


# --- waits ----------------------------------------------------------------------------------------


def policy(retries: int = 3, **overrides: float) -> RetryPolicy:
    values = {"backoff_base_s": 1.0, "backoff_max_s": 8.0, "max_retry_after_s": 30.0} | overrides
    return RetryPolicy(TOOL_CALL_STATUSES, retries, values["backoff_base_s"], values["backoff_max_s"],
                       values["max_retry_after_s"])


def test_the_servers_retry_after_is_honoured_up_to_the_cap() -> None:
    rng = random.Random(0)
    assert policy().delay(1, 2.5, rng) == 2.5
    assert policy().delay(1, 0.0, rng) == 0.0
    assert policy().delay(3, 120.0, rng) == 30.0


def test_without_retry_after_the_backoff_doubles_with_equal_jitter_up_to_its_ceiling() -> None:
    rng = random.Random(1)
    for attempt, ceiling in ((1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (9, 8.0)):
        waits = [policy().delay(attempt, None, rng) for _ in range(200)]
        assert all(ceiling / 2 <= wait <= ceiling for wait in waits)
        assert max(waits) - min(waits) > ceiling / 4  # spread, so clients do not return together


def test_retries_counts_the_attempts_after_the_first() -> None:
    assert [policy(retries=2).may_retry(n) for n in (1, 2, 3)] == [True, True, False]
    assert not policy(retries=0).may_retry(1)


# --- the loop -------------------------------------------------------------------------------------


@dataclass
class Try:
    retryable: bool
    retry_after: float | None = None
    label: str = ""


class Script:
    """Hands out scripted attempts and records the waits."""

    def __init__(self, *attempts: Try) -> None:
        self.attempts = list(attempts)
        self.numbers: list[int] = []
        self.waits: list[float] = []

    async def attempt(self, number: int) -> Try:
        self.numbers.append(number)
        return self.attempts.pop(0)

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)


async def test_the_loop_stops_at_the_first_attempt_that_is_not_retryable() -> None:
    script = Script(Try(True, 0.5), Try(True, 0.25), Try(False, label="answer"), Try(True))
    outcome, attempts = await retrying(script.attempt, policy(), rng=random.Random(0), sleep=script.sleep)
    assert (outcome.label, attempts) == ("answer", 3)
    assert script.numbers == [1, 2, 3] and script.waits == [0.5, 0.25]


async def test_the_loop_gives_up_after_the_policys_retries_and_returns_the_last_failure() -> None:
    script = Script(*(Try(True, 1.0, label=f"fail {n}") for n in range(1, 6)))
    outcome, attempts = await retrying(
        script.attempt, policy(retries=2), rng=random.Random(0), sleep=script.sleep
    )
    assert (outcome.label, attempts) == ("fail 3", 3)
    assert script.waits == [1.0, 1.0]


async def test_stop_ends_the_loop_early_and_before_retry_sees_each_wait() -> None:
    script = Script(Try(True, 2.0, "a"), Try(True, 3.0, "b"), Try(True, 4.0, "c"))
    seen: list[tuple[str, int, float]] = []
    outcome, attempts = await retrying(
        script.attempt, policy(retries=5), rng=random.Random(0), sleep=script.sleep,
        stop=lambda attempt: attempt.label == "b",
        before_retry=lambda attempt, number, wait: seen.append((attempt.label, number, wait)),
    )
    assert (outcome.label, attempts) == ("b", 2)
    assert seen == [("a", 1, 2.0)] and script.waits == [2.0]
