"""NDCG and recall with binary relevance, as ToolBench computes them (scikit-learn's ndcg_score)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import ndcg_score

from pipeline.retriever.evaluation import score_rankings
from pipeline.retriever.labels import LabelledQuery
from pipeline.retriever.metrics import dcg, ndcg_at_k, recall_at_k


def test_ndcg_on_hand_computed_examples() -> None:
    # relevant {a, c}; ranking a b c: DCG@3 = 1 + 1/log2(4) = 1.5; ideal = 1 + 1/log2(3)
    assert dcg(["a", "b", "c"], {"a", "c"}, 3) == pytest.approx(1.5)
    assert ndcg_at_k(["a", "b", "c"], {"a", "c"}, 3) == pytest.approx(1.5 / (1 + 1 / math.log2(3)))
    assert ndcg_at_k(["b", "a"], {"a"}, 1) == 0.0
    assert ndcg_at_k(["b", "a"], {"a"}, 2) == pytest.approx(1 / math.log2(3))
    assert ndcg_at_k(["a", "c", "b"], {"a", "c"}, 5) == pytest.approx(1.0)
    # three relevant, k = 1: the ideal holds only one of them
    assert ndcg_at_k(["a"], {"a", "b", "c"}, 1) == 1.0
    assert ndcg_at_k([], {"a"}, 5) == 0.0
    assert ndcg_at_k(["a"], set(), 5) == 0.0


def test_recall_on_hand_computed_examples() -> None:
    assert recall_at_k(["a", "b", "c"], {"a", "c", "d", "e"}, 2) == 0.25
    assert recall_at_k(["a", "b", "c"], {"a", "c"}, 3) == 1.0
    assert recall_at_k(["a"], set(), 3) == 0.0


@settings(max_examples=60, deadline=None)
@given(
    scores=st.lists(st.floats(-1, 1, allow_nan=False), min_size=2, max_size=30, unique=True),
    relevant_mask=st.lists(st.booleans(), min_size=30, max_size=30),
    k=st.sampled_from([1, 3, 5, 10]),
)
def test_ndcg_equals_scikit_learn_over_the_whole_corpus(scores: list[float], relevant_mask: list[bool], k: int) -> None:
    """ToolBench's figure: ndcg_score over every corpus document, 0/1 relevance (distinct scores)."""
    truth = np.asarray([1.0 if relevant_mask[i] else 0.0 for i in range(len(scores))])
    ranked = sorted(range(len(scores)), key=lambda i: -scores[i])
    relevant = {i for i in range(len(scores)) if truth[i]}
    expected = ndcg_score([truth], [np.asarray(scores)], k=k) if relevant else 0.0
    assert ndcg_at_k(ranked[:k], relevant, k) == pytest.approx(expected)


def test_rows_per_group_and_overall() -> None:
    queries = [LabelledQuery("1", "q1", "G1", "eval", {1}), LabelledQuery("2", "q2", "G2", "eval", {2, 3})]
    rows = score_rankings("dense", queries, [[1, 9], [9, 2]])
    by_group = {row.group: row for row in rows}
    assert set(by_group) == {"G1", "G2", "all"}
    assert by_group["G1"].ndcg_at_1 == 1.0 and by_group["G2"].ndcg_at_1 == 0.0
    assert by_group["G2"].recall_at_5 == 0.5
    assert by_group["all"].ndcg_at_1 == 0.5 and by_group["all"].queries == 2
