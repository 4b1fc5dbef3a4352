"""A persistent cache of model replies, so a rerun or a resumed run replays instead of paying.

The key is the SHA-256 of the canonical JSON (:func:`pipeline.canonical.canonical_value`,
keys sorted) of everything that decides an answer: the model name, messages, tools,
tool_choice, temperature, top_p, max_tokens, response_format, stop and sample_index (plus a
``namespace`` for backend settings that change what is sent, such as the tool mode). The role
is not in the key: two roles asking one model the same thing get the same answer. Sampling at
``temperature > 0`` is cached per ``sample_index``: index 0 replays the first sample, a caller
wanting a fresh one asks with the next index.

Only successful replies are stored (a :class:`~pipeline.llm.types.ModelError` passes through
uncached). A replayed reply has ``cached=True`` and the usage it cost the first time; it costs
nothing now, and the backend's accounting (which it never reaches) shows only real spending.

The file is SQLite in WAL mode with a busy timeout, shared by every process of a run, opened
the way :mod:`pipeline.env.cache` opens its file (a fork re-opens its own connection). Lookups
are synchronous: a few tens of microseconds, far less than a model call.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Self

import orjson

from pipeline.canonical import canonical_value
from pipeline.io import dumps, loads
from pipeline.llm.types import ChatModel, ChatReply, ChatRequest, check_chat_model, close_chat_model
from pipeline.sqlite_store import SqliteStore, StoreError

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS replies (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    role TEXT NOT NULL,
    request TEXT NOT NULL,
    reply TEXT NOT NULL,
    created_at REAL NOT NULL
)
"""


class ReplyCacheError(StoreError):
    """The cache file cannot be used; the message names it and says what to do."""


@dataclass
class ReplyCacheStats:
    hits: int = 0
    misses: int = 0
    writes: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def request_key(request: ChatRequest, model: str, namespace: str = "") -> str:
    """SHA-256 (hex) of everything in ``request`` that decides the answer, and the model name."""
    material = {
        "namespace": namespace,
        "model": model,
        "messages": request.messages,
        "tools": request.tools,
        "tool_choice": request.tool_choice,
        "temperature": request.temperature,
        "top_p": request.top_p,
        "max_tokens": request.max_tokens,
        "response_format": request.response_format,
        "stop": request.stop,
        "sample_index": request.sample_index,
    }
    if request.n > 1:
        material["n"] = request.n  # only when set, like the seed below
    if request.seed:
        # only when set, so the keys of caches written before runs had seeds stay valid
        material["seed"] = request.seed
    try:
        canonical = orjson.dumps(canonical_value(material), option=orjson.OPT_SORT_KEYS)
    except (TypeError, ValueError):  # deeper than canonical_value goes, or not plain JSON
        canonical = dumps(material, sort_keys=True, any_object=True)
    return hashlib.sha256(canonical).hexdigest()


class CachedChatModel(SqliteStore):
    """A :class:`~pipeline.llm.types.ChatModel` that answers from ``path`` when it can and asks
    ``inner`` (then stores the answer) when it cannot. ``model_name_for`` maps a role to the
    model name that goes into the key."""

    label = "model reply cache"
    schema = _SCHEMA
    tables = frozenset({"replies"})
    version = SCHEMA_VERSION
    error_type = ReplyCacheError

    def __init__(
        self,
        inner: ChatModel,
        path: Path,
        *,
        model_name_for: Callable[[str], str],
        namespace: str = "",
        timeout_s: float = 30.0,
    ) -> None:
        self.inner = inner
        self.namespace = namespace
        self.cache_stats = ReplyCacheStats()
        self._role_hits: defaultdict[str, list[int]] = defaultdict(lambda: [0, 0])  # role → [hits, misses]
        self._model_name_for = model_name_for
        super().__init__(path, timeout_s=timeout_s)

    # ---- public API

    async def chat(self, request: ChatRequest) -> ChatReply:
        model = self._model_name_for(request.role)
        key = request_key(request, model, self.namespace)
        cached = self.get(key)
        counts = self._role_hits[request.role]
        if cached is not None:
            counts[0] += 1
            return cached
        counts[1] += 1
        reply = await self.inner.chat(request)  # a ModelError propagates and nothing is stored
        self.put(key, request, model, reply)
        return reply

    def get(self, key: str) -> ChatReply | None:
        with self._lock:
            row = self._run("SELECT reply FROM replies WHERE key = ?", (key,)).fetchone()
            if row is None:
                self.cache_stats.misses += 1
                return None
            self.cache_stats.hits += 1
        reply = ChatReply.model_validate(loads(row[0]))
        reply.cached = True
        return reply

    def put(self, key: str, request: ChatRequest, model: str, reply: ChatReply) -> None:
        record = reply.model_dump(mode="json")
        record["cached"] = False
        row = (key, model, request.role, dumps(request.model_dump(mode="json")).decode("utf-8"),
               dumps(record).decode("utf-8"), time.time())
        with self._lock:
            self._run("INSERT OR REPLACE INTO replies (key, model, role, request, reply, created_at) "
                      "VALUES (?, ?, ?, ?, ?, ?)", row)
            self.cache_stats.writes += 1

    def stats(self) -> dict[str, dict[str, Any]]:
        """The inner model's per-role figures (if it keeps any) with cache hits and misses."""
        inner_stats = getattr(self.inner, "stats", None)
        figures: dict[str, dict[str, Any]] = {
            role: dict(values) for role, values in (inner_stats() if callable(inner_stats) else {}).items()
        }
        for role, (hits, misses) in self._role_hits.items():
            figures.setdefault(role, {}).update(cache_hits=hits, cache_misses=misses)
        return dict(sorted(figures.items()))

    def __len__(self) -> int:
        with self._lock:
            return int(self._run("SELECT count(*) FROM replies", ()).fetchone()[0])

    async def check_endpoint(self, roles: Sequence[str]) -> None:
        """The inner model's endpoint check (replies already cached do not need the endpoint,
        but a stage with work to do will ask for new ones)."""
        await check_chat_model(self.inner, roles)

    async def aclose(self) -> None:
        """Close the file and the inner model."""
        self.close()
        await close_chat_model(self.inner)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"CachedChatModel({str(self.path)!r}, {self.cache_stats.as_dict()})"
