"""Fusing the dense and BM25 rankings."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.retriever.ranking import blend, lift_siblings, reciprocal_rank_fusion


def test_rrf_rewards_agreement_between_rankings() -> None:
    dense = [(0, 0.9), (1, 0.8), (4, 0.7), (5, 0.6), (2, 0.5)]
    lexical = [(2, 12.0), (1, 5.0), (3, 1.0)]
    fused = reciprocal_rank_fusion([dense, lexical], k=60)
    # 1 is second in both; 2 first in one and fifth in the other; then the documents only one
    # ranking holds, by rank (4 and 3 tie at third place: the first ranking's comes first)
    assert [p for p, _ in fused] == [1, 2, 0, 4, 3, 5]
    assert fused[0][1] == pytest.approx(2 / 62)


def test_rrf_ignores_score_scales() -> None:
    a = reciprocal_rank_fusion([[(0, 100.0), (1, 1.0)], [(1, 0.5), (0, 0.4)]])
    b = reciprocal_rank_fusion([[(0, 0.2), (1, 0.1)], [(1, 9.0), (0, 8.0)]])
    assert a == b


def test_blend_weights_the_scaled_scores() -> None:
    dense = [(0, 0.9), (1, 0.5)]
    lexical = [(1, 10.0), (0, 2.0)]
    assert [p for p, _ in blend(dense, lexical, weight=0.9)] == [0, 1]
    assert [p for p, _ in blend(dense, lexical, weight=0.1)] == [1, 0]
    only_lexical = blend([], [(4, 3.0)], weight=0.5)
    assert only_lexical == [(4, 0.5)]


def test_tool_lift_pulls_up_siblings_of_a_strong_tool() -> None:
    ranking = [(0, 1.0), (5, 0.6), (1, 0.5)]
    tools = ["a", "a", "x", "x", "x", "b"]
    assert [p for p, _ in lift_siblings(ranking, tools, share=0.0)] == [0, 5, 1]
    lifted = lift_siblings(ranking, tools, share=0.5)
    assert [p for p, _ in lifted] == [0, 1, 5]
    assert dict(lifted)[1] == pytest.approx(0.5 + 0.5 * 1.0)
    assert dict(lifted)[0] == pytest.approx(1.0 + 0.5 * 0.5)


rankings = st.lists(st.tuples(st.integers(0, 30), st.floats(-5, 5, allow_nan=False)), max_size=15).map(
    lambda pairs: list({p: (p, s) for p, s in pairs}.values()))


@settings(max_examples=80, deadline=None)
@given(dense=rankings, lexical=rankings, weight=st.floats(0, 1))
def test_fusions_rank_each_candidate_once_best_first(dense: list[tuple[int, float]], lexical: list[tuple[int, float]],
                                                     weight: float) -> None:
    union = {p for p, _ in dense} | {p for p, _ in lexical}
    for fused in (reciprocal_rank_fusion([dense, lexical]), blend(dense, lexical, weight=weight)):
        positions = [p for p, _ in fused]
        assert sorted(positions) == sorted(union)
        scores = [s for _, s in fused]
        assert scores == sorted(scores, reverse=True)
