"""Stable, unique, file-system-safe identifiers for tools and APIs."""

from __future__ import annotations

import hashlib
import re
import unicodedata

_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def slugify(text: str, max_length: int = 64) -> str:
    """``"Weather Forecast (v2)"`` → ``"weather_forecast_v2"``, ``"getPetByID"`` →
    ``"get_pet_by_id"``: ASCII, lower case, ``[a-z0-9_]``."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    ascii_text = _CAMEL_BOUNDARY.sub("_", ascii_text)
    slug = _NON_ALNUM.sub("_", ascii_text.lower()).strip("_")
    return slug[:max_length].rstrip("_")


def standardize(name: str) -> str:
    """ToolBench's standardized name: non-alphanumerics to ``_``, collapsed, lower case,
    no leading/trailing ``_``, ``get_`` before a leading digit."""
    text = re.sub(r"[^A-Za-z0-9_]", "_", name)
    text = re.sub(r"_+", "_", text).lower().strip("_")
    if text and text[0].isdigit():
        text = "get_" + text
    return text


def short_hash(text: str, length: int = 6) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:length]


class IdRegistry:
    """Hands out tool ids; the same inputs in the same order always get the same ids.

    The id is the tool's slug; a later tool with the same slug gets a suffix hashed from its
    source, so it does not depend on how many others came before it.
    """

    def __init__(self) -> None:
        self._used: set[str] = set()

    def tool_id(self, title: str, source: str) -> str:
        base = base_tool_id(title)
        candidate = base
        if candidate in self._used:
            candidate = f"{base}_{short_hash(source + '#' + title)}"
        counter = 2
        while candidate in self._used:
            candidate = f"{base}_{short_hash(source + '#' + title)}_{counter}"
            counter += 1
        self._used.add(candidate)
        return candidate


def base_tool_id(title: str) -> str:
    """The id a tool gets unless another tool already took it."""
    return slugify(title, 56) or "tool"


def api_ids(names: list[str]) -> list[str]:
    """Ids for a tool's APIs, unique within the tool."""
    used: set[str] = set()
    result = []
    for name in names:
        base = slugify(name, 60) or "api"
        candidate, counter = base, 2
        while candidate in used:
            candidate = f"{base}_{counter}"
            counter += 1
        used.add(candidate)
        result.append(candidate)
    return result
