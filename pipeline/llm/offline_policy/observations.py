"""Values from earlier successful responses, for the next call's arguments (the final answer's
wording is :mod:`pipeline.llm.offline_policy.phrasing`)."""

from __future__ import annotations

from typing import Any

from pipeline.llm.offline_policy.conversation import Call
from pipeline.llm.offline_policy.words import split_name, stem


def walk_leaves(
    value: Any, path: tuple[str, ...], out: list[tuple[tuple[str, ...], Any]], depth: int = 0
) -> None:
    if depth > 6 or len(out) > 2000:
        return
    if isinstance(value, dict):
        for k, v in value.items():
            walk_leaves(v, path + (str(k).lower(),), out, depth + 1)
    elif isinstance(value, list):
        for item in value[:10]:
            walk_leaves(item, path + ("[]",), out, depth + 1)
    else:
        out.append((path, value))


_ALIASES = {
    "lat": {"lat", "latitude"},
    "lon": {"lon", "lng", "long", "longitude"},
    "latitude": {"lat", "latitude"},
    "longitude": {"lon", "lng", "longitude"},
}


def observed_values(param: str, calls: list[Call]) -> list[Any]:
    """Values for ``param`` from earlier successful responses, most recent call first."""
    pname = param.lower()
    parts = split_name(param)
    keys = _ALIASES.get(pname, {pname})
    owner = None  # "city_id" → key "id" under something about "city"
    if len(parts) >= 2 and parts[-1] in ("id", "code", "symbol", "key", "slug"):
        owner = [stem(p) for p in parts[:-1]]
    found: list[Any] = []
    for call in reversed(calls):
        if not call.ok or call.response is None:
            continue
        leaves: list[tuple[tuple[str, ...], Any]] = []
        walk_leaves(call.response, (), leaves)
        api_name = call.name.partition("_for_")[0]
        fn_words = {stem(w) for w in split_name(api_name)}
        # standardized names run words together ("searchhotels"): "hotel" owns its "id" too
        compact = api_name.lower().replace("_", "")
        exact, owned = [], []
        for path, value in leaves:
            if value is None or isinstance(value, bool) or not path:
                continue
            key = path[-1]
            if key in keys:
                exact.append(value)
            elif owner and key == parts[-1]:
                context = {stem(w) for p in path[:-1] for w in split_name(p)} | fn_words
                if (all(o in context for o in owner) or (owner and owner[-1] in context)
                        or all(len(o) >= 3 and o in compact for o in owner)):
                    owned.append(value)
        for v in exact + owned:
            if v not in found:
                found.append(v)
    return found
