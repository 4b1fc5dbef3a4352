"""Document expansion: an API's document gets the run's own instructions for it appended.

A new API is then findable by the words users actually use for it, without retraining the
model. Only train-split instructions are used (the exports' split rule), so the held-out
evaluation never sees its own queries inside the documents it ranks.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from pipeline.export.common import TRAIN
from pipeline.records import QueryRecord
from pipeline.retriever.documents import ApiDocument
from pipeline.retriever.index import stable_id
from pipeline.retriever.labels import labelled_queries
from pipeline.settings import ExportSettings

EXPANSION_MARK = ", example_queries: "


def expand_documents(
    documents: Sequence[ApiDocument], records: Iterable[QueryRecord], export: ExportSettings, *, per_api: int,
) -> tuple[list[ApiDocument], int]:
    """``documents`` with up to ``per_api`` train-split instructions appended to each relevant
    API's text (in query order, repeats left out); also how many documents were expanded."""
    examples: dict[int, list[str]] = {}
    for query in labelled_queries(records, documents, export):
        if query.split != TRAIN:
            continue
        for identifier in sorted(query.relevant):
            chosen = examples.setdefault(identifier, [])
            if len(chosen) < per_api and query.query not in chosen:
                chosen.append(query.query)
    expanded: list[ApiDocument] = []
    for document in documents:
        chosen = examples.get(stable_id(document.tool_id, document.api_id), [])
        if chosen:
            document = document.model_copy(update={"text": document.text + EXPANSION_MARK + " | ".join(chosen)})
        expanded.append(document)
    return expanded, sum(1 for d in documents if examples.get(stable_id(d.tool_id, d.api_id)))
