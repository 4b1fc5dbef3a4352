"""Plausibility across sibling fields: ends after starts, durations that agree, totals at least the
items listed."""

from __future__ import annotations

import datetime as _dt
import random
from typing import Any, cast

from pipeline.env.simulate.plausible import format_datetime
from pipeline.schema_values import fits_schema

_PAIRS = (("start", "end"), ("starts", "ends"), ("start_date", "end_date"), ("start_time", "end_time"),
          ("check_in", "check_out"), ("departure_time", "arrival_time"), ("departure", "arrival"),
          ("valid_from", "valid_until"), ("created_at", "updated_at"), ("opens", "closes"))


_TOTAL_FIELDS = ("total", "total_results", "total_count", "count")


def make_consistent(
    out: dict[str, Any], properties: dict[str, Any], echoed: set[str], rng: random.Random
) -> None:
    """Small plausibility fixes across sibling fields: ends after starts, totals ≥ listed items."""
    for first, second in _PAIRS:
        if first not in out or second not in out:
            continue
        if first in echoed and second in echoed:
            _duration_from(out, properties, first, second, echoed)
        else:
            _order_pair(out, properties, first, second, echoed, rng)
    lists = [v for k, v in out.items() if isinstance(v, list) and k not in echoed]
    for key in _TOTAL_FIELDS:
        value = out.get(key)
        if key in echoed or not isinstance(value, int) or isinstance(value, bool) or not lists:
            continue
        given_offset = out.get("offset")
        offset = given_offset if isinstance(given_offset, int) else 0
        floor = max(len(items) for items in lists) + max(offset, 0)
        if value < floor and fits_schema(floor, properties.get(key, {})):
            out[key] = floor


def _order_pair(out: dict[str, Any], properties: dict[str, Any], first: str, second: str,
                echoed: set[str], rng: random.Random) -> None:
    """Make ``second`` come after ``first`` (by ``duration_minutes`` when the object has one);
    an echoed argument stays as it is and the other field moves."""
    a, b = out[first], out[second]
    if not isinstance(a, str) or not isinstance(b, str):
        return
    parsed_a, parsed_b = _parse_moment(a), _parse_moment(b)
    if parsed_a is None or parsed_b is None or type(parsed_a) is not type(parsed_b):
        return
    minutes = out.get("duration_minutes")
    exact = isinstance(parsed_a, _dt.datetime) and isinstance(minutes, int) \
        and not isinstance(minutes, bool) and 0 < minutes < 100_000 and first != "created_at"
    if not exact and parsed_b > parsed_a:
        return
    if exact:
        delta = _dt.timedelta(minutes=cast(int, minutes))
    elif isinstance(parsed_a, _dt.datetime):
        delta = _dt.timedelta(minutes=rng.randrange(2, 17) * 15)
    else:
        delta = _dt.timedelta(days=rng.randrange(1, 8))
    if second in echoed:
        field, value = first, _render_moment(parsed_b - delta, a)
    else:
        field, value = second, _render_moment(parsed_a + delta, b)
    if fits_schema(value, properties.get(field, {})):
        out[field] = value


def _duration_from(out: dict[str, Any], properties: dict[str, Any], first: str, second: str,
                   echoed: set[str]) -> None:
    """Both ends came from the call: the generated ``duration_minutes`` follows them."""
    if "duration_minutes" not in out or "duration_minutes" in echoed:
        return
    a, b = out[first], out[second]
    start = _parse_moment(a) if isinstance(a, str) else None
    end = _parse_moment(b) if isinstance(b, str) else None
    if isinstance(start, _dt.datetime) and isinstance(end, _dt.datetime) and end > start:
        minutes = int((end - start).total_seconds() // 60)
        if fits_schema(minutes, properties.get("duration_minutes", {})):
            out["duration_minutes"] = minutes


def _parse_moment(text: str) -> _dt.date | _dt.datetime | None:
    try:
        if len(text) == 10:
            return _dt.date.fromisoformat(text)
        if "T" in text:
            moment = _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
            return moment if moment.tzinfo is not None else None
    except ValueError:
        return None
    return None


def _render_moment(moment: _dt.date | _dt.datetime, like: str) -> str:
    if isinstance(moment, _dt.datetime):
        if like.endswith("Z"):
            return format_datetime(moment)
        return moment.isoformat()
    return moment.isoformat()
