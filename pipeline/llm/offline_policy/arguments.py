"""Filling a function's arguments, per parameter best source first.

An explicit mention in the query ("days 30"), a field of an earlier successful response whose
name matches the parameter, query heuristics (quoted strings, dates, numbers with units,
capitalised names, IATA / currency codes, enum members), then ``example_value`` / enum /
``default``, then a small value bank by parameter name. Each value carries the quality of its
source; a required parameter with no source makes the function not callable now.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pipeline.llm.offline_policy.conversation import Call, Function
from pipeline.llm.offline_policy.observations import observed_values
from pipeline.llm.offline_policy.query_facts import QueryFacts
from pipeline.llm.offline_policy.values import fit_to_param, param_kind
from pipeline.llm.offline_policy.words import content_text, split_name

CURRENCIES = frozenset(
    [
        "USD", "EUR", "GBP", "JPY", "AUD", "CAD", "CHF", "CNY", "SGD", "AED", "MXN", "BRL", "EGP", "INR",
        "KRW", "TRY", "SEK", "NOK", "HKD", "ZAR", "NZD", "DKK", "PLN",
    ]
)
_BANK: tuple[tuple[tuple[str, ...], Any], ...] = (
    (("city", "town", "location", "place"), ["Lisbon", "Paris", "Tokyo", "Toronto"]),
    (("country",), ["PT", "FR", "JP", "US"]),
    (("date", "day", "checkin", "check_in", "departure"), ["2025-06-02", "2025-06-09", "2025-07-01"]),
    (("checkout", "check_out", "return"), ["2025-06-05", "2025-06-12"]),
    (("lang", "language", "locale"), ["en", "es", "fr"]),
    (("email",), ["alex.morgan@example.com"]),
    (("limit", "count", "size", "number", "num", "adults", "guests", "people", "party", "quantity", "qty",
      "days"), [1, 2, 3]),
    (("page",), [1, 2]),
    (("offset",), [0]),
    (("query", "keyword", "keywords", "term", "search", "text", "q"), None),  # from query words
)


# quality of an argument's source
Q_QUERY, Q_OBS, Q_DOC, Q_BANK, Q_NONE = 4, 3, 2, 1, 0


def guess_from_query(
    param: str, spec: dict[str, Any], facts: QueryFacts, used: set[str], anchor: int = 0
) -> Any:
    """Guess ``param`` from the query text by its name, type and enum."""
    words = set(split_name(param))
    pname = param.lower()
    desc = content_text(spec.get("description")).lower()
    kind = param_kind(spec)
    enum = spec.get("enum") if isinstance(spec.get("enum"), list) else None

    def fresh(values: list[Any]) -> Any:
        for v in values:
            if str(v) not in used:
                return v
        return None

    if enum:
        hits = []
        for member in enum:
            m = re.search(
                rf"(?<![\w-]){re.escape(str(member))}(?![\w-])",
                facts.query,
                re.IGNORECASE if not str(member).isupper() else 0,
            )
            if m and len(str(member)) > 1:
                hits.append((m.start(), member))
        hits.sort(key=lambda h: h[0])
        return fresh([h[1] for h in hits])
    if "date" in words or spec.get("format") in ("date", "date-time") or "yyyy-mm-dd" in desc:
        return fresh(facts.dates)
    if "email" in words or spec.get("format") == "email":
        return fresh(facts.emails)
    if kind in ("integer", "number"):
        # a number next to the parameter's name or a unit-like word from it: "3 days", "for 2 adults"
        for word in [pname] + sorted(words, key=len, reverse=True):
            if len(word) < 3:
                continue
            m = re.search(
                rf"(-?\d+(?:\.\d+)?)\s+{re.escape(word)}|{re.escape(word)}\s*(?:of|:|=)?\s*(-?\d+(?:\.\d+)?)",
                facts.lower,
            )
            if m:
                return fit_to_param(m.group(1) or m.group(2), spec)
        return None
    if kind != "string":
        return None
    if words & {"iata", "airport", "origin", "destination"} or (
        pname in ("from", "to") and "airport" in desc
    ):
        return fresh([c for c in facts.codes3 if c not in CURRENCIES])
    if words & {"currency", "base", "symbols"}:
        return fresh([c for c in facts.codes3 if c in CURRENCIES])
    if words & {"symbol", "ticker"}:
        return fresh([u for u in facts.upper if u not in CURRENCIES and len(u) >= 2])
    if words & {
        "city",
        "town",
        "location",
        "place",
        "name",
        "title",
        "team",
        "person",
        "hotel",
        "restaurant",
        "movie",
        "destination",
        "address",
    } or pname in ("q", "query", "keyword", "search", "term"):
        quoted = [q for q, at in facts.quoted_at if at >= anchor]
        value = fresh(quoted) if pname in ("q", "query", "keyword", "search", "term", "text") else None
        return value if value is not None else fresh(facts.names)
    if words & {"text", "message", "body", "content", "subject", "note", "description"}:
        return fresh(facts.quoted)
    return None


def banked_value(param: str, spec: dict[str, Any], alt: int) -> Any:
    words = set(split_name(param)) | {param.lower()}
    kind = param_kind(spec)
    for keys, values in _BANK:
        if words & set(keys) and values is not None:
            candidates = [v for v in values if fit_to_param(v, spec) is not None]
            if candidates:
                return fit_to_param(candidates[alt % len(candidates)], spec)
    if kind == "boolean":
        return False
    return None


@dataclass
class Fill:
    arguments: dict[str, Any]
    quality: int  # the worst quality over the required parameters (Q_QUERY if none)
    missing: list[str]


def documented_values(spec: dict[str, Any]) -> list[Any]:
    values = []
    # ToolBench's example_value, OpenAPI's example, JSON Schema's examples (what servers are
    # sent: pipeline.tool_schema), then the default
    for key in ("example_value", "example"):
        v = spec.get(key)
        if v not in (None, "") and fit_to_param(v, spec) is not None:
            values.append(fit_to_param(v, spec))
    if isinstance(spec.get("examples"), list):
        values += [fit_to_param(v, spec) for v in spec["examples"]
                   if v not in (None, "") and fit_to_param(v, spec) is not None]
    v = spec.get("default")
    if v not in (None, "") and fit_to_param(v, spec) is not None:
        values.append(fit_to_param(v, spec))
    if isinstance(spec.get("enum"), list) and spec["enum"]:
        values += list(spec["enum"])
    out = []
    for v in values:
        if v not in out:
            out.append(v)
    return out


def fill_param(
    param: str,
    spec: dict[str, Any],
    facts: QueryFacts,
    calls: list[Call],
    used: set[str],
    alt: int = 0,
    anchor: int = 0,
    siblings: Any = (),
) -> tuple[Any, int]:
    """(value, quality); ``alt`` > 0 asks for an alternative value (the alt-th best)."""
    options: list[tuple[Any, int]] = []
    explicit = facts.explicit(param, spec, anchor, siblings)
    if explicit is not None:
        options.append((explicit, Q_QUERY))
    for v in observed_values(param, calls)[:5]:
        c = fit_to_param(v, spec)
        if c is not None:
            options.append((c, Q_OBS))
    guess = guess_from_query(param, spec, facts, used, anchor)
    if guess is not None:
        options.append((guess, Q_QUERY))
    options += [(v, Q_DOC) for v in documented_values(spec)]
    banked = banked_value(param, spec, 0)
    if banked is not None:
        options += [(banked, Q_BANK), (banked_value(param, spec, 1), Q_BANK)]
    seen: list[tuple[Any, int]] = []
    for v, q in options:
        if v is not None and all(v != s for s, _ in seen):
            seen.append((v, q))
    if not seen:
        return None, Q_NONE
    return seen[min(alt, len(seen) - 1)] if alt < len(seen) else (None, Q_NONE)


def fill_arguments(
    fn: Function,
    facts: QueryFacts,
    calls: list[Call],
    alts: dict[str, int] | None = None,
    extra: set[str] | None = None,
) -> Fill:
    alts = alts or {}
    args: dict[str, Any] = {}
    quality = Q_QUERY
    missing: list[str] = []
    used: set[str] = set()
    for param in fn.required:
        spec = fn.properties.get(param, {})
        value, q = fill_param(param, spec, facts, calls, used, alts.get(param, 0), fn.anchor, fn.properties)
        if value is None:
            missing.append(param)
            quality = Q_NONE
            continue
        args[param] = value
        used.add(str(value))
        quality = min(quality, q)
    for param, spec in fn.properties.items():
        if param in args:
            continue
        if extra and param in extra:
            value, q = fill_param(
                param, spec, facts, calls, used, alts.get(param, 0), fn.anchor, fn.properties
            )
            if value is not None:
                args[param] = value
                used.add(str(value))
            continue
        # optional parameters only when the query (or a chained observation) asks for them
        value = facts.explicit(param, spec, fn.anchor, fn.properties, fn.end)
        if value is None:
            guess = guess_from_query(param, spec, facts, used, fn.anchor)
            value = (
                guess if guess is not None and (spec.get("enum") or param.lower() in ("q", "query")) else None
            )
        if value is not None:
            args[param] = value
            used.add(str(value))
    return Fill(args, quality, missing)
