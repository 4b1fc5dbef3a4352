"""A persistent response cache shared by every process of a run (StableToolBench's first step).

Each call's observation is stored under (tool id, API id, canonical arguments) — see
:mod:`pipeline.canonical` for when two argument sets count as one call — so a rerun, a
resumed run or another worker replays a response instead of calling or simulating again, and
the successful entries of an API are the examples an LLM-played simulator is shown.

A read whose answer depends on what its caller wrote before (the cart it filled, the booking it
made) is stored under a ``state`` as well: the environment's fingerprint of those writes (see
:mod:`pipeline.env.environment`). Its key is then a different one, so the answer is replayed only
to a caller with the same history of writes, while reads with no ``state`` (none written yet:
the seeded state everyone starts from) are shared by all callers.

Storage is one SQLite file in WAL mode: readers never block the writer, writers queue on a
busy timeout, every write is one short autocommit statement, so several processes (DFSDT
workers, Prefect tasks, a Dask cluster on one machine) can share the file. ``synchronous=NORMAL``
keeps commits off ``fsync`` (a power cut may lose the last writes; a crashed process loses
nothing committed). The file is not for network file systems, where SQLite's locks are unreliable.

Table ``responses`` (``PRAGMA user_version`` = 1):

======================  ========================================================================
``key``                 primary key: sha256 of ``[tool_id, api_id, canonical arguments]``, with
                        a ``state`` the sha256 of ``"<that key>:<state>"``
``tool_id``, ``api_id``  the call's tool and API
``arguments``           the canonical arguments (JSON text)
``observation``         the whole :class:`Observation` as JSON (stored with ``cached`` false)
``mode``                real / simulated / llm-simulated / rejected, for queries and reports
``ok``                  1 when the observation has no error and no HTTP status ≥ 400
``created_at``          Unix time of the first write of this call
``updated_at``          Unix time of the latest write (an upsert replaces the observation)
======================  ========================================================================

A file at the path that is not SQLite, or is another program's SQLite database, or a cache of a
newer layout, is refused with a :class:`CacheError` naming the path; it is never moved or
overwritten, because a cache may hold responses that cost money (LLM simulations, metered APIs)
and another process may be using it. Delete or move it to start afresh.

Calls are synchronous: a lookup takes tens of microseconds and a write about a hundred (see the
report in the tests), less than handing the work to a thread would cost, so async code calls
them directly.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pipeline.canonical import canonical_arguments, key_of_canonical
from pipeline.env.observation import Observation
from pipeline.io import dumps, loads
from pipeline.sqlite_store import SqliteStore, StoreError

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    tool_id TEXT NOT NULL,
    api_id TEXT NOT NULL,
    arguments TEXT NOT NULL,
    observation TEXT NOT NULL,
    mode TEXT NOT NULL,
    ok INTEGER NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS responses_by_api ON responses (tool_id, api_id, ok, updated_at);
"""

_UPSERT = """
INSERT INTO responses (key, tool_id, api_id, arguments, observation, mode, ok, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (key) DO UPDATE SET
    observation = excluded.observation,
    mode = excluded.mode,
    ok = excluded.ok,
    updated_at = excluded.updated_at
"""


class CacheError(StoreError):
    """The cache file cannot be used; the message names it and says what to do."""


@dataclass
class CacheStats:
    """What this cache object did (per instance, not per file)."""

    hits: int = 0
    misses: int = 0
    writes: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


class ResponseCache(SqliteStore):
    """Observations by (tool id, API id, canonical arguments), in an SQLite file many
    processes may share. One connection per instance, usable from several threads."""

    label = "response cache"
    schema = _SCHEMA
    tables = frozenset({"responses"})
    version = SCHEMA_VERSION
    error_type = CacheError

    def __init__(self, path: Path, *, timeout_s: float = 30.0) -> None:
        self.stats = CacheStats()
        super().__init__(path, timeout_s=timeout_s)

    # ---- public API

    def get(self, tool_id: str, api_id: str, arguments: Any, *,
            state: str | None = None) -> Observation | None:
        """The stored observation of this call in this ``state`` (``cached=True``), or None."""
        key = _key(tool_id, api_id, canonical_arguments(arguments), state)
        with self._lock:
            row = self._run("SELECT observation FROM responses WHERE key = ?", (key,)).fetchone()
            if row is None:
                self.stats.misses += 1
                return None
            self.stats.hits += 1
        return _observation(row[0])

    def put(self, tool_id: str, api_id: str, arguments: Any, observation: Observation, *,
            state: str | None = None) -> None:
        """Store (or replace) the observation of this call in this ``state``."""
        canonical = canonical_arguments(arguments)
        key = _key(tool_id, api_id, canonical, state)
        record = observation.model_dump(mode="json")
        record["cached"] = False
        ok = not observation.error and (observation.status is None or observation.status < 400)
        now = time.time()
        row = (key, tool_id, api_id, canonical, dumps(record).decode("utf-8"), observation.mode,
               int(ok), now, now)
        with self._lock:
            self._run(_UPSERT, row)
            self.stats.writes += 1

    def examples(self, tool_id: str, api_id: str, limit: int = 5) -> list[tuple[dict[str, Any], Observation]]:
        """The most recent successful (arguments, observation) pairs of an API, newest first:
        what StableToolBench shows its LLM simulator. Arguments come back canonical."""
        if limit <= 0:
            return []
        with self._lock:
            rows = self._run(
                "SELECT arguments, observation FROM responses WHERE tool_id = ? AND api_id = ? AND ok = 1 "
                "ORDER BY updated_at DESC, rowid DESC LIMIT ?",
                (tool_id, api_id, limit),
            ).fetchall()
        return [(loads(arguments), _observation(observation)) for arguments, observation in rows]

    def __len__(self) -> int:
        with self._lock:
            return int(self._run("SELECT count(*) FROM responses", ()).fetchone()[0])

    def __enter__(self) -> ResponseCache:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ResponseCache({str(self.path)!r}, {self.stats.as_dict()})"


def _key(tool_id: str, api_id: str, canonical: str, state: str | None) -> str:
    key = key_of_canonical(tool_id, api_id, canonical)
    # without a state the key is the call's own, as in files written before states existed
    return key if state is None else hashlib.sha256(f"{key}:{state}".encode()).hexdigest()


def _observation(text: str) -> Observation:
    observation = Observation.model_validate(loads(text))
    observation.cached = True
    return observation
