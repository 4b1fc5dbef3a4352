"""Fitting an observation into the length a model is shown, without breaking its JSON.

ToolBench cuts an observation's text at 1,024 characters, which leaves most long API answers as
broken JSON. Here a JSON observation is shortened structurally instead: long lists keep their
first items and end with a ``"... (N more items)"`` element, objects nested inside keep their
first keys and a ``"...": "(N more keys)"`` entry, long strings keep their start and end with
``"... (N more chars)"``, recursively, as little as needed for the compact JSON to fit. The
outermost object keeps all its keys (an observation's ``error`` and ``response``). Text that is
not JSON is cut at a line or word boundary near the limit and ends with ``"... (N more chars)"``.

The rules, which the property tests check:

* text that fits is returned unchanged (JSON is not even re-serialised);
* the result is at most ``max(max_chars, MIN_CHARS)`` characters;
* when the input is JSON the result is JSON, and says where and how much was cut. When no
  shortening of the structure fits (an outermost object with very many or very long keys), the
  result is a JSON string saying how long the JSON was.

:func:`fit_json` (and :func:`fit_text`, for text that may hold JSON) is the one place observations
are cut: the observation shown to the policy
(:meth:`pipeline.env.observation.Observation.for_model`), the judge's prompt, the simulator's
examples and the exports (which redo cuts made before this module, see :func:`legacy_cut_length`)
all go through it. :func:`is_cut` tells whether a shown observation was cut, for quality figures.
"""

from __future__ import annotations

import re
from itertools import islice
from typing import Any

from pipeline.io import dumps, loads

MIN_CHARS = 64  # the settings' floor for observation lengths; a note of what was cut needs room
LEGACY_MARKER = "...(truncated)"  # what cut observations ended with before structural cuts
CUT_KEY = "..."
_MORE_ITEMS = re.compile(r"\.\.\. \((\d+) more items\)")

# (items, chars) from mild to drastic: how many list items / nested keys, and how many characters
# of each string, are kept. The first level that fits is then widened again by bisection.
_LEVELS: tuple[tuple[int, int], ...] = (
    (32, 512), (16, 256), (8, 160), (5, 100), (3, 64), (2, 40), (1, 24), (0, 12), (0, 0),
)
_BOUNDARY_SHARE = 0.8  # plain text is cut at a line or word boundary in the last 20 % of the room


def fit_text(text: str, max_chars: int) -> str:
    """``text`` cut to ``max_chars`` (at least :data:`MIN_CHARS`): structurally when it is JSON."""
    limit = max(max_chars, MIN_CHARS)
    if len(text) <= limit:
        return text
    try:
        value = loads(text)
    except (ValueError, RecursionError):
        return _cut_plain(text, limit)
    return fit_json(value, limit)


def fit_json(value: Any, max_chars: int) -> str:
    """``value`` as compact JSON of at most ``max_chars`` characters (at least :data:`MIN_CHARS`),
    shortened structurally as little as needed."""
    limit = max(max_chars, MIN_CHARS)
    whole = _dump(value)
    if len(whole) <= limit:
        return whole
    # More than limit/2 items (each at least a character and a comma) or limit characters can
    # never fit: the widening looks no further.
    upper = (limit // 2, limit)
    for items, chars in _LEVELS:
        candidate = _attempt(value, items, chars, limit)
        if candidate is not None:
            return _widen(value, limit, (items, chars), upper, candidate)
        upper = (items, chars)
    return _dump(f"... (JSON of {len(whole)} chars cut)")


def legacy_cut_length(text: str) -> int | None:
    """N when ``text`` is an old raw cut (the first N characters of the JSON, then
    ``...(truncated)``, no longer JSON), else None. Redo such a cut from the whole observation
    at the same length."""
    if not text.endswith(LEGACY_MARKER):
        return None
    try:
        loads(text)
    except (ValueError, RecursionError):
        return len(text) - len(LEGACY_MARKER)
    return None


def items_before_cut(items: list[Any]) -> int:
    """How many items a list shown to a model had before it was cut: its length, or the kept
    items plus the count in a trailing ``"... (N more items)"`` note. For readers of shown
    observations that count results (the note is not a result)."""
    if items and isinstance(items[-1], str):
        match = _MORE_ITEMS.fullmatch(items[-1])
        if match:
            return len(items) - 1 + int(match.group(1))
    return len(items)


def is_cut(text: str) -> bool:
    """Whether an observation text says it was shortened (either way it was ever cut)."""
    return text.endswith(LEGACY_MARKER) or " more chars)" in text or " more items)" in text or \
        f'"{CUT_KEY}":"(' in text


# --- JSON ----------------------------------------------------------------------------------------


def _dump(value: Any) -> str:
    return dumps(value, any_object=True).decode("utf-8")


class _TooLong(Exception):
    """A shortening already writes more than the limit: stop walking the value."""


class _Budget:
    """Characters a shortening may still write, counted from below (quotes, keys and one
    character per scalar; commas and escapes not), so running out proves it cannot fit. It
    bounds each attempt's walk by the limit, not by the size of the answer."""

    def __init__(self, limit: int) -> None:
        self.left = limit

    def spend(self, chars: int) -> None:
        self.left -= chars
        if self.left < 0:
            raise _TooLong


def _attempt(value: Any, items: int, chars: int, limit: int) -> str | None:
    """The JSON of ``value`` shortened to ``items`` and ``chars``, or None when it does not fit."""
    try:
        candidate = _dump(_shrink(value, items, chars, _Budget(limit), top=True))
    except _TooLong:
        return None
    return candidate if len(candidate) <= limit else None


def _shrink(value: Any, items: int, chars: int, budget: _Budget, *, top: bool = False) -> Any:
    if isinstance(value, str):
        cut = f"{value[:chars]}... ({len(value) - chars} more chars)"
        shown = cut if len(cut) < len(value) else value
        budget.spend(len(shown) + 2)
        return shown
    if isinstance(value, list):
        budget.spend(2)
        kept = [_shrink(item, items, chars, budget) for item in value[:items]]
        if len(value) > items:
            note = f"... ({len(value) - items} more items)"
            budget.spend(len(note) + 2)
            kept.append(note)
        return kept
    if isinstance(value, dict):
        budget.spend(2)
        keys = list(value) if top else list(islice(value, items))
        shrunk = {}
        for key in keys:
            budget.spend(len(key) + 3)
            shrunk[key] = _shrink(value[key], items, chars, budget)
        if len(value) > len(keys):
            note_key = CUT_KEY
            while note_key in shrunk:  # the answer has a "..." key of its own: never overwrite it
                note_key += "."
            note = f"({len(value) - len(keys)} more keys)"
            budget.spend(len(note_key) + len(note) + 5)
            shrunk[note_key] = note
        return shrunk
    budget.spend(1)
    return value


def _widen(value: Any, limit: int, fits: tuple[int, int], upper: tuple[int, int], text: str) -> str:
    """Give back as much as still fits: more items first (whole records read better than longer
    strings), then more characters per string; bisection between the level that fit and the one
    before it."""
    items, chars = fits

    low, high = items, max(items, upper[0])
    while low < high:
        middle = (low + high + 1) // 2
        candidate = _attempt(value, middle, chars, limit)
        if candidate is None:
            high = middle - 1
        else:
            low, text = middle, candidate
    items = low
    low, high = chars, max(chars, upper[1])
    while low < high:
        middle = (low + high + 1) // 2
        candidate = _attempt(value, items, middle, limit)
        if candidate is None:
            high = middle - 1
        else:
            low, text = middle, candidate
    return text


# --- plain text ----------------------------------------------------------------------------------


def _cut_plain(text: str, limit: int) -> str:
    """The start of ``text`` and ``... (N more chars)``, at most ``limit`` characters, cut after
    a line break or a space when one is near the end of the room."""
    room = max(0, limit - len(f"... ({len(text)} more chars)"))
    keep = room
    boundary = max(text.rfind("\n", 0, room), text.rfind(" ", 0, room))
    if boundary >= room * _BOUNDARY_SHARE:
        keep = boundary + 1
    return f"{text[:keep]}... ({len(text) - keep} more chars)"
