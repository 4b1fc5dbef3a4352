"""ToolBench's API-retriever training files (``preprocess/preprocess_retriever_data.py``).

Files, tab-separated and quoted the way pandas' ``to_csv`` quotes (so ToolBench's
``pd.read_csv(..., sep='\\t')`` reads them back):

* ``corpus.tsv``: header ``docid	document_content``; one row per API of the catalog, ``docid``
  from 1, ``document_content`` the JSON of ToolBench's query-file API record
  ``{category_name, tool_name, api_name, api_description, required_parameters,
  optional_parameters, method, template_response}`` (what ``process_retrieval_ducoment`` reads);
* ``train.query.txt`` / ``test.query.txt``: ``qid	query``, no header;
* ``qrels.train.tsv`` / ``qrels.test.tsv``: ``qid	0	docid	1``, no header.

Relevant documents of a query are its "relevant APIs", resolved by (tool name, API name)
compared in lower case without punctuation. A query is written once per split even if several
samples share it (``qid`` is given per distinct normalised instruction, as ToolBench numbers
distinct query texts); that needs a set of instruction hashes, 8 bytes each, not the samples.
The eval split is called ``test`` here, as ToolBench names it.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from pipeline.export.common import EVAL, Dialogue, ExportContext, Split, normalise_query
from pipeline.records import TrajectoryRecord
from pipeline.specs.catalog import iter_tools
from pipeline.toolbench.documents import toolbench_api_record
from pipeline.toolbench.names import name_key

CORPUS = "corpus.tsv"
FILE_SPLIT = {"train": "train", EVAL: "test"}


def _tsv(handle: IO[str]) -> Any:
    # pandas' to_csv defaults: minimal quoting with '"', quotes doubled, "\n" line ends.
    return csv.writer(handle, delimiter="\t", quoting=csv.QUOTE_MINIMAL, lineterminator="\n")


class RetrieverExporter:
    """Writes the corpus at once from the catalog, then queries and qrels per sample."""

    def __init__(self, folder: Path, context: ExportContext) -> None:
        self._folder = folder
        self._docids: dict[tuple[str, str], int] = {}
        self._corpus_size = 0
        with (folder / CORPUS).open("w", encoding="utf-8", newline="") as handle:
            writer = _tsv(handle)
            writer.writerow(["docid", "document_content"])
            for tool in iter_tools(context.run_dir):
                for api in tool.api_list:
                    docid = self._corpus_size = self._corpus_size + 1
                    for tool_name in {tool.tool_name, tool.standardized_name}:
                        if tool_name:
                            self._docids.setdefault((name_key(tool_name), name_key(api.name)), docid)
                    writer.writerow([docid, json.dumps(toolbench_api_record(tool, api))])
        self._handles: list[IO[str]] = []
        self._queries: dict[str, Any] = {}
        self._qrels: dict[str, Any] = {}
        for split, name in FILE_SPLIT.items():
            queries = (folder / f"{name}.query.txt").open("w", encoding="utf-8", newline="")
            qrels = (folder / f"qrels.{name}.tsv").open("w", encoding="utf-8", newline="")
            self._handles += [queries, qrels]
            self._queries[split], self._qrels[split] = _tsv(queries), _tsv(qrels)
        self._qids: dict[bytes, int] = {}
        self._rows = dict.fromkeys(FILE_SPLIT, 0)
        self._unresolved = 0
        self._duplicates = 0

    def add(self, record: TrajectoryRecord | Mapping[str, Any], dialogue: Dialogue, split: Split) -> None:
        key = hashlib.sha256(normalise_query(dialogue.query).encode()).digest()[:8]
        if key in self._qids:
            self._duplicates += 1
            return
        docids = sorted({
            docid for tool, api in dialogue.relevant_apis
            if (docid := self._docids.get((name_key(tool), name_key(api)))) is not None
        })
        if not docids:
            self._unresolved += 1
            return
        qid = self._qids[key] = len(self._qids) + 1
        self._queries[split].writerow([qid, " ".join(dialogue.query.split())])
        for docid in docids:
            self._qrels[split].writerow([qid, 0, docid, 1])
        self._rows[split] += 1

    def close(self) -> None:
        for handle in self._handles:
            handle.close()

    @property
    def rows(self) -> dict[str, int]:
        return dict(self._rows)

    @property
    def notes(self) -> dict[str, int]:
        return {"corpus_documents": self._corpus_size,
                "queries_without_resolved_apis": self._unresolved,
                "duplicate_queries": self._duplicates}

    def paths(self) -> list[Path]:
        names = [CORPUS]
        for name in FILE_SPLIT.values():
            names += [f"{name}.query.txt", f"qrels.{name}.tsv"]
        return [self._folder / n for n in names]
