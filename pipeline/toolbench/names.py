"""Tool and API names as ToolBench's files and our catalog both spell them."""

from __future__ import annotations

import re
from typing import Any

_NOT_ALPHANUMERIC = re.compile(r"[^0-9a-z]+")


def name_key(name: Any) -> str:
    """A tool or API name compared case-, space- and punctuation-insensitively."""
    return _NOT_ALPHANUMERIC.sub("", str(name or "").lower())
