"""The faiss index: save/load, incremental update after a catalog change, HNSW, model changes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pipeline.errors import StageError
from pipeline.retriever.cache import EmbeddingCache
from pipeline.retriever.documents import ApiDocument
from pipeline.retriever.embedder import model_fingerprint
from pipeline.retriever.index import VectorIndex, build_index, index_dir, stable_id
from pipeline.settings import RetrieverSettings
from tests.retriever.conftest import document

pytestmark = pytest.mark.usefixtures("loads_once")


def test_stable_ids_depend_only_on_tool_and_api_ids() -> None:
    assert stable_id("t", "a") == stable_id("t", "a")
    assert stable_id("t", "a") != stable_id("t", "b") != stable_id("ta", "")
    assert 0 <= stable_id("x" * 100, "y") < 2**63


def test_build_saves_an_index_that_loads_with_its_documents_and_metadata(tmp_path: Path,
                                                                         corpus: list[ApiDocument]) -> None:
    built, report = build_index(tmp_path, corpus, RetrieverSettings())
    assert (report.documents, report.encoded, report.reused, report.rebuilt) == (len(corpus), len(corpus), 0, True)
    loaded = VectorIndex.load(index_dir(tmp_path))
    assert [d.model_dump() for d in loaded.documents] == [d.model_dump() for d in built.documents]
    assert loaded.meta.kind == "flat" and loaded.meta.dimension == 384
    assert loaded.meta.fingerprint == model_fingerprint("default")
    query = built.faiss_index.reconstruct(int(built.documents[2].id)).reshape(1, -1)
    assert loaded.search(query, 1)[0][0][0] == 2  # a document's own vector finds it first
    assert loaded.search(query, 1)[0][0][1] == pytest.approx(1.0, abs=1e-5)


def test_a_catalog_change_encodes_only_new_and_changed_apis(tmp_path: Path, corpus: list[ApiDocument]) -> None:
    build_index(tmp_path, corpus, RetrieverSettings())
    removed = corpus[0]
    changed = corpus[1].model_copy(update={"text": corpus[1].text + " with hourly detail"})
    new = document("news", "headlines", "News, Daily News, headlines, top news headlines of the day")
    updated = [changed, *corpus[2:], new]
    index, report = build_index(tmp_path, updated, RetrieverSettings())
    assert (report.encoded, report.reused) == (2, len(corpus) - 2)
    assert (report.added, report.removed, report.changed, report.unchanged) == (1, 1, 1, len(corpus) - 2)
    assert not report.rebuilt  # updated in place
    loaded = VectorIndex.load(index_dir(tmp_path))
    ids = {d.id for d in loaded.documents}
    assert stable_id(removed.tool_id, removed.api_id) not in ids
    assert loaded.faiss_index.ntotal == len(updated)
    # the changed API's vector is the new text's
    cache = EmbeddingCache.of_run(tmp_path, model_fingerprint("default"))
    new_vector = cache.vectors_for([changed.text_hash], [changed.text], lambda texts: pytest.fail("cached"))
    stored = loaded.faiss_index.reconstruct(int(stable_id(changed.tool_id, changed.api_id)))
    assert np.allclose(stored, new_vector[0])
    # nothing changed: nothing encoded
    _, again = build_index(tmp_path, updated, RetrieverSettings())
    assert (again.encoded, again.added, again.removed, again.changed) == (0, 0, 0, 0)


def test_rebuild_writes_from_scratch_but_reuses_cached_embeddings(tmp_path: Path, corpus: list[ApiDocument]) -> None:
    build_index(tmp_path, corpus, RetrieverSettings())
    _, report = build_index(tmp_path, corpus, RetrieverSettings(), rebuild=True)
    assert report.rebuilt and report.encoded == 0 and report.reused == len(corpus)


def test_above_the_threshold_the_index_is_hnsw_with_its_recall_measured(tmp_path: Path,
                                                                        corpus: list[ApiDocument]) -> None:
    settings = RetrieverSettings(hnsw_threshold=3)
    index, report = build_index(tmp_path, corpus, settings, probe_queries=["hotel in Rome", "exchange rate"])
    assert report.kind == index.meta.kind == "hnsw"
    assert report.recall_at_10 is not None and 0.0 <= report.recall_at_10 <= 1.0
    assert report.recall_queries == 2
    loaded = VectorIndex.load(index_dir(tmp_path))
    assert loaded.meta.recall_at_10 == report.recall_at_10
    # HNSW cannot remove vectors: an update rebuilds it, from the cache
    _, update = build_index(tmp_path, corpus[1:], settings)
    assert update.rebuilt and update.encoded == 0 and update.removed == 1
    assert VectorIndex.load(index_dir(tmp_path)).faiss_index.ntotal == len(corpus) - 1


def test_a_damaged_index_is_a_stage_error_naming_the_rebuild(tmp_path: Path, corpus: list[ApiDocument]) -> None:
    build_index(tmp_path, corpus, RetrieverSettings())
    (index_dir(tmp_path) / "faiss.index").write_bytes(b"not an index")
    with pytest.raises(StageError, match="--rebuild"):
        VectorIndex.load(index_dir(tmp_path))
    _, report = build_index(tmp_path, corpus, RetrieverSettings())  # a build recovers by itself
    assert report.rebuilt and report.encoded == 0
