"""Hard negatives for the retriever's training pairs: the APIs an instruction is easily confused with.

Three sources, each with its own quota per instruction (``retriever.train``):

* BM25's top ranks (:class:`~pipeline.retriever.lexical.LexicalIndex` over every document):
  APIs that share the instruction's words;
* the starting model's top ranks (dense, inner product of unit vectors): APIs it already
  confuses with the relevant ones;
* sibling APIs of a relevant API's tool: the distractors an agent actually sees, as a tool's
  APIs share its name and category in their documents.

A negative is never a relevant API of the instruction, nor a document with the same text as
one (a duplicate API would be a relevant document labelled as irrelevant). When the sources
run short, the next candidates of any source fill in, then other documents at random, so every
pair has the same number of negatives (the training dataset's columns).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from pipeline.retriever.embedder import encode
from pipeline.retriever.lexical import LexicalIndex
from pipeline.retriever.pairs import Corpus, TrainingQuery

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

SOURCES = ("siblings", "bm25", "dense")


@dataclass(frozen=True)
class Candidates:
    """One source's ranked candidates for an instruction and how many to take from them."""

    source: str
    ranked: Sequence[int]
    quota: int


def excluded_positions(relevant: Collection[int], corpus: Corpus) -> set[int]:
    """The relevant positions, and every document whose text is a relevant document's."""
    return {same for position in relevant for same in corpus.same_text(position)}


def pick_negatives(
    excluded: Collection[int], candidates: Sequence[Candidates], count: int, corpus_size: int, rng: random.Random
) -> list[tuple[int, str]]:
    """Up to ``count`` distinct (position, source) negatives, none in ``excluded``.

    Each source's quota first, in order; then the rest of every source's candidates, round
    robin; then random positions. Fewer than ``count`` only when the corpus has no more.
    """
    chosen: list[tuple[int, str]] = []
    taken = set(excluded)

    def take(position: int, source: str) -> None:
        if position not in taken and 0 <= position < corpus_size and len(chosen) < count:
            taken.add(position)
            chosen.append((position, source))

    leftovers: list[list[int]] = []
    for candidate in candidates:
        ranked = list(candidate.ranked)
        used = 0
        rest: list[int] = []
        for position in ranked:
            if used < candidate.quota and position not in taken:
                take(position, candidate.source)
                used += 1
            else:
                rest.append(position)
        leftovers.append(rest)
    for row in range(max((len(rest) for rest in leftovers), default=0)):
        for candidate, rest in zip(candidates, leftovers, strict=True):
            if row < len(rest):
                take(rest[row], candidate.source)
    if len(chosen) < count:
        remaining = [position for position in range(corpus_size) if position not in taken]
        for position in rng.sample(remaining, min(len(remaining), count - len(chosen))):
            take(position, "random")
    return chosen


def _top(scores: npt.NDArray[np.float32], k: int) -> list[int]:
    k = min(k, scores.shape[0])
    if k <= 0:
        return []
    top = np.argpartition(-scores, k - 1)[:k]
    return [int(position) for position in top[np.argsort(-scores[top], kind="stable")]]


@dataclass
class MinedNegatives:
    """Negatives per instruction (corpus positions) and how many came from each source."""

    by_query: dict[str, list[int]]
    per_pair: int
    by_source: dict[str, int]


def mine_negatives(
    queries: Sequence[TrainingQuery],
    corpus: Corpus,
    *,
    quotas: Mapping[str, int],
    model: SentenceTransformer | None,
    seed: int,
    encode_batch_size: int = 64,
) -> MinedNegatives:
    """Hard negatives for every instruction in ``queries`` (``quotas``: per source of :data:`SOURCES`).

    The number per pair is the sum of the quotas, or less when the corpus is too small to give
    every instruction that many non-relevant documents. ``model`` (the starting model) ranks the
    dense candidates; ``None`` or a quota of 0 skips encoding.
    """
    wanted = sum(quotas.get(source, 0) for source in SOURCES)
    excluded = {query.qid: excluded_positions(query.relevant, corpus) for query in queries}
    available = min((len(corpus) - len(excluded[query.qid]) for query in queries), default=0)
    per_pair = max(0, min(wanted, available))
    if per_pair < wanted:
        log.warning("%d hard negatives per pair asked, the corpus gives every instruction only %d",
                    wanted, per_pair)
    by_source = dict.fromkeys((*SOURCES, "random"), 0)
    if per_pair == 0 or not queries:
        return MinedNegatives({query.qid: [] for query in queries}, 0, by_source)
    depth = per_pair + max(len(positions) for positions in excluded.values()) + 8
    texts = [query.text for query in queries]
    lexical: list[list[int]] = [[] for _ in queries]
    if quotas.get("bm25", 0) > 0:
        index = LexicalIndex(corpus.texts())
        lexical = [[position for position, _ in row] for row in index.search(texts, depth)]
    dense_scores: npt.NDArray[np.float32] | None = None
    if model is not None and (quotas.get("dense", 0) > 0 or quotas.get("siblings", 0) > 0):
        documents = encode(model, corpus.texts(), batch_size=encode_batch_size)
        dense_scores = encode(model, texts, batch_size=encode_batch_size) @ documents.T
    by_tool: dict[str, list[int]] = {}
    for position, document in enumerate(corpus.documents):
        by_tool.setdefault(document.tool_id, []).append(position)
    rng = random.Random(seed)
    by_query: dict[str, list[int]] = {}
    for row, query in enumerate(queries):
        siblings = sorted({sibling for position in query.relevant
                           for sibling in by_tool[corpus.documents[position].tool_id]})
        dense: list[int] = []
        if dense_scores is not None:
            scores = dense_scores[row]
            siblings.sort(key=lambda position: -float(scores[position]))  # the most confusable first
            dense = _top(scores, depth)
        picked = pick_negatives(
            excluded[query.qid],
            [Candidates("siblings", siblings, quotas.get("siblings", 0)),
             Candidates("bm25", lexical[row], quotas.get("bm25", 0)),
             Candidates("dense", dense, quotas.get("dense", 0))],
            per_pair, len(corpus), rng,
        )
        for _, source in picked:
            by_source[source] += 1
        by_query[query.qid] = [position for position, _ in picked]
    return MinedNegatives(by_query, per_pair, by_source)
