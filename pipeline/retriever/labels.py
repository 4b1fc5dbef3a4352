"""Labelled queries for the retriever: an instruction, its group, its split and its relevant APIs.

The run's own queries (``<run>/queries/*.jsonl``) name their relevant APIs by catalog ids
(``relevant_api_ids``) and by names (``relevant APIs``); ToolBench's files by names only. Both
are turned into :class:`LabelledQuery` whose ``relevant`` are documents' stable ids in a given
corpus; a relevant API the corpus does not hold is counted in ``missing``. The split is the
exports' rule (:func:`pipeline.export.common.split_of`), so a held-out instruction is held out
of the training data, of document expansion and of the retriever's training alike.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.export.common import split_of
from pipeline.records import QueryRecord, RecordError, query_files, read_query_file
from pipeline.retriever.documents import ApiDocument
from pipeline.retriever.index import stable_id
from pipeline.settings import ExportSettings
from pipeline.toolbench.names import name_key

log = logging.getLogger(__name__)

_GROUP = re.compile(r"^(G\d+)", re.IGNORECASE)


def group_of(record: QueryRecord) -> str:
    """``G1``/``G2``/``G3`` from the record's group or file stem (``G1_query`` → ``G1``)."""
    match = _GROUP.match(record.group)
    return match.group(1).upper() if match else (record.group or "all")


@dataclass
class LabelledQuery:
    query_id: str
    query: str
    group: str
    split: str
    relevant: set[int] = field(default_factory=set)  # stable ids of relevant documents in the corpus
    missing: int = 0  # relevant APIs the corpus does not hold


class CorpusLookup:
    """Finds a corpus document's stable id by catalog ids or by (tool, API) names."""

    def __init__(self, documents: Iterable[ApiDocument]) -> None:
        self.by_ids: dict[tuple[str, str], int] = {}
        self.by_names: dict[tuple[str, str], int] = {}
        for document in documents:
            identifier = stable_id(document.tool_id, document.api_id)
            self.by_ids.setdefault((document.tool_id, document.api_id), identifier)
            self.by_names.setdefault(document.key, identifier)

    def relevant_of(self, record: QueryRecord) -> tuple[set[int], int]:
        """(the stable ids of the record's relevant APIs found in the corpus, how many were not)."""
        found: set[int] = set()
        missing = 0
        if record.relevant_api_ids:
            pairs = [(str(t), str(a)) for t, a in record.relevant_api_ids]
            for pair in pairs:
                identifier = self.by_ids.get(pair)
                if identifier is None:
                    missing += 1
                else:
                    found.add(identifier)
            return found, missing
        for tool_name, api_name in record.relevant_apis or []:
            identifier = self.by_names.get((name_key(str(tool_name)), name_key(str(api_name))))
            if identifier is None:
                missing += 1
            else:
                found.add(identifier)
        return found, missing


def labelled_queries(
    records: Iterable[QueryRecord], documents: Sequence[ApiDocument], export: ExportSettings,
) -> list[LabelledQuery]:
    """The records with a non-empty query and at least one relevant API in the corpus, labelled;
    repeats of a (group, query id) after the first are left out."""
    lookup = CorpusLookup(documents)
    seen: set[tuple[str, str]] = set()
    labelled: list[LabelledQuery] = []
    for record in records:
        text = record.query.strip()
        group = group_of(record)
        key = (group, str(record.query_id))
        if not text or key in seen:
            continue
        seen.add(key)
        relevant, missing = lookup.relevant_of(record)
        if not relevant:
            continue
        split = split_of(text, eval_fraction=export.eval_fraction, seed=export.split_seed)
        labelled.append(LabelledQuery(query_id=str(record.query_id), query=text, group=group, split=split,
                                      relevant=relevant, missing=missing))
    return labelled


def _skip(error: RecordError) -> None:
    log.warning("retriever: skipped an unreadable query: %s", error)


def run_records(run_dir: Path) -> list[QueryRecord]:
    """The run's queries (``queries/G*.jsonl``); an unreadable one is logged and skipped."""
    return file_records(query_files(Path(run_dir)))


def file_records(files: Sequence[Path]) -> list[QueryRecord]:
    """The queries of ToolBench-format files (JSON list or JSONL); an unreadable one is logged
    and skipped, the others kept."""
    records: list[QueryRecord] = []
    for path in files:
        records.extend(read_query_file(Path(path), on_error=_skip))
    return records
