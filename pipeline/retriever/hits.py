"""What a retriever search answers: ranked APIs, best first."""

from __future__ import annotations

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
