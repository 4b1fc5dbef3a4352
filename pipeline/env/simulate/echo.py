"""Arguments that reappear in the response: a field named like an argument gets its value, a search
argument fills names and titles, a page size shortens lists and min/max arguments bound numbers.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pipeline.env.simulate.names import snake
from pipeline.schema_values import MISSING, is_number

_QUERY_ARGS = ("q", "query", "search", "keyword", "keywords", "term", "search_term", "search_query")
QUERY_TARGETS = ("name", "title")
_LIMIT_ARGS = ("limit", "per_page", "page_size", "pagesize", "max_results", "num_results", "size",
               "top", "count", "n")


_CENTRE_ARGS = frozenset({"lat", "lon", "lng", "latitude", "longitude"})
_BOUND_ARG = re.compile(r"^(?:(min|max|minimum|maximum)_(.+)|(.+)_(min|max))$")


@dataclass(frozen=True)
class Scope:
    hops: int | None  # object-property hops from the root; None = too deep to echo into
    in_array: bool = False
    index: int = 0
    in_record: bool = False  # a field (or item of a field) of a record object


class Echo:
    def __init__(self, arguments: Any) -> None:
        args = arguments if isinstance(arguments, dict) else {}
        self.by_name: dict[str, Any] = {}
        for key, value in args.items():
            if isinstance(key, str) and value is not None and value != "":
                self.by_name.setdefault(snake(key), value)
        self.query = next((v.strip() for k in _QUERY_ARGS
                           if isinstance(v := self.by_name.get(k), str) and v.strip()), None)
        id_args = [v for k, v in self.by_name.items() if k.endswith("_id") and is_scalar(v)]
        self.single_id = id_args[0] if len(id_args) == 1 else MISSING
        self.limit = next((v for k in _LIMIT_ARGS if isinstance(v := self.by_name.get(k), int)
                           and not isinstance(v, bool) and v >= 0), None)
        # min_price=5, max_price=20 → the "price" numbers of the records fall in [5, 20]
        self.bounds: dict[frozenset[str], list[float | None]] = {}
        for key, value in self.by_name.items():
            match = _BOUND_ARG.match(key) if key not in _LIMIT_ARGS else None
            if match is None or not is_number(value) or not math.isfinite(value):
                continue
            which = match.group(1) or match.group(4)
            subject = frozenset(t for t in (match.group(2) or match.group(3)).split("_") if t)
            if subject:
                slot = self.bounds.setdefault(subject, [None, None])
                slot[0 if which.startswith("min") else 1] = value

    def preferred_range(
        self, tokens: Sequence[str], scope: Scope, low: float, high: float
    ) -> tuple[float, float]:
        """The plausible range ``[low, high]`` narrowed by the call's min_/max_ arguments (the
        schema's own bounds are applied after, so they still win)."""
        if not scope.in_record or not self.bounds:
            return low, high
        words = set(tokens)
        for subject, (floor, ceiling) in self.bounds.items():
            if not subject <= words:
                continue
            span = max(high - low, 1.0)
            if floor is not None:
                low = max(low, floor)
            if ceiling is not None:
                high = min(high, ceiling)
            if low > high:  # the arguments lie outside the usual range: follow them
                if floor is not None and ceiling is not None:
                    low, high = min(floor, ceiling), max(floor, ceiling)
                elif floor is not None:
                    low, high = floor, floor + span
                elif ceiling is not None:
                    low, high = ceiling - span, ceiling
        return low, high

    def candidates(self, field: str, scope: Scope) -> list[Any]:
        if scope.hops is None or scope.hops > 1:
            return []
        key = snake(field)
        found: list[Any] = []
        # ids tell a list's records apart, and a search centre is not where each result is
        if key in self.by_name and not (scope.in_array and (key in _CENTRE_ARGS or key == "id")):
            found.append(self.by_name[key])
        if key == "id" and scope.hops == 0 and not scope.in_array and self.single_id is not MISSING:
            found.append(self.single_id)
        return found


def is_scalar(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool))
