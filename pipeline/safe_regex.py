"""Regular expressions from specs we do not control, run without the risk of running for ever.

A spec's ``pattern`` is written by a stranger. Python's engine backtracks, so a quantifier over
a group that itself repeats or branches (``(a+)+``, ``(a|aa)*``) takes exponential time on a
crafted string, and even a plain one is polynomial (``\\d+\\d+x`` is cubic). Every place that
compiles or runs such a pattern goes through here:

* :func:`checked_pattern` compiles a pattern once (cached) and says how long a string it may be
  run on within a step budget; patterns that do not compile, are too long, or can backtrack
  without bound are refused (None);
* :func:`pattern_verdict` is the "does the value match" test built on it (None: cannot tell
  safely), and :func:`pattern_allows` the same where such a pattern constrains nothing;
* :func:`parse_pattern` gives the parsed form (for building strings that match) under the same
  length limit, or None.
"""

from __future__ import annotations

import importlib
import logging
import re
from functools import lru_cache
from typing import Any

# The parser behind ``re`` (private, and untyped for the type checker): what a pattern is made of.
sre: Any = importlib.import_module("re._constants")
sre_parse: Any = importlib.import_module("re._parser")

logger = logging.getLogger(__name__)

# Strings longer than this are never matched against a spec's `pattern` (patterns describe
# short tokens); patterns with several quantifiers get a shorter limit, see checked_pattern.
MAX_PATTERN_SUBJECT_CHARS = 4096
MAX_PATTERN_CHARS = 1000
# Steps a regex search may take on one string: ~10 ms in the C engine.
PATTERN_STEP_BUDGET = 10**7

REPEATS = frozenset(
    {sre.MAX_REPEAT, sre.MIN_REPEAT, getattr(sre, "POSSESSIVE_REPEAT", sre.MAX_REPEAT)}
)
ATOMIC_GROUP = getattr(sre, "ATOMIC_GROUP", None)
_PARSE_ERRORS = (re.error, RecursionError, OverflowError, ValueError, TypeError)


def safe_pattern(pattern: str) -> re.Pattern[str] | None:
    """The compiled pattern, or None when it does not compile or could backtrack for ever."""
    checked = checked_pattern(pattern)
    return checked[0] if checked is not None else None


@lru_cache(maxsize=2048)
def checked_pattern(pattern: str) -> tuple[re.Pattern[str], int] | None:
    """The compiled pattern and the longest string it may be run on within the step budget.

    Without nested quantifiers a search is still polynomial: about n^(k+1) steps for a string
    of n characters and k quantifiers that can repeat many times. Longer strings are not to be
    checked against the pattern. None for a pattern that is too long, does not compile, or has
    a quantifier over something that repeats or branches.
    """
    if len(pattern) > MAX_PATTERN_CHARS:
        return None
    try:
        parsed = sre_parse.parse(pattern)
        compiled = re.compile(pattern)
    except _PARSE_ERRORS:
        return None
    if _backtracks(parsed.data, inside_repeat=False):
        logger.debug("not checking pattern %r: nested quantifiers", pattern)
        return None
    degree = _long_repeats(parsed.data) + 1
    anchored = bool(parsed.data) and parsed.data[0] == (sre.AT, sre.AT_BEGINNING)
    if anchored and not compiled.flags & re.MULTILINE:
        degree = max(1, degree - 1)  # tried at the start only, not at every position
    return compiled, min(MAX_PATTERN_SUBJECT_CHARS, int(PATTERN_STEP_BUDGET ** (1 / degree)))


def pattern_verdict(pattern: str, text: str) -> bool | None:
    """Whether ``text`` matches ``pattern`` (searched, as JSON Schema does); None when the
    pattern cannot be run safely on ``text`` (see :func:`checked_pattern`)."""
    checked = checked_pattern(pattern)
    if checked is None or len(text) > checked[1]:
        return None
    return checked[0].search(text) is not None


def pattern_allows(pattern: str, text: str) -> bool:
    """:func:`pattern_verdict` where a pattern that cannot be run safely allows anything
    (the API itself will judge the value)."""
    return pattern_verdict(pattern, text) is not False


def parse_pattern(pattern: str, *, max_chars: int = MAX_PATTERN_CHARS) -> Any | None:
    """The parsed form of ``pattern`` (``re._parser``'s), or None if it is longer than
    ``max_chars`` or does not parse."""
    if len(pattern) > max_chars:
        return None
    try:
        return sre_parse.parse(pattern)
    except Exception:  # noqa: BLE001 - re.error, RecursionError, OverflowError ...
        return None


def _backtracks(items: Any, *, inside_repeat: bool) -> bool:
    for op, av in items:
        if op in REPEATS:
            _low, high, sub = av
            repeats = high > 1
            if repeats and inside_repeat:
                return True
            if _backtracks(_items(sub), inside_repeat=inside_repeat or repeats):
                return True
        elif op == sre.SUBPATTERN:
            if _backtracks(_items(av[-1]), inside_repeat=inside_repeat):
                return True
        elif op == sre.BRANCH:
            if inside_repeat and len(av[1]) > 1:
                return True
            if any(_backtracks(_items(branch), inside_repeat=inside_repeat) for branch in av[1]):
                return True
        elif op in (sre.ASSERT, sre.ASSERT_NOT):
            if _backtracks(_items(av[1]), inside_repeat=inside_repeat):
                return True
        elif op == ATOMIC_GROUP:
            if _backtracks(_items(av), inside_repeat=inside_repeat):
                return True
        elif op == sre.GROUPREF_EXISTS:
            for branch in av[1:]:
                if branch is not None and _backtracks(_items(branch), inside_repeat=inside_repeat):
                    return True
    return False


def _long_repeats(items: Any) -> int:
    """How many quantifiers in the pattern may repeat more than a few times."""
    count = 0
    for op, av in items:
        if op in REPEATS:
            count += (av[1] > 16) + _long_repeats(_items(av[2]))
        elif op == sre.SUBPATTERN:
            count += _long_repeats(_items(av[-1]))
        elif op == sre.BRANCH:
            count += max((_long_repeats(_items(branch)) for branch in av[1]), default=0)
        elif op in (sre.ASSERT, sre.ASSERT_NOT):
            count += _long_repeats(_items(av[1]))
        elif op == ATOMIC_GROUP:
            count += _long_repeats(_items(av))
        elif op == sre.GROUPREF_EXISTS:
            count += max((_long_repeats(_items(b)) for b in av[1:] if b is not None), default=0)
    return count


def _items(sub: Any) -> Any:
    return sub.data if hasattr(sub, "data") else sub
