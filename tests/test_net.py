"""Shared network helpers."""

from __future__ import annotations

from datetime import UTC, datetime

from pipeline.net import parse_retry_after


def test_retry_after_accepts_whole_and_fractional_seconds_and_dates() -> None:
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after("0.25") == 0.25
    assert parse_retry_after(" 1.5 ") == 1.5
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("Thu, 01 Jan 2026 12:00:30 GMT", now=now) == 30.0


def test_retry_after_that_makes_no_sense_is_ignored_or_clamped() -> None:
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("nan") is None
    assert parse_retry_after("inf") is None
    assert parse_retry_after("-3") == 0.0
