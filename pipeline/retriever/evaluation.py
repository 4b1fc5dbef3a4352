"""Evaluating the retriever: NDCG@1/3/5 and recall@5/10 per group, for every ranking side by side.

Rankings compared: ``bm25``; ``dense-untrained`` (the configured base model); ``dense-trained``
(the run's fine-tuned model, when ``toolgen retriever train`` saved one); ``hybrid`` (the run's
model fused with BM25, as configured). Query sets: the held-out split of the run's own queries
(the exports' split rule) over the run's indexed documents, and each ToolBench-format query file
given, over the run's documents plus the file's own ``api_list`` APIs the catalog lacks (built
with :func:`~pipeline.retriever.documents.record_document`), as ToolBench evaluates over the
whole corpus. The ranking ``auto`` uses is chosen here: hybrid only if its held-out NDCG@5 beats
the run model's dense one. Written to ``<run>/retriever/eval.json`` (:class:`RetrieverEval`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel

from pipeline.export.common import EVAL
from pipeline.io import write_json
from pipeline.records import QueryRecord
from pipeline.retriever.cache import EmbeddingCache
from pipeline.retriever.documents import ApiDocument, record_document
from pipeline.retriever.embedder import model_fingerprint
from pipeline.retriever.index import LazyEncoder, effective_model, model_label, retriever_dir, stable_id
from pipeline.retriever.labels import LabelledQuery, file_records, labelled_queries
from pipeline.retriever.metrics import ndcg_at_k, recall_at_k
from pipeline.retriever.ranking import Ranked
from pipeline.retriever.search import Ranking, Retriever
from pipeline.settings import Settings

log = logging.getLogger(__name__)

EVAL_FILE = "eval.json"
HELD_OUT = "held-out"
ALL_GROUPS = "all"
NDCG_KS = (1, 3, 5)
RECALL_KS = (5, 10)
DEPTH = max(RECALL_KS)  # the deepest cut a metric looks at


class MetricRow(BaseModel):
    """One ranking's figures on one group of one query set (means over its queries)."""

    ranking: str
    group: str
    queries: int
    ndcg_at_1: float
    ndcg_at_3: float
    ndcg_at_5: float
    recall_at_5: float
    recall_at_10: float


class EvalSet(BaseModel):
    """One query set: where it came from, its corpus, and every ranking's rows."""

    name: str
    queries: int
    corpus: int
    missing_relevant: int = 0  # relevant APIs named by the queries that the corpus lacks
    rows: list[MetricRow]

    def row(self, ranking: str, group: str = ALL_GROUPS) -> MetricRow | None:
        return next((r for r in self.rows if r.ranking == ranking and r.group == group), None)


class RetrieverEval(BaseModel):
    """``<run>/retriever/eval.json``."""

    model: str
    trained_model: str | None = None
    fusion: str
    tool_lift: float = 0.0
    expanded: bool = False
    default_ranking: Ranking
    default_reason: str
    sets: list[EvalSet]

    def table(self) -> list[dict[str, object]]:
        """Flat rows (set, ranking, group, metrics) for tables and artifacts."""
        return [{"set": s.name, **row.model_dump()} for s in self.sets for row in s.rows]


def _mean(values: Sequence[float]) -> float:
    return round(sum(values) / len(values), 4) if values else 0.0


def score_rankings(ranking: str, queries: Sequence[LabelledQuery], ranked_ids: Sequence[Sequence[int]]) -> list[MetricRow]:
    """Per-group and overall rows for one ranking: ``ranked_ids[i]`` ranks ``queries[i]``."""
    groups = sorted({q.group for q in queries})
    rows: list[MetricRow] = []
    for group in [*groups, ALL_GROUPS]:
        chosen = [i for i, q in enumerate(queries) if group in (q.group, ALL_GROUPS)]
        figures = {
            **{f"ndcg_at_{k}": _mean([ndcg_at_k(ranked_ids[i], queries[i].relevant, k) for i in chosen])
               for k in NDCG_KS},
            **{f"recall_at_{k}": _mean([recall_at_k(ranked_ids[i], queries[i].relevant, k) for i in chosen])
               for k in RECALL_KS},
        }
        rows.append(MetricRow(ranking=ranking, group=group, queries=len(chosen), **figures))
    return rows


class EvalModels:
    """The base and trained encoders, their corpus vectors cached under the run folder."""

    def __init__(self, run_dir: Path, settings: Settings, run_encoder: LazyEncoder | None = None) -> None:
        self.run_dir = run_dir
        self.settings = settings.retriever
        wanted = effective_model(run_dir, self.settings)
        if run_encoder is not None and run_encoder.name_or_path != wanted:
            run_encoder = None  # not the run's model: load what is needed
        self.base = (run_encoder if run_encoder is not None and wanted == self.settings.model
                     else LazyEncoder(self.settings.model, self.settings))
        self.trained = None
        if wanted != self.settings.model:
            self.trained = run_encoder or LazyEncoder(wanted, self.settings)

    @property
    def run_model(self) -> LazyEncoder:
        return self.trained or self.base

    def retriever(self, encoder: LazyEncoder, documents: Sequence[ApiDocument]) -> Retriever:
        cache = EmbeddingCache.of_run(self.run_dir, model_fingerprint(encoder.name_or_path))
        vectors = cache.vectors_for([d.text_hash for d in documents], [d.text for d in documents], encoder)
        cache.save()
        return Retriever.from_vectors(documents, vectors, encoder, self.settings)


def evaluate_set(name: str, queries: Sequence[LabelledQuery], documents: Sequence[ApiDocument],
                 models: EvalModels) -> EvalSet:
    """Every ranking on one query set over ``documents`` (queries encoded once per model)."""
    texts = [q.query for q in queries]
    rows: list[MetricRow] = []
    if not queries:
        return EvalSet(name=name, queries=0, corpus=len(documents), rows=[])
    dense_runs: list[tuple[str, LazyEncoder]] = [("dense-untrained", models.base)]
    if models.trained is not None:
        dense_runs.append(("dense-trained", models.trained))
    for label, encoder in dense_runs:
        retriever = models.retriever(encoder, documents)
        vectors = retriever.encode_queries(texts)
        rows += _rows(label, retriever, queries, retriever.rank(texts, DEPTH, "dense", vectors))
        if encoder is models.run_model:
            rows += _rows("bm25", retriever, queries, retriever.rank(texts, DEPTH, "bm25"))
            rows += _rows("hybrid", retriever, queries, retriever.rank(texts, DEPTH, "hybrid", vectors))
    return EvalSet(name=name, queries=len(queries), corpus=len(documents),
                   missing_relevant=sum(q.missing for q in queries), rows=rows)


def _rows(label: str, retriever: Retriever, queries: Sequence[LabelledQuery], ranked: list[Ranked]) -> list[MetricRow]:
    ids = [[retriever.documents[position].id for position, _ in row] for row in ranked]
    return score_rankings(label, queries, ids)


def corpus_with_file_apis(documents: Sequence[ApiDocument], records: Sequence[QueryRecord]) -> list[ApiDocument]:
    """``documents`` plus the documents of the files' ``api_list`` APIs they lack (by name)."""
    corpus = list(documents)
    known = {d.key for d in corpus}
    ids = {stable_id(d.tool_id, d.api_id) for d in corpus}
    for record in records:
        for entry in record.api_list:
            document = record_document(entry.model_dump())
            identifier = stable_id(document.tool_id, document.api_id)
            if document.key in known or identifier in ids:
                continue
            known.add(document.key)
            ids.add(identifier)
            corpus.append(document)
    return corpus


def choose_default(held_out: EvalSet | None, dense_label: str) -> tuple[Ranking, str]:
    """Hybrid only if it beats the run model's dense ranking on the held-out NDCG@5."""
    if held_out is None or held_out.queries == 0:
        return "dense", "no held-out queries to compare hybrid with dense on; dense kept"
    hybrid, dense = held_out.row("hybrid"), held_out.row(dense_label)
    if hybrid is None or dense is None:
        return "dense", "no figures to compare; dense kept"
    if hybrid.ndcg_at_5 > dense.ndcg_at_5:
        return "hybrid", f"held-out NDCG@5 hybrid {hybrid.ndcg_at_5:.4f} > {dense_label} {dense.ndcg_at_5:.4f}"
    return "dense", f"held-out NDCG@5 hybrid {hybrid.ndcg_at_5:.4f} <= {dense_label} {dense.ndcg_at_5:.4f}"


def evaluate(
    run_dir: Path,
    settings: Settings,
    documents: Sequence[ApiDocument],
    run_queries: Sequence[QueryRecord],
    *,
    query_files: Sequence[Path] = (),
    expanded: bool = False,
    encoder: LazyEncoder | None = None,
) -> RetrieverEval:
    """Evaluate on the held-out split of ``run_queries`` and on each file; write ``eval.json``.
    ``encoder``: the run model's, already loaded by the build (loaded again otherwise)."""
    models = EvalModels(Path(run_dir), settings, encoder)
    sets: list[EvalSet] = []
    held_out_queries = [q for q in labelled_queries(run_queries, documents, settings.export) if q.split == EVAL]
    held_out = evaluate_set(HELD_OUT, held_out_queries, documents, models)
    sets.append(held_out)
    for path in query_files:
        records = file_records([path])
        corpus = corpus_with_file_apis(documents, records)
        # a foreign file has no split: all of it is evaluation data
        queries = labelled_queries(records, corpus, settings.export)
        sets.append(evaluate_set(Path(path).name, queries, corpus, models))
    dense_label = "dense-trained" if models.trained is not None else "dense-untrained"
    default, reason = choose_default(held_out, dense_label)
    result = RetrieverEval(
        model=model_label(models.base.name_or_path),
        trained_model=models.trained.name_or_path if models.trained is not None else None,
        fusion=settings.retriever.fusion, tool_lift=settings.retriever.tool_lift, expanded=expanded,
        default_ranking=default, default_reason=reason, sets=sets,
    )
    write_json(retriever_dir(run_dir) / EVAL_FILE, result.model_dump(mode="json"))
    return result
