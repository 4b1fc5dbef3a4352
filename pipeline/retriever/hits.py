"""What a retriever search answers: ranked APIs, best first."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from pydantic import BaseModel, ConfigDict


class Hit(BaseModel):
    """One retrieved API; the CLI's ``--json``, the HTTP service and Python callers all return these."""

    model_config = ConfigDict(frozen=True)

    tool_name: str
    api_name: str
    category: str
    score: float
    tool_id: str
    api_id: str


class SearchResults(BaseModel):
    """The JSON body of one answered query: ``{"results": [Hit, ...]}``, best first."""

    results: list[Hit]


class SearchBackend(Protocol):
    """Anything that ranks APIs for many queries at once (the HTTP service batches into this)."""

    def search(self, queries: Sequence[str], k: int) -> list[list[Hit]]:
        """The best ``k`` APIs per query, best first."""
        ...
