"""What a sandbox tool handler receives and returns, and the seeded randomness it draws from.

Handlers are plain synchronous functions over in-memory data: the server has already checked
the request against the tool's OpenAPI document, so a handler only deals with typed arguments
and the rules of its own domain.
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class Call:
    """One validated request: typed parameters (defaults applied) and the parsed JSON body."""

    params: Mapping[str, Any]
    body: Any = None
    path: str = "/"
    query: Mapping[str, str] = field(default_factory=dict)

    def get(self, name: str, default: Any = None) -> Any:
        return self.params.get(name, default)

    def __getitem__(self, name: str) -> Any:
        return self.params[name]


@dataclass(frozen=True)
class Reply:
    """A response other than a plain 200 with a JSON body (created resources, extra headers)."""

    body: Any
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)


Handler = Callable[[Call], Any]
"""Returns a JSON-serialisable body (sent as 200) or a :class:`Reply`; raises ``ApiError``."""


class SandboxTool(Protocol):
    def handlers(self) -> Mapping[str, Handler]:
        """Map every operationId of the tool's spec to the function that answers it."""
        ...


def seeded(seed: int, *parts: object) -> random.Random:
    """An independent random stream for one piece of data.

    Keying each stream by what it generates (``seeded(seed, "hotels", city_id)``) keeps data
    stable when another tool or another city draws more or fewer numbers, and string seeds are
    hashed with SHA-512 by :mod:`random`, so the values do not depend on PYTHONHASHSEED.
    """
    return random.Random(":".join([str(seed), *map(str, parts)]))


class Counter:
    """Sequential ids for resources created at run time (``HR-100001``, ``HR-100002`` ...)."""

    def __init__(self, prefix: str, start: int, width: int = 6) -> None:
        self._prefix = prefix
        self._next = start
        self._width = width

    def next_id(self) -> str:
        value = f"{self._prefix}{self._next:0{self._width}d}"
        self._next += 1
        return value


def fold(text: str) -> str:
    """Case- and accent-insensitive form for matching user text ('sao paulo' ~ 'São Paulo')."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold().strip()
