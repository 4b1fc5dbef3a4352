"""The dense index: faiss, inner product over unit vectors, saved under ``<run>/retriever/index/``.

Exact (``IndexIDMap2`` over ``IndexFlatIP``) by default; HNSW (``IndexHNSWFlat``, inner product)
when the corpus is larger than ``retriever.hnsw_threshold``, with the recall@10 it loses against
the exact ranking measured at build time and recorded. Every API has a stable int64 id derived
from its (tool id, API id), so an update after a catalog change removes the APIs that went,
re-encodes the changed ones and adds the new ones, without touching the rest. Vectors come from
:class:`~pipeline.retriever.cache.EmbeddingCache`, so even a full rebuild (``--rebuild``, a new
model, a switch between exact and HNSW) encodes only texts it has never seen with that model.

The folder holds ``faiss.index``, ``documents.jsonl`` (one :class:`IndexedDocument` per vector)
and ``meta.json`` (:class:`IndexMeta`: model, fingerprint, dimension, kind, recall loss ...).
"""

from __future__ import annotations

import hashlib
import logging
import random
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import BaseModel, ValidationError

from pipeline.errors import StageError
from pipeline.io import atomic_write_bytes, read_json, read_jsonl, write_json, write_jsonl
from pipeline.retriever.cache import RETRIEVER_DIR, CacheUse, EmbeddingCache, Vectors
from pipeline.retriever.documents import ApiDocument
from pipeline.retriever.embedder import (
    DEFAULT_MODEL,
    DEFAULT_MODEL_LABEL,
    encode,
    load_embedder,
    model_fingerprint,
)
from pipeline.settings import RetrieverSettings

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

INDEX_DIR = "index"
MODEL_DIR = "model"
INDEX_FILE = "faiss.index"
DOCUMENTS_FILE = "documents.jsonl"
META_FILE = "meta.json"

IndexKind = Literal["flat", "hnsw"]


def stable_id(tool_id: str, api_id: str) -> int:
    """A non-negative int64 that names one (tool, API) in every build of every run."""
    digest = hashlib.sha256(f"{tool_id}\x00{api_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") & (2**63 - 1)


def retriever_dir(run_dir: Path) -> Path:
    return Path(run_dir) / RETRIEVER_DIR


def index_dir(run_dir: Path) -> Path:
    return retriever_dir(run_dir) / INDEX_DIR


def trained_model_dir(run_dir: Path) -> Path:
    """Where ``toolgen retriever train`` saves its fine-tuned model."""
    return retriever_dir(run_dir) / MODEL_DIR


def effective_model(run_dir: Path | None, settings: RetrieverSettings) -> str:
    """The model a run's retriever uses: its trained model when there is one and the setting is
    ``default``, else the setting (a name or a folder)."""
    if settings.model == DEFAULT_MODEL and run_dir is not None:
        trained = trained_model_dir(run_dir)
        if (trained / "config.json").is_file() or (trained / "modules.json").is_file():
            return str(trained)
    return settings.model


def model_label(name_or_path: str) -> str:
    return DEFAULT_MODEL_LABEL if name_or_path == DEFAULT_MODEL else name_or_path


class IndexedDocument(ApiDocument):
    """A document as indexed: its stable id beside it (the text is the indexed one, expansion included)."""

    id: int


class IndexMeta(BaseModel):
    """What built an index: the model (a change means re-encoding) and the index's shape."""

    format_version: int = 1
    model: str
    model_label: str
    fingerprint: str
    dimension: int
    kind: IndexKind
    documents: int
    expanded: bool = False
    hnsw_m: int | None = None
    hnsw_ef_search: int | None = None
    recall_at_10: float | None = None  # HNSW's recall@10 against the exact ranking
    recall_queries: int = 0
    default_ranking: str | None = None  # what the last evaluation chose for ranking "auto"
    built: str = ""


class BuildReport(BaseModel):
    """What one build or update did."""

    documents: int = 0
    encoded: int = 0
    reused: int = 0
    added: int = 0
    removed: int = 0
    changed: int = 0
    unchanged: int = 0
    rebuilt: bool = False  # written from scratch (first build, --rebuild, new model or kind)
    kind: IndexKind = "flat"
    model: str = ""
    recall_at_10: float | None = None
    recall_queries: int = 0


class VectorIndex:
    """A faiss index with its documents (looked up by id) and its metadata."""

    def __init__(self, index: Any, documents: Sequence[IndexedDocument], meta: IndexMeta) -> None:
        self.faiss_index = index
        self.documents = list(documents)
        self.meta = meta
        self.position_of = {document.id: position for position, document in enumerate(self.documents)}

    def __len__(self) -> int:
        return len(self.documents)

    def search(self, vectors: Vectors, k: int) -> list[list[tuple[int, float]]]:
        """The best ``k`` document positions per query vector, best first, with their scores."""
        k = min(k, len(self.documents))
        if k <= 0 or len(vectors) == 0:
            return [[] for _ in range(len(vectors))]
        scores, ids = self.faiss_index.search(np.ascontiguousarray(vectors, dtype=np.float32), k)
        results: list[list[tuple[int, float]]] = []
        for row_ids, row_scores in zip(ids, scores, strict=True):
            results.append([(self.position_of[int(i)], float(s))
                            for i, s in zip(row_ids, row_scores, strict=True) if int(i) in self.position_of])
        return results

    def save(self, folder: Path) -> None:
        import faiss

        folder.mkdir(parents=True, exist_ok=True)
        # documents and meta first: a reader that finds an index also finds what it holds; a
        # kill in between leaves an index whose documents do not match, which load() refuses
        write_jsonl(folder / DOCUMENTS_FILE, (document.model_dump() for document in self.documents))
        write_json(folder / META_FILE, self.meta.model_dump(mode="json"))
        atomic_write_bytes(folder / INDEX_FILE, faiss.serialize_index(self.faiss_index).tobytes())

    @classmethod
    def load(cls, folder: Path) -> VectorIndex:
        """The index saved in ``folder``; a missing or damaged one is a :class:`StageError`."""
        import faiss

        folder = Path(folder)
        if not (folder / INDEX_FILE).is_file():
            raise StageError(f"no retriever index in {folder}; build it first: toolgen retriever build")
        try:
            meta = IndexMeta.model_validate(read_json(folder / META_FILE))
            documents = [IndexedDocument.model_validate(row) for row in read_jsonl(folder / DOCUMENTS_FILE)]
            data = np.frombuffer((folder / INDEX_FILE).read_bytes(), dtype=np.uint8)
            index = faiss.deserialize_index(data)
        except (OSError, ValueError, ValidationError, RuntimeError) as error:
            raise StageError(f"retriever index in {folder} unreadable ({error}); rebuild it: "
                             "toolgen retriever build --rebuild") from error
        if index.ntotal != len(documents):
            raise StageError(f"retriever index in {folder} holds {index.ntotal} vectors for {len(documents)} "
                             "documents; rebuild it: toolgen retriever build --rebuild")
        if meta.kind == "hnsw" and meta.hnsw_ef_search:
            wrapper: Any = faiss.downcast_index(index)
            hnsw: Any = faiss.downcast_index(wrapper.index)
            hnsw.hnsw.efSearch = meta.hnsw_ef_search
        return cls(index, documents, meta)


def new_faiss_index(kind: IndexKind, dimension: int, settings: RetrieverSettings) -> Any:
    import faiss

    inner: Any
    if kind == "hnsw":
        inner = faiss.IndexHNSWFlat(dimension, settings.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        inner.hnsw.efConstruction = settings.hnsw_ef_construction
        inner.hnsw.efSearch = settings.hnsw_ef_search
    else:
        inner = faiss.IndexFlatIP(dimension)
    return faiss.IndexIDMap2(inner)


def unique_documents(documents: Sequence[ApiDocument]) -> list[IndexedDocument]:
    seen: set[int] = set()
    indexed: list[IndexedDocument] = []
    for document in documents:
        identifier = stable_id(document.tool_id, document.api_id)
        if identifier in seen:
            log.warning("API %s/%s appears twice in the catalog; indexed once", document.tool_id, document.api_id)
            continue
        seen.add(identifier)
        indexed.append(IndexedDocument.model_validate({**document.model_dump(), "id": identifier}))
    return indexed


class LazyEncoder:
    """Loads the model on the first text it must encode (an all-cached update never loads it)."""

    def __init__(self, name_or_path: str, settings: RetrieverSettings,
                 model: SentenceTransformer | None = None) -> None:
        self.name_or_path = name_or_path
        self.settings = settings
        self._model = model

    @property
    def model(self) -> SentenceTransformer:
        if self._model is None:
            self._model = load_embedder(self.name_or_path, max_seq_length=self.settings.max_seq_length)
        return self._model

    def __call__(self, texts: Sequence[str]) -> Vectors:
        log.info("encoding %d texts with %s", len(texts), model_label(self.name_or_path))
        return encode(self.model, texts, batch_size=self.settings.encode_batch_size)


def build_index(
    run_dir: Path,
    documents: Sequence[ApiDocument],
    settings: RetrieverSettings,
    *,
    rebuild: bool = False,
    expanded: bool = False,
    encoder: LazyEncoder | None = None,
    probe_queries: Sequence[str] = (),
    progress: Callable[[str], None] | None = None,
) -> tuple[VectorIndex, BuildReport]:
    """Build or update ``<run>/retriever/index/`` for ``documents`` and save it.

    ``probe_queries`` (the run's instructions) measure HNSW's recall; without them, a sample of
    the documents' own vectors stands in for queries.
    """
    name = encoder.name_or_path if encoder is not None else effective_model(run_dir, settings)
    encoder = encoder or LazyEncoder(name, settings)
    fingerprint = model_fingerprint(name)
    indexed = unique_documents(documents)
    folder = index_dir(run_dir)
    previous: VectorIndex | None = None
    if (folder / INDEX_FILE).is_file():
        try:
            previous = VectorIndex.load(folder)
        except StageError as error:
            log.warning("%s; building it again", error)

    cache = EmbeddingCache.of_run(run_dir, fingerprint)
    use = CacheUse()
    vectors = cache.vectors_for([d.text_hash for d in indexed], [d.text for d in indexed], encoder, use)
    # not pruned to the corpus: evaluation corpora (query files' own APIs) share the cache
    cache.save()
    dimension = int(vectors.shape[1]) if len(indexed) else (cache.dimension or _dimension(encoder))
    kind: IndexKind = "hnsw" if len(indexed) > settings.hnsw_threshold else "flat"

    report = BuildReport(documents=len(indexed), encoded=use.encoded, reused=use.reused, kind=kind,
                         model=model_label(name))
    old_hash = {d.id: d.text_hash for d in previous.documents} if previous else {}
    new_ids = {d.id for d in indexed}
    report.removed = sum(1 for i in old_hash if i not in new_ids)
    report.added = sum(1 for d in indexed if d.id not in old_hash)
    report.changed = sum(1 for d in indexed if d.id in old_hash and old_hash[d.id] != d.text_hash)
    report.unchanged = len(indexed) - report.added - report.changed

    incremental = (
        previous is not None and not rebuild and kind == "flat" and previous.meta.kind == "flat"
        and previous.meta.fingerprint == fingerprint and previous.meta.dimension == dimension
    )
    if incremental:
        assert previous is not None
        faiss_index = previous.faiss_index
        stale = [i for i, h in old_hash.items() if i not in new_ids]
        stale += [d.id for d in indexed if d.id in old_hash and old_hash[d.id] != d.text_hash]
        if stale:
            faiss_index.remove_ids(np.asarray(stale, dtype=np.int64))
        fresh = [row for row, d in enumerate(indexed) if d.id not in old_hash or old_hash[d.id] != d.text_hash]
        if fresh:
            faiss_index.add_with_ids(vectors[fresh], np.asarray([indexed[r].id for r in fresh], dtype=np.int64))
    else:
        report.rebuilt = True
        faiss_index = new_faiss_index(kind, dimension, settings)
        if indexed:
            faiss_index.add_with_ids(vectors, np.asarray([d.id for d in indexed], dtype=np.int64))

    meta = IndexMeta(
        model=name, model_label=model_label(name), fingerprint=fingerprint, dimension=dimension, kind=kind,
        documents=len(indexed), expanded=expanded, built=datetime.now(UTC).isoformat(timespec="seconds"),
        default_ranking=previous.meta.default_ranking if previous is not None else None,
    )
    if kind == "hnsw":
        meta.hnsw_m, meta.hnsw_ef_search = settings.hnsw_m, settings.hnsw_ef_search
        probes = _probe_vectors(vectors, probe_queries, encoder, settings)
        id_order = np.asarray([d.id for d in indexed], dtype=np.int64)
        meta.recall_at_10 = _recall_by_ids(faiss_index, vectors, probes, id_order)
        meta.recall_queries = len(probes)
        report.recall_at_10, report.recall_queries = meta.recall_at_10, meta.recall_queries
        log.info("HNSW recall@10 against exact: %.4f over %d queries", meta.recall_at_10, len(probes))
    index = VectorIndex(faiss_index, indexed, meta)
    index.save(folder)
    return index, report


def _dimension(encoder: LazyEncoder) -> int:
    return int(encoder.model.get_sentence_embedding_dimension() or 0)


def _probe_vectors(vectors: Vectors, queries: Sequence[str], encoder: LazyEncoder,
                   settings: RetrieverSettings) -> Vectors:
    chooser = random.Random(0)
    if queries:
        sample = chooser.sample(list(queries), min(settings.recall_sample, len(queries)))
        return encoder(sample)
    rows = chooser.sample(range(len(vectors)), min(settings.recall_sample, len(vectors)))
    return vectors[sorted(rows)]


def _recall_by_ids(index: Any, vectors: Vectors, queries: Vectors, ids: np.ndarray[Any, Any], k: int = 10) -> float:
    k = min(k, len(vectors))
    if k == 0 or len(queries) == 0:
        return 1.0
    exact_rows = np.argsort(-(queries @ vectors.T), axis=1)[:, :k]
    _, found = index.search(np.ascontiguousarray(queries, dtype=np.float32), k)
    kept = [len(set(ids[row].tolist()) & set(f.tolist())) / k for row, f in zip(exact_rows, found, strict=True)]
    return round(float(np.mean(kept)), 4)


def set_default_ranking(run_dir: Path, ranking: str) -> None:
    """Record in the saved index's metadata the ranking evaluation chose for ``auto``."""
    path = index_dir(run_dir) / META_FILE
    if path.is_file():
        meta = IndexMeta.model_validate(read_json(path))
        meta.default_ranking = ranking
        write_json(path, meta.model_dump(mode="json"))
