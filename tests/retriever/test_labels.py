"""Labelled queries: relevant APIs found by catalog ids or ToolBench names; bad lines skipped."""

from __future__ import annotations

from pathlib import Path

import orjson

from pipeline.records import QueryRecord
from pipeline.retriever.evaluation import corpus_with_file_apis
from pipeline.retriever.index import stable_id
from pipeline.retriever.labels import file_records, group_of, labelled_queries
from pipeline.settings import ExportSettings
from tests.retriever.conftest import document


def test_relevant_apis_by_ids_or_by_loosely_spelt_names() -> None:
    corpus = [document("hotels", "search", "x"), document("hotels", "book", "y")]
    by_ids = QueryRecord(query="q1", query_id=1, group="G1", relevant_api_ids=[("hotels", "book")])
    by_names = QueryRecord.model_validate({"query": "q2", "query_id": 2, "group": "G2_query",
                                           "relevant APIs": [["HOTELS", "Search"], ["Other", "api"]]})
    repeated = by_ids.model_copy(update={"query": "again"})
    empty = QueryRecord(query="  ", query_id=3, group="G1", relevant_api_ids=[("hotels", "book")])
    labelled = labelled_queries([by_ids, by_names, repeated, empty], corpus, ExportSettings())
    assert [(q.query_id, q.group, q.relevant, q.missing) for q in labelled] == [
        ("1", "G1", {stable_id("hotels", "book")}, 0),
        ("2", "G2", {stable_id("hotels", "search")}, 1),
    ]
    assert group_of(QueryRecord(query="q", query_id=1, group="g3_instruction")) == "G3"


def test_a_query_file_adds_the_apis_the_corpus_lacks_and_skips_bad_lines(tmp_path: Path) -> None:
    path = tmp_path / "G1_query.json"
    path.write_bytes(orjson.dumps([
        {"query": "book it", "query_id": 1, "relevant APIs": [["Hotels", "book"]],
         "api_list": [{"tool_name": "Hotels", "api_name": "book"}, {"tool_name": "Maps", "api_name": "route",
                                                                  "category_name": "Travel"}]},
        {"query": "broken", "query_id": {"not": "an id"}},
    ]))
    records = file_records([path])
    assert [r.query for r in records] == ["book it"]
    corpus = corpus_with_file_apis([document("hotels", "book", "x")], records)
    assert [(d.tool_name, d.api_name) for d in corpus] == [("Hotels", "book"), ("Maps", "route")]
    assert corpus[1].text.startswith("Travel, Maps, route, ")
