"""Fusing rankings: reciprocal rank fusion, min-max score blending, and tool-level evidence.

Every function works on one query's candidates: lists of ``(position, score)`` best first, a
position being an index into the corpus' document list.
"""

from __future__ import annotations

from collections.abc import Sequence

Ranked = list[tuple[int, float]]


def reciprocal_rank_fusion(rankings: Sequence[Ranked], *, k: int = 60) -> Ranked:
    """Σ 1 / (k + rank) over the rankings a document appears in (rank from 1), best first.

    Ties keep the order in which documents first appear (the first ranking's order first), so
    the result is deterministic.
    """
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, (position, _) in enumerate(ranking, start=1):
            fused[position] = fused.get(position, 0.0) + 1.0 / (k + rank)
    return _sorted(fused)


def _min_max(ranking: Ranked) -> dict[int, float]:
    if not ranking:
        return {}
    scores = [score for _, score in ranking]
    low, high = min(scores), max(scores)
    if high == low:
        return {position: 1.0 for position, _ in ranking}
    return {position: (score - low) / (high - low) for position, score in ranking}


def blend(dense: Ranked, lexical: Ranked, *, weight: float = 0.5) -> Ranked:
    """``weight`` × dense + (1 − ``weight``) × BM25, each min-max scaled over its candidates (a
    document missing from one ranking gets 0 there)."""
    dense_scores, lexical_scores = _min_max(dense), _min_max(lexical)
    fused = {
        position: weight * dense_scores.get(position, 0.0) + (1 - weight) * lexical_scores.get(position, 0.0)
        for position in list(dense_scores) + [p for p in lexical_scores if p not in dense_scores]
    }
    return _sorted(fused)


def lift_siblings(ranking: Ranked, tool_of: Sequence[str], *, share: float) -> Ranked:
    """Add ``share`` × the best score among an API's sibling candidates (same tool) to its score:
    a tool that clearly matches the query pulls its other APIs up (multi-API instructions)."""
    if share <= 0 or not ranking:
        return ranking
    best: dict[str, list[float]] = {}
    for position, score in ranking:
        best.setdefault(tool_of[position], []).append(score)
    top_two = {tool: sorted(scores, reverse=True)[:2] for tool, scores in best.items()}
    lifted: dict[int, float] = {}
    for position, score in ranking:
        scores = top_two[tool_of[position]]
        # the best sibling other than itself: the runner-up when it is the tool's best
        sibling = scores[1] if len(scores) > 1 and score == scores[0] else (scores[0] if score != scores[0] else 0.0)
        lifted[position] = score + share * sibling
    return _sorted(lifted)


def _sorted(scores: dict[int, float]) -> Ranked:
    order = {position: index for index, position in enumerate(scores)}
    return sorted(scores.items(), key=lambda item: (-item[1], order[item[0]]))
