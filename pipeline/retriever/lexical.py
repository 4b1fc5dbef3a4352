"""Lexical ranking: BM25 over the retriever documents, stemmed, with bm25s.

bm25s has no incremental add, so an index is built once per corpus (fast: sparse matrices).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import cache
from typing import Any

import numpy as np


@cache
def _quiet_bm25s() -> None:
    # bm25s sets its own logger to DEBUG, so its per-index chatter reached the CLI's output
    logging.getLogger("bm25s").setLevel(logging.WARNING)


@cache
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


def _tokenize(texts: Sequence[str]) -> Any:
    import bm25s

    return bm25s.tokenize(list(texts), stopwords="en", stemmer=_stemmer().stemWords, show_progress=False)


class LexicalIndex:
    """BM25 over a fixed list of texts; results are positions in that list with their scores."""

    def __init__(self, texts: Sequence[str]) -> None:
        import bm25s

        _quiet_bm25s()
        self.size = len(texts)
        self._bm25 = bm25s.BM25()
        if self.size:
            self._bm25.index(_tokenize(texts), show_progress=False)

    def search(self, queries: Sequence[str], k: int) -> list[list[tuple[int, float]]]:
        """The best ``k`` positions per query, best first; documents scoring 0 are left out."""
        k = min(k, self.size)
        if k <= 0 or not queries:
            return [[] for _ in queries]
        tokens = _tokenize(queries)
        positions, scores = self._bm25.retrieve(tokens, k=k, show_progress=False, n_threads=1)
        results: list[list[tuple[int, float]]] = []
        for row_positions, row_scores in zip(np.asarray(positions), np.asarray(scores), strict=True):
            results.append([(int(p), float(s)) for p, s in zip(row_positions, row_scores, strict=True) if s > 0])
        return results
