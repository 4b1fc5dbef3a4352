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

from typing import Any

from pipeline.io import dumps, loads

MIN_CHARS = 64  # the settings' floor for observation lengths; a note of what was cut needs room
LEGACY_MARKER = "...(truncated)"  # what cut observations ended with before structural cuts
CUT_KEY = "..."

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
    most_items, most_chars = _extent(value)
    upper = (most_items, most_chars)
    for items, chars in _LEVELS:
        candidate = _dump(_shrink(value, items, chars, top=True))
        if len(candidate) <= limit:
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


def is_cut(text: str) -> bool:
    """Whether an observation text says it was shortened (either way it was ever cut)."""
    return text.endswith(LEGACY_MARKER) or " more chars)" in text or " more items)" in text or \
        f'"{CUT_KEY}":"(' in text


# --- JSON ----------------------------------------------------------------------------------------


def _dump(value: Any) -> str:
    return dumps(value, any_object=True).decode("utf-8")


def _extent(value: Any) -> tuple[int, int]:
    """The most items of any list or object, and the most characters of any string, in ``value``."""
    most_items = most_chars = 0
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            most_chars = max(most_chars, len(item))
        elif isinstance(item, dict):
            most_items = max(most_items, len(item))
            stack.extend(item.values())
        elif isinstance(item, list):
            most_items = max(most_items, len(item))
            stack.extend(item)
    return most_items, most_chars


def _shrink(value: Any, items: int, chars: int, *, top: bool = False) -> Any:
    if isinstance(value, str):
        cut = f"{value[:chars]}... ({len(value) - chars} more chars)"
        return cut if len(cut) < len(value) else value
    if isinstance(value, list):
        kept = [_shrink(item, items, chars) for item in value[:items]]
        if len(value) > items:
            kept.append(f"... ({len(value) - items} more items)")
        return kept
    if isinstance(value, dict):
        keys = list(value) if top else list(value)[:items]
        shrunk = {key: _shrink(value[key], items, chars) for key in keys}
        if len(value) > len(keys) and CUT_KEY not in shrunk:
            shrunk[CUT_KEY] = f"({len(value) - len(keys)} more keys)"
        return shrunk
    return value


def _widen(value: Any, limit: int, fits: tuple[int, int], upper: tuple[int, int], text: str) -> str:
    """Give back as much as still fits: more items first (whole records read better than longer
    strings), then more characters per string; bisection between the level that fit and the one
    before it."""
    items, chars = fits

    def attempt(trial_items: int, trial_chars: int) -> str | None:
        candidate = _dump(_shrink(value, trial_items, trial_chars, top=True))
        return candidate if len(candidate) <= limit else None

    low, high = items, max(items, upper[0])
    while low < high:
        middle = (low + high + 1) // 2
        candidate = attempt(middle, chars)
        if candidate is None:
            high = middle - 1
        else:
            low, text = middle, candidate
    items = low
    low, high = chars, max(chars, upper[1])
    while low < high:
        middle = (low + high + 1) // 2
        candidate = attempt(items, middle)
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
