"""One SQLite file that every process of a run may share: the base of toolgen's caches.

WAL mode lets readers run beside the one writer; writers queue on a busy timeout; each write
is a short autocommit statement. A file at the path that is not SQLite, is another program's
database, or has a newer layout is refused with an error naming the path, and never moved or
overwritten: a cache may hold answers that cost money and another process may be using it.
A forked child opens its own connection (SQLite forbids sharing one across a fork).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, ClassVar

log = logging.getLogger(__name__)


class StoreError(Exception):
    """The store's file cannot be used; the message names it and says what to do."""


class SqliteStore:
    """Subclasses set what the file holds; ``_run`` executes one statement under the lock's care
    of the caller (hold ``self._lock`` around a read-modify sequence)."""

    label: ClassVar[str] = "store"
    schema: ClassVar[str] = ""  # CREATE statements separated by ";"
    tables: ClassVar[frozenset[str]] = frozenset()
    version: ClassVar[int] = 1
    error_type: ClassVar[type[StoreError]] = StoreError

    def __init__(self, path: Path, *, timeout_s: float = 30.0) -> None:
        self.path = Path(path)
        self.timeout_s = timeout_s
        self._lock = threading.Lock()
        self._inherited: list[sqlite3.Connection] = []
        self._connection: sqlite3.Connection | None = self._open()
        self._pid = os.getpid()

    def close(self) -> None:
        with self._lock:
            if self._connection is not None and os.getpid() == self._pid:
                self._connection.close()
            self._connection = None

    def _run(self, sql: str, parameters: tuple[Any, ...]) -> sqlite3.Cursor:
        if self._connection is None:
            raise self.error_type(f"{self.label} {self.path} is closed")
        if os.getpid() != self._pid:
            # The parent's connection object is kept, unclosed, so its finaliser cannot touch
            # the parent's file state from the child.
            self._inherited.append(self._connection)
            self._connection = self._open()
            self._pid = os.getpid()
        try:
            return self._connection.execute(sql, parameters)
        except sqlite3.DatabaseError as error:
            raise self._error(error) from error

    def _open(self) -> sqlite3.Connection:
        if self.path.is_dir():
            raise self.error_type(f"{self.label} {self.path} is a directory, not a file")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(
            str(self.path), timeout=self.timeout_s, isolation_level=None, check_same_thread=False
        )
        deadline = time.monotonic() + self.timeout_s
        while True:
            try:
                self._prepare(connection)
                return connection
            except sqlite3.OperationalError as error:
                if is_busy(error) and time.monotonic() < deadline:
                    time.sleep(0.05)  # another process is creating the file or switching it to WAL
                    continue
                connection.close()
                raise self._error(error) from error
            except sqlite3.DatabaseError as error:
                connection.close()
                raise self._error(error) from error
            except StoreError:
                connection.close()
                raise

    def _prepare(self, connection: sqlite3.Connection) -> None:
        connection.execute(f"PRAGMA busy_timeout = {int(self.timeout_s * 1000)}")
        mode = connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            log.warning("%s %s: WAL mode unavailable (journal mode %s); writers will wait longer",
                        self.label, self.path, mode)
        connection.execute("PRAGMA synchronous = NORMAL")
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        if version == self.version:
            return
        if version > self.version:
            raise self.error_type(
                f"{self.label} {self.path} was written by a newer toolgen "
                f"(layout {version}, this one reads {self.version}); use another path"
            )
        found = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if version != 0 or found - self.tables:
            shown = ", ".join(sorted(found)) or "none"
            raise self.error_type(
                f"{self.path} is an SQLite database but not a toolgen {self.label} "
                f"(layout {version}, tables: {shown}); move it away or choose another path"
            )
        connection.execute("BEGIN IMMEDIATE")
        try:
            for statement in self.schema.split(";"):
                if statement.strip():
                    connection.execute(statement)
            connection.execute(f"PRAGMA user_version = {self.version}")
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise

    def _error(self, error: sqlite3.DatabaseError) -> StoreError:
        if isinstance(error, sqlite3.OperationalError) and is_busy(error):
            return self.error_type(
                f"{self.label} {self.path} stayed locked by another process for {self.timeout_s:g} s ({error})"
            )
        text = str(error)
        if "not a database" in text or "malformed" in text or "corrupt" in text:
            return self.error_type(
                f"{self.path} is not a usable {self.label} ({text}); it was left as it is: "
                "delete or move it to start afresh"
            )
        return self.error_type(f"{self.label} {self.path}: {text}")


def is_busy(error: sqlite3.Error) -> bool:
    text = str(error).lower()
    return "locked" in text or "busy" in text
