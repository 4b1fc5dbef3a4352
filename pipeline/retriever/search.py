"""Searching a run's retriever from Python: load the index and the model once, answer many queries.

>>> retriever = Retriever.open(Path("outputs/default"))          # doctest: +SKIP
>>> retriever.search_one("weather in Paris tomorrow", k=5)       # doctest: +SKIP
[Hit(tool_name='Weather Now', api_name='getForecast', ...), ...]

Three rankings: ``dense`` (the faiss index), ``bm25`` (:mod:`~pipeline.retriever.lexical`,
rebuilt from the indexed documents at load: it takes well under a second per 10k documents) and
``hybrid`` (both fused, by reciprocal rank fusion or by score blending, per
``retriever.fusion``). ``auto`` (the default setting) is the ranking the last ``toolgen
retriever eval`` chose: hybrid only when it beat dense on the held-out split.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Literal, get_args

import numpy as np

from pipeline.errors import StageError, UsageError
from pipeline.retriever.cache import Vectors
from pipeline.retriever.documents import ApiDocument
from pipeline.retriever.embedder import encode, model_fingerprint
from pipeline.retriever.hits import Hit
from pipeline.retriever.index import (
    IndexedDocument,
    IndexMeta,
    LazyEncoder,
    VectorIndex,
    effective_model,
    index_dir,
    model_label,
    new_faiss_index,
    unique_documents,
)
from pipeline.retriever.lexical import LexicalIndex
from pipeline.retriever.ranking import Ranked, blend, lift_siblings, reciprocal_rank_fusion
from pipeline.settings import RetrieverSettings

log = logging.getLogger(__name__)

Ranking = Literal["dense", "bm25", "hybrid"]
RANKINGS: tuple[Ranking, ...] = get_args(Ranking)


def resolve_ranking(requested: str | None, settings: RetrieverSettings, meta: IndexMeta | None) -> Ranking:
    """The ranking to use: the one asked for, else the setting; ``auto`` = the evaluated default."""
    choice = requested or settings.ranking
    if choice == "auto":
        choice = (meta.default_ranking if meta is not None else None) or "dense"
    if choice not in RANKINGS:
        raise UsageError(f"ranking {choice!r} unknown; choose one of {', '.join(RANKINGS)} (or auto)")
    return choice


class Retriever:
    """Ranks a corpus of API documents for queries; implements
    :class:`~pipeline.retriever.hits.SearchBackend`."""

    def __init__(self, index: VectorIndex, encoder: LazyEncoder, settings: RetrieverSettings,
                 ranking: Ranking) -> None:
        self.index = index
        self.encoder = encoder
        self.settings = settings
        self.ranking: Ranking = ranking

    @classmethod
    def open(cls, run_dir: Path, settings: RetrieverSettings | None = None, *,
             ranking: str | None = None) -> Retriever:
        """A run's saved index with its model, loaded once (the model only if the ranking needs it).

        The index must have been built with the model the run uses now (its trained model when
        there is one): a retrained model without a rebuild is refused, as its queries would be
        compared with vectors of other weights.
        """
        settings = settings or RetrieverSettings()
        index = VectorIndex.load(index_dir(run_dir))
        chosen = resolve_ranking(ranking, settings, index.meta)
        wanted = effective_model(run_dir, settings)
        if chosen != "bm25" and model_fingerprint(wanted) != index.meta.fingerprint:
            raise StageError(
                f"the retriever index of {run_dir} was built with {index.meta.model_label}, but the run's "
                f"model is now {model_label(wanted)}; update it: toolgen retriever build"
            )
        retriever = cls(index, LazyEncoder(index.meta.model, settings), settings, chosen)
        if chosen != "bm25":
            retriever.encoder.model  # noqa: B018 - load now, not on the first query
        if chosen != "dense":
            retriever.lexical  # noqa: B018
        return retriever

    @classmethod
    def from_vectors(cls, documents: Sequence[ApiDocument], vectors: Vectors, encoder: LazyEncoder,
                     settings: RetrieverSettings, ranking: Ranking = "dense") -> Retriever:
        """An in-memory exact index over ``documents`` (evaluation corpora; nothing saved)."""
        indexed = unique_documents(documents)
        if len(indexed) != len(documents):
            raise ValueError("documents must have distinct (tool_id, api_id)")
        dimension = int(vectors.shape[1]) if len(vectors) else 0
        faiss_index = new_faiss_index("flat", dimension, settings)
        if indexed:
            faiss_index.add_with_ids(vectors, np.asarray([d.id for d in indexed], dtype=np.int64))
        meta = IndexMeta(model=encoder.name_or_path, model_label=model_label(encoder.name_or_path),
                         fingerprint="", dimension=dimension, kind="flat", documents=len(indexed))
        return cls(VectorIndex(faiss_index, indexed, meta), encoder, settings, ranking)

    @property
    def documents(self) -> list[IndexedDocument]:
        return self.index.documents

    @cached_property
    def lexical(self) -> LexicalIndex:
        return LexicalIndex([document.text for document in self.index.documents])

    @cached_property
    def _tool_of(self) -> list[str]:
        return [document.tool_id for document in self.index.documents]

    def encode_queries(self, queries: Sequence[str]) -> Vectors:
        """All queries in one encoder call."""
        return encode(self.encoder.model, queries, batch_size=self.settings.encode_batch_size)

    def rank(self, queries: Sequence[str], k: int, ranking: Ranking | None = None,
             query_vectors: Vectors | None = None) -> list[Ranked]:
        """The best ``k`` document positions per query with their scores, best first."""
        ranking = ranking or self.ranking
        if not queries or k <= 0:
            return [[] for _ in queries]
        lifting = self.settings.tool_lift > 0
        depth = max(k, self.settings.fusion_depth) if ranking == "hybrid" or lifting else k
        dense: list[Ranked] = []
        lexical: list[Ranked] = []
        if ranking != "bm25":
            vectors = query_vectors if query_vectors is not None else self.encode_queries(queries)
            dense = self.index.search(vectors, depth)
        if ranking != "dense":
            lexical = self.lexical.search(queries, depth)
        results: list[Ranked] = []
        for row in range(len(queries)):
            if ranking == "dense":
                ranked = dense[row]
            elif ranking == "bm25":
                ranked = lexical[row]
            elif self.settings.fusion == "rrf":
                ranked = reciprocal_rank_fusion([dense[row], lexical[row]], k=self.settings.rrf_k)
            else:
                ranked = blend(dense[row], lexical[row], weight=self.settings.blend_weight)
            if lifting:
                ranked = lift_siblings(ranked, self._tool_of, share=self.settings.tool_lift)
            results.append(ranked[:k])
        return results

    def search(self, queries: Sequence[str], k: int) -> list[list[Hit]]:
        """The best ``k`` APIs per query, best first (all queries encoded in one call)."""
        return [[self._hit(position, score) for position, score in ranked] for ranked in self.rank(queries, k)]

    def search_one(self, query: str, k: int) -> list[Hit]:
        """The best ``k`` APIs for one query, best first."""
        return self.search([query], k)[0]

    def _hit(self, position: int, score: float) -> Hit:
        document = self.index.documents[position]
        return Hit(tool_name=document.tool_name, api_name=document.api_name, category=document.category,
                   score=round(score, 6), tool_id=document.tool_id, api_id=document.api_id)
