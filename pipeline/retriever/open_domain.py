"""Open-domain annotation: the retriever, not the query's ``api_list``, chooses a query's APIs.

As in ToolBench's open-domain inference (``qa_pipeline_open_domain``), each query's instruction
is searched against the whole catalog and its top ``k`` APIs are what the policy is offered.
ToolBench asks its retriever for more than ``k`` and keeps the first ``k`` that exist in its tool
folder; here a hit is kept when its ids are in the run's catalog (an index older than the catalog
may still name a removed API), and the retriever is asked for twice ``k`` to leave room for that.

When a query's relevant APIs are known, its retrieval recall is the share of those (the ones in
the catalog) that were retrieved: how often the policy was offered what the query needs.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pipeline.models import Api, Tool
from pipeline.records import ApiPair
from pipeline.retriever.hits import SearchBackend
from pipeline.settings import RetrieverSettings

log = logging.getLogger(__name__)

OVERFETCH = 2  # hits asked for per API kept: room for hits not in the catalog


@dataclass(frozen=True)
class Retrieved:
    """What the retriever gave one query: the catalog APIs kept, best first, and its recall."""

    pairs: list[tuple[Tool, Api]]
    recall: float | None  # None: the query's relevant APIs are unknown (or none is in the catalog)

    @property
    def names(self) -> list[ApiPair]:
        """(tool name, API name), the layout of ToolBench's ``relevant APIs``."""
        return [(tool.tool_name, api.name) for tool, api in self.pairs]

    @property
    def ids(self) -> list[ApiPair]:
        return [(tool.id, api.id) for tool, api in self.pairs]


def retrieval_recall(retrieved: Sequence[ApiPair], relevant: Sequence[ApiPair] | None) -> float | None:
    """The share of ``relevant`` found in ``retrieved`` (None when nothing is relevant)."""
    if not relevant:
        return None
    wanted = set(relevant)
    return len(wanted & set(retrieved)) / len(wanted)


def retrieve_apis(
    backend: SearchBackend,
    queries: Sequence[str],
    catalog: dict[tuple[str, str], tuple[Tool, Api]],
    *,
    k: int,
    relevant: Sequence[Sequence[ApiPair] | None] | None = None,
    batch_size: int = 64,
) -> list[Retrieved]:
    """The top ``k`` catalog APIs per query, ``batch_size`` queries per backend call.

    ``catalog`` maps (tool id, API id) to the catalog's (Tool, API); ``relevant`` (per query,
    ids) gives each result its recall.
    """
    if relevant is not None and len(relevant) != len(queries):
        raise ValueError("relevant must have one entry per query")
    results: list[Retrieved] = []
    missing = 0
    for start in range(0, len(queries), batch_size):
        batch = list(queries[start:start + batch_size])
        for offset, hits in enumerate(backend.search(batch, k * OVERFETCH)):
            pairs: list[tuple[Tool, Api]] = []
            for hit in hits:
                found = catalog.get((hit.tool_id, hit.api_id))
                if found is None:
                    missing += 1
                    continue
                if found not in pairs:
                    pairs.append(found)
                if len(pairs) == k:
                    break
            wanted = relevant[start + offset] if relevant is not None else None
            ids = [(tool.id, api.id) for tool, api in pairs]
            results.append(Retrieved(pairs, retrieval_recall(ids, wanted)))
    if missing:
        log.warning("open domain: %d retrieved APIs are not in the catalog (rebuild the index: "
                    "toolgen retriever build)", missing)
    return results


def open_run_retriever(run_dir: Path, settings: RetrieverSettings, ranking: str | None = None) -> SearchBackend:
    """The run's saved retriever index with its model, loaded once."""
    from pipeline.retriever.search import Retriever  # torch: only when needed

    backend: SearchBackend = Retriever.open(Path(run_dir), settings, ranking=ranking)
    return backend
