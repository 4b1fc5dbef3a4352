"""Slicing result lists into pages the way the sandbox specs declare them.

Two styles exist because real APIs use both and the training data should show both:
``page``/``per_page`` and ``limit``/``offset``. Either way the envelope carries ``total`` and
``next``: a relative URL (path and query) of the following page, or null on the last one, so a
client can follow it without knowing the paging scheme.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from .core import Call


def page_of(items: Sequence[Any], call: Call, *, key: str = "results") -> dict[str, Any]:
    """Page ``items`` by the call's ``page`` and ``per_page`` (1-based pages)."""
    page = int(call.get("page", 1))
    per_page = int(call.get("per_page", 10))
    start = (page - 1) * per_page
    has_next = start + per_page < len(items)
    return {
        key: list(items[start : start + per_page]),
        "page": page,
        "per_page": per_page,
        "total": len(items),
        "next": _link(call, page=page + 1) if has_next else None,
    }


def slice_of(items: Sequence[Any], call: Call, *, key: str = "results") -> dict[str, Any]:
    """Slice ``items`` by the call's ``limit`` and ``offset``."""
    limit = int(call.get("limit", 10))
    offset = int(call.get("offset", 0))
    has_next = offset + limit < len(items)
    return {
        key: list(items[offset : offset + limit]),
        "limit": limit,
        "offset": offset,
        "total": len(items),
        "next": _link(call, offset=offset + limit) if has_next else None,
    }


def _link(call: Call, **changes: int) -> str:
    query = {**call.query, **{name: str(value) for name, value in changes.items()}}
    return f"{call.path}?{urlencode(query)}"
