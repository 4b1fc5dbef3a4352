"""Derived collections (what G3 draws from) on a catalog bigger than one collection."""

from __future__ import annotations

import random

from pipeline.specs.graph import ToolSummary, derive_collections

TOPICS = {
    "travel": ["city", "hotel", "flight", "booking", "airport", "trip"],
    "money": ["price", "currency", "stock", "quote", "exchange", "rate"],
}


def catalog(n: int) -> list[ToolSummary]:
    """``n`` tools in four categories, half on each topic: two communities of ~n/2 tools each."""
    rng = random.Random(0)
    tools = []
    for i in range(n):
        words = TOPICS["travel" if i % 2 else "money"]
        terms = rng.sample(words, 4) + [f"unique{i}"]
        tools.append(ToolSummary(f"t{i}", f"T{i}", ["A", "B", "C", "D"][i % 4], [f"a{i}"], [f"a{i}"], terms))
    return tools


def test_big_communities_are_split_so_collections_cover_most_tools() -> None:
    tools = catalog(120)
    collections = derive_collections(tools, seed=0, max_size=12)
    covered = {t for c in collections for t in c.tools}
    assert len(covered) >= 0.8 * len(tools)
    assert all(2 <= len(c.tools) <= 12 and len(c.categories) >= 2 for c in collections)
    assert len({c.name for c in collections}) == len(collections)


def test_the_split_is_the_same_for_the_same_seed() -> None:
    tools = catalog(60)
    assert [c.tools for c in derive_collections(tools, seed=3)] == [c.tools for c in derive_collections(tools, seed=3)]
