"""What one simulated response may cost: node and depth budgets, and a bounded copy of a JSON value."""

from __future__ import annotations

import math
from typing import Any

from pipeline.schema_values import is_number

MAX_NODES = 2000
MAX_DEPTH = 16
HARD_NODES_FACTOR = 2  # past the budget, required-only values may spend this much more
MAX_PROPERTIES = 200
MAX_ENUM_SCAN = 500
MAX_LIST = 50


def json_copy(value: Any, budget: list[int], depth: int) -> Any:
    """A bounded copy of a JSON value (examples and arguments are never mutated in place)."""
    budget[0] -= 1
    if budget[0] < 0 or depth > MAX_DEPTH:
        return None
    if isinstance(value, dict):
        return {str(k): json_copy(v, budget, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_copy(v, budget, depth + 1) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def as_int(value: Any, fallback: Any) -> Any:
    if is_number(value) and math.isfinite(value):
        return int(value)
    return fallback
