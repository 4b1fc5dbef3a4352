"""The retriever's tests share one loaded MiniLM (loading it takes seconds) and a tiny corpus."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from pipeline.retriever import index as index_module  # noqa: E402
from pipeline.retriever.documents import ApiDocument  # noqa: E402
from pipeline.retriever.embedder import DEFAULT_MODEL, load_embedder  # noqa: E402

TEXTS = {
    ("weather", "current"): "Weather, Weather Now, current, current temperature and conditions in a city",
    ("weather", "forecast"): "Weather, Weather Now, forecast, five-day weather forecast for a city",
    ("hotels", "search"): "Travel, Hotel Finder, searchHotels, search hotels in a city by price and stars",
    ("hotels", "book"): "Travel, Hotel Finder, bookRoom, book a hotel room for given dates",
    ("fx", "rates"): "Finance, Currency, rates, latest currency exchange rates against the dollar",
    ("fx", "convert"): "Finance, Currency, convert, convert an amount of money between two currencies",
    ("stocks", "quote"): "Finance, Stock Quotes, quote, the latest share price of a stock symbol",
}


def document(tool: str, api: str, text: str | None = None) -> ApiDocument:
    return ApiDocument(tool_id=tool, api_id=api, tool_name=tool.title(), api_name=api, category="c",
                       text=text if text is not None else TEXTS[(tool, api)])


@pytest.fixture
def corpus() -> list[ApiDocument]:
    return [document(tool, api) for tool, api in TEXTS]


@pytest.fixture(scope="session")
def minilm() -> Any:
    return load_embedder(DEFAULT_MODEL, max_seq_length=256)


@pytest.fixture
def loads_once(minilm: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every load of the default model gets the session's (use it in every test that encodes); the list records each load asked for."""
    loads: list[str] = []
    real = index_module.load_embedder

    def load(name_or_path: str = DEFAULT_MODEL, *, max_seq_length: int | None = 256) -> Any:
        loads.append(name_or_path)
        return minilm if name_or_path == DEFAULT_MODEL else real(name_or_path, max_seq_length=max_seq_length)

    monkeypatch.setattr(index_module, "load_embedder", load)
    yield loads
