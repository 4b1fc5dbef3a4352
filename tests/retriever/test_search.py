"""The Python search API: Retriever.open / search / search_one, rankings, model checks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pipeline.errors import StageError, UsageError
from pipeline.retriever.documents import ApiDocument
from pipeline.retriever.hits import Hit
from pipeline.retriever.index import build_index, effective_model, set_default_ranking, trained_model_dir
from pipeline.retriever.search import Retriever
from pipeline.settings import RetrieverSettings

pytestmark = pytest.mark.usefixtures("loads_once")


@pytest.fixture
def built(tmp_path: Path, corpus: list[ApiDocument]) -> Path:
    build_index(tmp_path, corpus, RetrieverSettings())
    return tmp_path


@pytest.mark.parametrize("ranking", ["dense", "bm25", "hybrid"])
def test_each_ranking_finds_the_obvious_api(built: Path, ranking: str) -> None:
    retriever = Retriever.open(built, ranking=ranking)
    hits = retriever.search(["book a hotel room for next week", "convert euros to dollars"], 3)
    assert [h[0].api_name for h in hits] == ["book", "convert"]
    assert all(isinstance(hit, Hit) for row in hits for hit in row)
    # BM25 leaves out APIs sharing no word with the query
    assert all(len(row) == 3 if ranking != "bm25" else 1 <= len(row) <= 3 for row in hits)
    assert [h.score for h in hits[0]] == sorted((h.score for h in hits[0]), reverse=True)
    assert retriever.search_one("book a hotel room for next week", 3) == hits[0]


def test_queries_are_encoded_in_one_call(built: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    retriever = Retriever.open(built, ranking="dense")
    calls: list[int] = []
    real = retriever.encoder.model.encode

    def counting(texts: list[str], **kwargs: Any) -> Any:
        calls.append(len(texts))
        return real(texts, **kwargs)

    monkeypatch.setattr(retriever.encoder.model, "encode", counting)
    retriever.search(["a", "b", "c", "d"], 2)
    assert calls == [4]


def test_bm25_ranking_needs_no_model(built: Path, loads_once: list[str]) -> None:
    loads_once.clear()
    Retriever.open(built, ranking="bm25").search_one("hotel", 2)
    assert loads_once == []


def test_auto_uses_the_evaluated_default_and_dense_before_any(built: Path) -> None:
    assert Retriever.open(built).ranking == "dense"
    set_default_ranking(built, "hybrid")
    assert Retriever.open(built).ranking == "hybrid"
    assert Retriever.open(built, ranking="bm25").ranking == "bm25"
    with pytest.raises(UsageError, match="ranking 'sparse'"):
        Retriever.open(built, ranking="sparse")


def test_k_larger_than_the_corpus_returns_every_api(built: Path, corpus: list[ApiDocument]) -> None:
    assert len(Retriever.open(built, ranking="hybrid").search_one("money", 50)) == len(corpus)


def test_no_index_is_a_stage_error_saying_build(tmp_path: Path) -> None:
    with pytest.raises(StageError, match="toolgen retriever build"):
        Retriever.open(tmp_path)


def test_a_trained_model_is_used_and_a_stale_index_refused(built: Path, corpus: list[ApiDocument],
                                                           minilm: Any) -> None:
    minilm.save(str(trained_model_dir(built)))  # stands in for `toolgen retriever train`
    settings = RetrieverSettings()
    assert effective_model(built, settings) == str(trained_model_dir(built))
    with pytest.raises(StageError, match="toolgen retriever build"):
        Retriever.open(built, settings)
    _, report = build_index(built, corpus, settings)
    assert report.rebuilt and report.encoded == len(corpus)  # other weights: every vector again
    retriever = Retriever.open(built, settings)
    assert retriever.index.meta.model == str(trained_model_dir(built))
    assert retriever.search_one("book a hotel room", 1)[0].api_name == "book"
    # an explicit model wins over the trained one
    assert effective_model(built, RetrieverSettings(model="/some/model")) == "/some/model"
