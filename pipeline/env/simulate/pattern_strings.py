"""Random strings that match a ``pattern``, for the common regex forms."""

from __future__ import annotations

import random
from typing import Any

from pipeline.safe_regex import ATOMIC_GROUP, REPEATS, parse_pattern, pattern_allows
from pipeline.safe_regex import sre as _sre_c


class _PatternTooHard(Exception):
    pass


def string_for_pattern(pattern: str, rng: random.Random, max_repeat: int = 6) -> str | None:
    """A random string matching ``pattern`` for the common regex forms (classes, repeats,
    groups, alternation); None when the pattern uses something else (look-arounds, backrefs)."""
    parsed = parse_pattern(pattern, max_chars=500)
    if parsed is None:
        return None
    out: list[str] = []
    budget = [400]

    def emit(items: Any, depth: int) -> None:
        if depth > 20:
            raise _PatternTooHard
        for op, arg in items:
            budget[0] -= 1
            if budget[0] < 0:
                raise _PatternTooHard
            if op is _sre_c.LITERAL:
                out.append(chr(arg))
            elif op is _sre_c.NOT_LITERAL:
                out.append("a" if arg != ord("a") else "b")
            elif op is _sre_c.ANY:
                out.append("x")
            elif op is _sre_c.IN:
                out.append(_char_in(arg, rng))
            elif op in REPEATS:
                low, high, sub = arg
                high = low + max_repeat if high is _sre_c.MAXREPEAT else min(high, low + max_repeat)
                for _ in range(rng.randint(low, max(low, high))):
                    emit(sub, depth + 1)
            elif op is _sre_c.SUBPATTERN:
                emit(arg[-1], depth + 1)
            elif op is ATOMIC_GROUP:
                emit(arg, depth + 1)
            elif op is _sre_c.BRANCH:
                emit(rng.choice(arg[1]), depth + 1)
            elif op is _sre_c.AT:
                continue
            elif op is _sre_c.CATEGORY:
                out.append(_char_for_category(arg))
            else:
                raise _PatternTooHard

    try:
        emit(parsed, 0)
    except (_PatternTooHard, ValueError, OverflowError, RecursionError):
        return None
    text = "".join(out)
    return text if pattern_allows(pattern, text) else None


def _char_in(items: list[tuple[Any, Any]], rng: random.Random) -> str:
    if items and items[0][0] is _sre_c.NEGATE:
        excluded = items[1:]
        for candidate in "aZ0_-x9Q ":
            if not _in_set(candidate, excluded):
                return candidate
        return "\u00e9"
    op: Any
    arg: Any
    op, arg = items[rng.randrange(len(items))] if items else (_sre_c.LITERAL, ord("a"))
    if op is _sre_c.LITERAL:
        return chr(arg)
    if op is _sre_c.RANGE:
        low, high = arg
        return chr(rng.randint(low, min(high, low + 1000)))
    if op is _sre_c.CATEGORY:
        return _char_for_category(arg)
    return "a"


def _in_set(char: str, items: list[tuple[Any, Any]]) -> bool:
    code = ord(char)
    for op, arg in items:
        if op is _sre_c.LITERAL and arg == code:
            return True
        if op is _sre_c.RANGE and arg[0] <= code <= arg[1]:
            return True
        if op is _sre_c.CATEGORY and _char_for_category(arg) == char:
            return True
    return False


def _char_for_category(category: Any) -> str:
    name = str(category)
    if "NOT_DIGIT" in name:
        return "a"
    if "DIGIT" in name:
        return "7"
    if "NOT_SPACE" in name:
        return "a"
    if "SPACE" in name:
        return " "
    if "NOT_WORD" in name:
        return "-"
    if "WORD" in name:
        return "k"
    return "a"
