"""One writer per run folder.

Two processes writing one run folder duplicate its data (two annotate stages append the same
searches), so every stage that writes takes ``<run>/.toolgen.lock`` for as long as it runs
(:func:`pipeline.stages.run_stage`). The lock is an advisory ``flock`` on that file: the kernel
drops it when the holder exits, however it exits, so a lock left by a killed process is never in
the way (the file stays; only a live holder counts). The file names the holder, so a second
writer is told who holds the folder and fails at once instead of waiting.

A process may take the lock again while it holds it (``toolgen run`` holds it across stages that
each take it; Prefect subflows run stages in the same process), so holds are counted per folder
in this process. That table is module state on purpose: ``flock`` belongs to an open file, and
a second open of the same file in the same process would refuse itself.
"""

from __future__ import annotations

import fcntl
import os
import socket
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ValidationError

from pipeline.errors import ConfigError
from pipeline.io import dumps
from pipeline.redact import redact_text

LOCK_NAME = ".toolgen.lock"


class RunFolderBusy(ConfigError):
    """Another live process is writing the run folder; the message names it."""


class LockNote(BaseModel):
    """What the lock file says about its holder."""

    pid: int
    host: str
    purpose: str = ""
    command: str = ""

    def describe(self) -> str:
        what = f" ({self.purpose})" if self.purpose else ""
        return f"process {self.pid} on {self.host}{what}" + (f": {self.command}" if self.command else "")


@dataclass
class _Hold:
    fd: int
    count: int


_held: dict[Path, _Hold] = {}
_table = threading.Lock()


@contextmanager
def run_folder_lock(run_dir: Path, *, purpose: str = "") -> Iterator[None]:
    """Hold the run folder's writer lock for the block; raise :class:`RunFolderBusy` at once if
    another process holds it, :class:`~pipeline.errors.ConfigError` if the folder cannot be made
    or written."""
    folder = Path(run_dir).resolve()
    with _table:
        hold = _held.get(folder)
        if hold is not None:
            hold.count += 1
        else:
            _held[folder] = _acquire(folder, purpose)
    try:
        yield
    finally:
        with _table:
            hold = _held[folder]
            hold.count -= 1
            if hold.count == 0:
                del _held[folder]
                os.close(hold.fd)  # closing the file releases the flock


def lock_holder(run_dir: Path) -> str | None:
    """Who holds the run folder's lock, as the lock file says; ``None`` when nobody live does."""
    path = Path(run_dir) / LOCK_NAME
    if not path.is_file():
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _describe(path)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def check_writable(folder: Path, *, what: str = "run folder") -> None:
    """Raise :class:`~pipeline.errors.ConfigError` naming ``folder`` unless it is (or can be made)
    a folder this process can create files in: for commands that write without the lock."""
    folder = Path(folder)
    try:
        _make_folder(folder, what)
        probe = tempfile.NamedTemporaryFile(dir=folder, prefix=".toolgen-probe-")  # noqa: SIM115
        probe.close()  # removed on close
    except OSError as error:
        raise ConfigError(f"{what} {folder} cannot be written: {error.strerror or error}") from None


def _make_folder(folder: Path, what: str) -> None:
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"{what} {folder} is a file, not a folder")
    folder.mkdir(parents=True, exist_ok=True)


def _acquire(folder: Path, purpose: str) -> _Hold:
    try:
        _make_folder(folder, "run folder")
        fd = os.open(folder / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as error:
        raise ConfigError(f"run folder {folder} cannot be written: {error.strerror or error}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        holder = _describe(folder / LOCK_NAME) or "another process"
        raise RunFolderBusy(
            f"run folder {folder} is being written by {holder}; wait for it to finish or use another --out"
        ) from None
    except OSError as error:  # a file system without flock
        os.close(fd)
        raise ConfigError(f"run folder {folder}: cannot lock {LOCK_NAME}: {error.strerror or error}") from None
    # the command line may name a source URL with a key in it: the lock file is readable by all
    command = redact_text(" ".join([os.path.basename(sys.argv[0]), *sys.argv[1:]]))[:300] if sys.argv else ""
    note = LockNote(pid=os.getpid(), host=socket.gethostname(), purpose=purpose, command=command)
    os.ftruncate(fd, 0)
    os.pwrite(fd, dumps(note.model_dump()) + b"\n", 0)
    return _Hold(fd=fd, count=1)


def _describe(path: Path) -> str | None:
    try:
        return LockNote.model_validate_json(path.read_bytes()).describe()
    except (OSError, ValidationError):
        return None  # written by nobody we know, or being written right now
