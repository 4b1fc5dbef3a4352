"""Patterns from strangers' specs: compiled once, run only where they cannot run for ever."""

from __future__ import annotations

import time

import pytest

from pipeline.safe_regex import (
    MAX_PATTERN_CHARS,
    MAX_PATTERN_SUBJECT_CHARS,
    checked_pattern,
    parse_pattern,
    pattern_allows,
    pattern_verdict,
    safe_pattern,
)


@pytest.mark.parametrize("pattern", ["^(a+)+$", "(a|aa)*b", "(x*)*", "^(\\w+\\s?)*$", "((ab)*c)+"])
def test_nested_quantifiers_are_refused(pattern: str) -> None:
    assert safe_pattern(pattern) is None
    assert checked_pattern(pattern) is None


@pytest.mark.parametrize("pattern", ["([a-", "(?<=a+)b", "*", "a{2,1}"])
def test_patterns_python_cannot_compile_are_refused(pattern: str) -> None:
    assert safe_pattern(pattern) is None


def test_an_overlong_pattern_is_refused() -> None:
    assert safe_pattern("a" * (MAX_PATTERN_CHARS + 1)) is None
    assert safe_pattern("a" * MAX_PATTERN_CHARS) is not None


@pytest.mark.parametrize(
    "pattern", [r"^[A-Z]{3}$", r"^cart-\d+$", r"^([01]\d|2[0-3]):[0-5]\d$", r"^[A-La-l]([1-9]|1[0-4])$"]
)
def test_ordinary_spec_patterns_are_compiled(pattern: str) -> None:
    compiled = safe_pattern(pattern)
    assert compiled is not None and compiled.pattern == pattern


def test_more_quantifiers_mean_a_shorter_subject_limit() -> None:
    bounded = checked_pattern(r"x\d{3}y")  # no quantifier that repeats much: linear
    one = checked_pattern(r"x\d+y")
    three = checked_pattern(r"x\d+y\d+z\d+w")
    assert bounded is not None and one is not None and three is not None
    assert bounded[1] == MAX_PATTERN_SUBJECT_CHARS
    assert three[1] < one[1] < bounded[1]


def test_an_anchored_pattern_is_allowed_a_longer_subject() -> None:
    floating, anchored = checked_pattern(r"\d+-\d+"), checked_pattern(r"^\d+-\d+")
    assert floating is not None and anchored is not None
    assert anchored[1] > floating[1]


def test_verdict_matches_like_json_schema_searches() -> None:
    assert pattern_verdict(r"\d{3}", "abc123def") is True  # search, not fullmatch
    assert pattern_verdict(r"^\d{3}$", "abc123def") is False


def test_verdict_is_unknown_where_the_pattern_cannot_be_run_safely() -> None:
    assert pattern_verdict("^(a+)+$", "aaaa") is None
    assert pattern_verdict(r"x\d+y\d+z\d+w", "x" + "1" * 10_000) is None  # past the subject limit


def test_allows_treats_unknown_as_allowed_and_a_known_mismatch_as_not() -> None:
    assert pattern_allows("^(a+)+$", "a" * 40 + "!")  # would backtrack for ever if run
    assert pattern_allows(r"^\d+$", "123")
    assert not pattern_allows(r"^\d+$", "12a")


def test_a_catastrophic_pattern_costs_nothing() -> None:
    started = time.perf_counter()
    for _ in range(100):
        assert pattern_verdict("^(a|aa)+$", "a" * 60 + "b") is None
    assert time.perf_counter() - started < 0.5


def test_parse_pattern_gives_the_parsed_form_or_none() -> None:
    assert parse_pattern(r"^[A-Z]{2}\d$") is not None
    assert parse_pattern("([a-") is None
    assert parse_pattern("a" * 20, max_chars=10) is None
