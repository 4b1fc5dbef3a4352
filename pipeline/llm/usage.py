"""Adding up model usage across invocations of a stage.

A stage's ``llm_usage`` figures are its own invocation's; a resumed run must add to what the
earlier invocations spent, not erase it. ``llm_usage_total`` in the manifest is that sum.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

USAGE_KEY = "llm_usage"
TOTAL_KEY = "llm_usage_total"
_UNKNOWN = None  # the cost of a reply from a model with no price: unknown, never $0


def _add_figure(name: str, earlier: Any, now: Any) -> Any:
    if name == "cost_usd":
        if earlier is _UNKNOWN or now is _UNKNOWN:
            return _UNKNOWN
        return round(float(earlier) + float(now), 6)
    if name == "unpriced_models":
        return sorted(set(earlier or []) | set(now or []))
    if isinstance(earlier, int | float) and isinstance(now, int | float) and not isinstance(now, bool):
        return earlier + now
    return now


def add_usage(earlier: Mapping[str, Mapping[str, Any]], now: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per role, the figures of ``earlier`` plus those of ``now`` (a role in one only is kept)."""
    total: dict[str, dict[str, Any]] = {role: dict(figures) for role, figures in earlier.items()}
    for role, figures in now.items():
        if role not in total:
            total[role] = dict(figures)
            continue
        merged = total[role]
        for name, value in figures.items():
            merged[name] = _add_figure(name, merged[name], value) if name in merged else value
    return dict(sorted(total.items()))


def with_usage_total(section: dict[str, Any], previous: Mapping[str, Any] | None) -> dict[str, Any]:
    """``section`` with ``llm_usage_total``: the earlier invocations' total plus this one's usage."""
    usage = section.get(USAGE_KEY)
    if not isinstance(usage, Mapping):
        return section
    earlier: Any = {}
    if previous is not None:
        earlier = previous.get(TOTAL_KEY, previous.get(USAGE_KEY)) or {}
    if not isinstance(earlier, Mapping):
        earlier = {}
    return {**section, TOTAL_KEY: add_usage(earlier, usage)}
