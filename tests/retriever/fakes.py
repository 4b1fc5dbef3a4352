"""A SearchBackend fake for the service and open-domain tests: answers are a function of the query."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from pipeline.retriever.hits import Hit


class RecordingBackend:
    """Ranks ``apis`` (``(tool_id, api_id)`` pairs) by how many query words name them, records every call.

    With no ``apis``, hit ``i`` of a query is ``tool_name=query, api_name=f"api{i}"``, so a client
    can tell its answer from another's. ``delay`` seconds per call make concurrent requests pile
    up, as encoding does.
    """

    documents = 3
    model_name = "fake-encoder"
    ranking = "dense"

    def __init__(self, apis: Sequence[tuple[str, str]] = (), *, delay: float = 0.0, fail: bool = False) -> None:
        self.apis = list(apis)
        self.delay = delay
        self.fail = fail
        self.batches: list[list[str]] = []
        self.ks: list[int] = []
        self.threads: set[str] = set()
        self._lock = threading.Lock()

    def search(self, queries: Sequence[str], k: int) -> list[list[Hit]]:
        with self._lock:
            self.batches.append(list(queries))
            self.ks.append(k)
            self.threads.add(threading.current_thread().name)
        if self.delay:
            time.sleep(self.delay)
        if self.fail:
            raise RuntimeError("index is broken")
        return [self._rank(query, k) for query in queries]

    def _rank(self, query: str, k: int) -> list[Hit]:
        if not self.apis:
            return [Hit(tool_name=query, api_name=f"api{i}", category="c", score=1.0 - i / 100,
                        tool_id=f"t-{query}", api_id=f"a{i}") for i in range(k)]
        words = set(query.lower().split())
        scored = sorted(self.apis, key=lambda pair: (-sum(w in words for w in pair[1].lower().split("_")), pair))
        return [Hit(tool_name=tool_id, api_name=api_id, category="c", score=float(-rank), tool_id=tool_id,
                    api_id=api_id) for rank, (tool_id, api_id) in enumerate(scored[:k])]
