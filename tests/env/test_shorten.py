"""Observations cut to the length a model is shown: structurally for JSON, at a boundary for text."""

from __future__ import annotations

import json
import re
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.env.observation import Observation
from pipeline.env.shorten import (
    CUT_KEY,
    LEGACY_MARKER,
    MIN_CHARS,
    fit_json,
    fit_text,
    is_cut,
    items_before_cut,
    legacy_cut_length,
)

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=12) | st.dictionaries(st.text(max_size=12), inner, max_size=12),
    max_leaves=60,
)
LIMITS = st.integers(min_value=0, max_value=600)
CUT_NOTE = re.compile(r"\.\.\. \((JSON of )?\d+ (more )?(chars|items|keys)|\(\d+ more keys\)")


def hotels(count: int) -> dict[str, Any]:
    return {"error": "", "response": {"results": [
        {"id": f"htl-{n}", "name": f"Hotel number {n}", "stars": 3 + n % 3, "amenities": ["wifi", "pool", "spa"]}
        for n in range(count)], "total": count}}


# ---- properties ----------------------------------------------------------------------------------

@settings(max_examples=150, deadline=None)
@given(text=st.text(max_size=300), limit=LIMITS)
def test_text_that_fits_is_unchanged_and_nothing_is_longer_than_the_limit(text: str, limit: int) -> None:
    shown = fit_text(text, limit)

    assert len(shown) <= max(limit, MIN_CHARS)
    if len(text) <= max(limit, MIN_CHARS):
        assert shown == text


@settings(max_examples=150, deadline=None)
@given(value=JSON_VALUES, limit=LIMITS, indent=st.booleans())
def test_json_stays_json_fits_and_says_what_was_cut(value: Any, limit: int, indent: bool) -> None:
    text = json.dumps(value, indent=2 if indent else None)

    shown = fit_text(text, limit)

    assert len(shown) <= max(limit, MIN_CHARS)
    parsed = json.loads(shown)
    if shown == text:
        return
    if parsed != value:
        assert CUT_NOTE.search(shown), shown  # a cut is never silent


@settings(max_examples=100, deadline=None)
@given(words=st.lists(st.text(alphabet="abcdefgh", min_size=1, max_size=12), min_size=1, max_size=200),
       limit=st.integers(min_value=MIN_CHARS, max_value=400))
def test_plain_text_keeps_its_start_and_ends_with_how_much_was_cut(words: list[str], limit: int) -> None:
    text = "not json: " + " ".join(words)

    shown = fit_text(text, limit)

    if len(text) > limit:
        kept, count = re.fullmatch(r"(.*)\.\.\. \((\d+) more chars\)", shown, flags=re.DOTALL).groups()  # type: ignore[union-attr]
        assert text.startswith(kept) and len(kept) + int(count) == len(text)
        assert len(shown) <= limit


# ---- worked examples -----------------------------------------------------------------------------

def test_a_long_list_keeps_whole_first_records_and_counts_the_rest() -> None:
    value = hotels(20)

    shown = json.loads(fit_json(value, 600))

    results = shown["response"]["results"]
    kept = [item for item in results if isinstance(item, dict)]
    assert kept == value["response"]["results"][:len(kept)] and len(kept) >= 2  # whole, in order
    assert results[-1] == f"... ({20 - len(kept)} more items)"
    assert shown["response"]["total"] == 20 and shown["error"] == ""


def test_a_long_string_keeps_its_start_and_counts_the_rest() -> None:
    value = {"error": "", "response": {"html": "x" * 5000}}

    shown = json.loads(fit_json(value, 300))

    html = shown["response"]["html"]
    start, cut = re.fullmatch(r"(x+)\.\.\. \((\d+) more chars\)", html).groups()  # type: ignore[union-attr]
    assert len(start) + int(cut) == 5000
    assert len(fit_json(value, 300)) > 250  # widened back to use the room, not cut to a stub


def test_nested_objects_lose_keys_with_a_note_but_the_outer_object_keeps_all() -> None:
    value = {"error": "timeout " * 3, "response": {f"rate_{n}": n / 7 for n in range(200)}}

    shown = json.loads(fit_json(value, 200))

    assert set(shown) == {"error", "response"}
    assert shown["response"][CUT_KEY].endswith("more keys)")


def test_when_no_structure_fits_the_result_is_a_json_string_saying_so() -> None:
    value = {f"key number {n} " * 3: n for n in range(50)}

    shown = fit_json(value, 64)

    assert len(shown) <= 64 and json.loads(shown).startswith("... (JSON of ")


def test_the_model_sees_the_same_cut_as_the_shared_function() -> None:
    observation = Observation(response=hotels(30)["response"])

    assert observation.for_model(1024) == fit_json(observation.to_toolbench(), 1024)
    assert len(observation.for_model(1024)) <= 1024 and is_cut(observation.for_model(1024))
    assert observation.for_model(100_000) == json.dumps(observation.to_toolbench(), separators=(",", ":"))


def test_old_raw_cuts_are_recognised_with_their_length() -> None:
    whole = json.dumps(hotels(30), separators=(",", ":"))
    old = whole[:1024] + LEGACY_MARKER

    assert legacy_cut_length(old) == 1024
    assert legacy_cut_length(whole) is None
    assert legacy_cut_length(json.dumps("a string that ends ...(truncated)")) is None  # JSON: not a cut
    assert is_cut(old) and not is_cut(whole)


def test_a_huge_answer_is_cut_to_its_first_records() -> None:
    value = {"error": "", "response": {"items": [{"id": n, "tags": list(range(20))} for n in range(100_000)]}}

    shown = json.loads(fit_json(value, 1024))

    items = shown["response"]["items"]
    assert items[0]["id"] == 0 and items[-1].startswith("... (") and items[-1].endswith(" more items)")
    assert int(items[-1].split("(")[1].split()[0]) + len(items) - 1 == 100_000


def test_a_cut_list_still_tells_how_many_items_it_had() -> None:
    shown = json.loads(fit_json(hotels(20), 600))["response"]["results"]

    assert items_before_cut(shown) == 20
    assert items_before_cut([1, 2, 3]) == 3 and items_before_cut([]) == 0
