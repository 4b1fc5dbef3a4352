"""Retrieval metrics with binary relevance, as ToolBench's retriever evaluation computes them.

ToolBench (``toolbench/retrieval/api_evaluator.py``) scores every corpus document for a query and
takes scikit-learn's ``ndcg_score`` over the whole corpus with 0/1 relevance. With distinct
scores that is: DCG@k = Σ_{rank i ≤ k, relevant} 1 / log2(i + 1), divided by the DCG of the
ideal ranking, which puts the query's relevant documents first — min(k, |relevant|) of them.
A query whose relevant documents are all missing from the corpus scores 0 (scikit-learn's
convention), not "undefined". Only the top k of a ranking matter, so a ranking cut at k is enough.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Hashable, Sequence


def dcg(ranked: Sequence[Hashable], relevant: Collection[Hashable], k: int) -> float:
    """Discounted cumulative gain of the first ``k`` of ``ranked`` with 0/1 gains."""
    return sum(1.0 / math.log2(rank + 2) for rank, item in enumerate(ranked[:k]) if item in relevant)


def ndcg_at_k(ranked: Sequence[Hashable], relevant: Collection[Hashable], k: int, *, corpus_relevant: int | None = None) -> float:
    """NDCG@k of one ranking. ``corpus_relevant``: how many relevant documents the corpus holds
    (default: all of ``relevant``); the ideal ranking can only place those."""
    held = len(relevant) if corpus_relevant is None else corpus_relevant
    ideal = sum(1.0 / math.log2(rank + 2) for rank in range(min(k, held)))
    return dcg(ranked, relevant, k) / ideal if ideal > 0 else 0.0


def recall_at_k(ranked: Sequence[Hashable], relevant: Collection[Hashable], k: int) -> float:
    """Share of the relevant documents among the first ``k``; 0 when there are none."""
    if not relevant:
        return 0.0
    return len(set(ranked[:k]) & set(relevant)) / len(relevant)
