"""The retriever's training data: instructions, the documents of their relevant APIs, the split.

Instructions come from a run's query files (``queries/G*.jsonl``, G1+G2+G3 mixed) and from any
query file in ToolBench's format. A query's relevant APIs are found in the run's catalog with
the resolver annotate uses (:class:`~pipeline.toolbench.queries.ApiResolver`: our ids first,
then names compared as ToolBench spells them); one missing from the catalog gets its document
from the query's own ``api_list`` record, so ToolBench's files train on ToolBench's APIs.
Every document is built by :mod:`pipeline.retriever.documents`: the text a pair trains on is
the text the index holds.

The split is the exports' (:func:`~pipeline.export.common.split_of`, from the instruction
alone), so an instruction held out of a dataset is held out of the retriever too.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.export.common import EVAL, TRAIN, Split, split_of
from pipeline.models import Api, Tool
from pipeline.records import QueryApi, QueryRecord, RecordError, query_files, read_query_file
from pipeline.retriever.documents import ApiDocument, api_document, record_document
from pipeline.settings import Settings
from pipeline.toolbench.names import name_key
from pipeline.toolbench.queries import ApiResolver

log = logging.getLogger(__name__)

RUN_SOURCE = "run"


class Corpus:
    """Every document the retriever ranks during training and evaluation, by position.

    The run's catalog comes first, in catalog order; documents of APIs known only from a query
    file's ``api_list`` (relevant to the query or not) are added after it, once per (tool, API)
    name.
    """

    def __init__(self, tools: Iterable[Tool] = ()) -> None:
        self.documents: list[ApiDocument] = []
        self._by_ids: dict[tuple[str, str], int] = {}
        self._by_names: dict[tuple[str, str], int] = {}
        self.from_records = 0  # documents added from query files' api_list records
        self._by_text: dict[str, list[int]] | None = None
        for tool in tools:
            for api in tool.api_list:
                self._add(api_document(tool, api))

    def _add(self, document: ApiDocument) -> int:
        position = len(self.documents)
        self.documents.append(document)
        self._by_ids.setdefault((document.tool_id, document.api_id), position)
        self._by_names.setdefault(document.key, position)
        self._by_text = None
        return position

    def same_text(self, position: int) -> list[int]:
        """Every position whose document has the text of the one at ``position`` (itself included)."""
        if self._by_text is None:
            self._by_text = {}
            for index, document in enumerate(self.documents):
                self._by_text.setdefault(document.text, []).append(index)
        return self._by_text[self.documents[position].text]

    def __len__(self) -> int:
        return len(self.documents)

    def of_catalog(self, tool: Tool, api: Api) -> int | None:
        """The position of a catalog API (as :func:`api_document` ids it)."""
        return self._by_ids.get((tool.id or tool.tool_name, api.id or api.name))

    def of_record(self, record: QueryApi) -> int:
        """The position of an API known from an ``api_list`` record, added if new."""
        found = self._by_names.get((name_key(record.tool_name), name_key(record.api_name)))
        if found is not None:
            return found
        self.from_records += 1
        return self._add(record_document(record.model_dump(exclude_none=True)))

    def texts(self) -> list[str]:
        return [document.text for document in self.documents]


@dataclass(frozen=True)
class TrainingQuery:
    """One instruction with the corpus positions of its relevant APIs."""

    qid: str  # unique over every source: "<source>:<group>:<query id>"
    group: str
    text: str
    relevant: tuple[int, ...]
    split: Split


@dataclass
class TrainingData:
    """The instructions to train and evaluate on, and what was left out and why."""

    corpus: Corpus
    queries: list[TrainingQuery] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    unresolved_apis: int = 0  # relevant APIs found neither in the catalog nor in the api_list
    sources: list[str] = field(default_factory=list)

    def split(self, side: Split) -> list[TrainingQuery]:
        return [query for query in self.queries if query.split == side]

    def pair_count(self, side: Split) -> int:
        return sum(len(query.relevant) for query in self.split(side))

    def pairs_by_group(self) -> dict[str, dict[str, int]]:
        """Pairs per group and split, for the training record."""
        counts: dict[str, dict[str, int]] = {}
        for query in self.queries:
            group = counts.setdefault(query.group, {TRAIN: 0, EVAL: 0})
            group[query.split] += len(query.relevant)
        return dict(sorted(counts.items()))


def _relevant_positions(record: QueryRecord, resolver: ApiResolver, corpus: Corpus) -> tuple[list[int], int]:
    """The corpus positions of a query's relevant APIs, and how many could not be found."""
    names = record.relevant_apis or []
    ids = record.relevant_api_ids or []
    by_names = {(name_key(entry.tool_name), name_key(entry.api_name)): entry for entry in record.api_list}
    positions: list[int] = []
    missing = 0
    for index in range(max(len(names), len(ids))):
        found = resolver.by_ids.get(ids[index]) if index < len(ids) else None
        if found is None and index < len(names):
            found = resolver.resolve_names(*names[index])
        position = corpus.of_catalog(*found) if found is not None else None
        if position is None and index < len(names):
            entry = by_names.get((name_key(names[index][0]), name_key(names[index][1])))
            if entry is not None:
                position = corpus.of_record(entry)
        if position is None:
            missing += 1
        elif position not in positions:
            positions.append(position)
    return positions, missing


def add_queries(
    data: TrainingData, records: Iterable[QueryRecord], resolver: ApiResolver, *, source: str, settings: Settings
) -> None:
    """Add the instructions of ``records`` that have a relevant API to train or evaluate on.

    Skipped, counted by reason: a repeated (group, query id) of the same source, an empty
    instruction, a query without "relevant APIs", and one none of whose relevant APIs is found.
    """
    seen: set[tuple[str, str]] = set()
    for record in records:
        if record.key in seen:
            data.skipped["duplicate query id"] += 1
            continue
        seen.add(record.key)
        text = record.query.strip()
        if not text:
            data.skipped["empty query"] += 1
            continue
        if not record.relevant_apis and not record.relevant_api_ids:
            data.skipped["no relevant APIs"] += 1
            continue
        for entry in record.api_list:  # every API offered is in the corpus: the others are its distractors
            found = resolver.resolve(entry)
            if found is None or data.corpus.of_catalog(*found) is None:
                data.corpus.of_record(entry)
        positions, missing = _relevant_positions(record, resolver, data.corpus)
        data.unresolved_apis += missing
        if not positions:
            data.skipped["no relevant API found"] += 1
            continue
        split = split_of(text, eval_fraction=settings.export.eval_fraction, seed=settings.export.split_seed)
        data.queries.append(TrainingQuery(
            qid=f"{source}:{record.group}:{record.query_id}", group=record.group, text=text,
            relevant=tuple(positions), split=split,
        ))


def _tolerant(path: Path, data: TrainingData) -> Iterable[QueryRecord]:
    def unreadable(error: RecordError) -> None:
        data.skipped["unreadable query"] += 1
        log.warning("skipped an unreadable query: %s", error)

    return read_query_file(path, on_error=unreadable)


def load_training_data(
    settings: Settings, tools: Iterable[Tool], *, queries: Sequence[Path] = (), include_run: bool = True
) -> TrainingData:
    """The instructions of the run (``include_run``) and of ``queries`` files, resolved and split.

    ``tools`` is the run's catalog (may be empty when only query files are used: their
    ``api_list`` records then make the whole corpus).
    """
    tool_list = list(tools)
    data = TrainingData(corpus=Corpus(tool_list))
    resolver = ApiResolver(tool_list)
    if include_run:
        files = query_files(settings.run_dir)
        data.sources += [str(path) for path in files]
        records = (record for path in files for record in _tolerant(path, data))
        add_queries(data, records, resolver, source=RUN_SOURCE, settings=settings)
    for number, path in enumerate(queries, start=1):
        data.sources.append(str(path))
        add_queries(data, _tolerant(Path(path), data), resolver, source=f"file{number}", settings=settings)
    return data
