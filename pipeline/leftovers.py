"""What a killed run leaves in a run folder, and removing it when the owning stage starts again.

Writes that must not be seen half done go through a temporary name first: whole files through
:class:`pipeline.io.AtomicFile` (``.<name>.<pid>.<random>.tmp`` beside the target; before the
pid was in the name, ``.<name>.<random>.tmp``) and the exports through a staging folder
(``datasets/.<format>.partial-<pid>``, the replaced folder kept as ``.<format>.old-<pid>`` until
the new one is in place). A process killed in between leaves them behind; nothing reads them.

:func:`clean_leftovers` removes them from a stage's outputs when the stage starts. A leftover
is removed only when it cannot be live: its owner process is gone, or the stage holds the run
folder's writer lock (``exclusive``), under which nobody else writes the stage's outputs. The
run folder's own top level (the manifest, written by every stage and by the report, which runs
beside writers) is cleaned of dead owners' files only. An ``.old-<pid>`` folder whose new folder
never arrived is put back, so a kill between the two renames loses no export.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from collections.abc import Iterable
from pathlib import Path

log = logging.getLogger(__name__)

# mkstemp's random part: 8 characters of [a-z0-9_]
_ATOMIC = re.compile(r"^\.(?P<name>.+?)\.(?:(?P<pid>\d+)\.)?[a-z0-9_]{8}\.tmp$")
_STAGING = re.compile(r"^\.(?P<name>.+)\.(?P<kind>partial|old)-(?P<pid>\d+)$")
_PROBE = re.compile(r"^\.toolgen-probe-[a-z0-9_]+$")


def atomic_temp_prefix(name: str) -> str:
    """The prefix of a temporary file for ``name`` (what :class:`pipeline.io.AtomicFile` uses)."""
    return f".{name}.{os.getpid()}."


def staging_name(name: str, kind: str) -> str:
    """``.<name>.partial-<pid>`` / ``.<name>.old-<pid>``: a staging folder of this process."""
    return f".{name}.{kind}-{os.getpid()}"


def clean_leftovers(run_dir: Path, outputs: Iterable[str], *, exclusive: bool) -> int:
    """Remove what killed runs left in ``outputs`` (run-folder paths: ``catalog/`` or a file's
    path) and at the top of ``run_dir``; returns how many leftovers were handled."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        return 0
    handled = _clean_folder(run_dir, exclusive=False)  # the top level: the report writes there too
    for output in outputs:
        path = run_dir / output
        if output.endswith("/") or path.is_dir():
            for folder, _dirs, _files in os.walk(path):
                handled += _clean_folder(Path(folder), exclusive=exclusive)
        else:
            handled += _clean_folder(path.parent, exclusive=exclusive, only=path.name)
    if handled:
        log.info("removed %d leftover(s) of an interrupted run from %s", handled, run_dir)
    return handled


def _clean_folder(folder: Path, *, exclusive: bool, only: str | None = None) -> int:
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0
    handled = 0
    for entry in entries:
        atomic = _ATOMIC.match(entry.name)
        staging = _STAGING.match(entry.name)
        if atomic and entry.is_file(follow_symlinks=False):
            if only is not None and atomic["name"] != only:
                continue
            pid = int(atomic["pid"]) if atomic["pid"] else None
            if _removable(pid, exclusive):
                handled += _remove(Path(entry.path))
        elif _PROBE.match(entry.name) and entry.is_file(follow_symlinks=False) and exclusive:
            handled += _remove(Path(entry.path))
        elif staging and only is None and entry.is_dir(follow_symlinks=False):
            if not _removable(int(staging["pid"]), exclusive):
                continue
            target = folder / staging["name"]
            if staging["kind"] == "old" and not target.exists():
                os.replace(entry.path, target)  # killed between the two renames: the old one is back
                handled += 1
            else:
                handled += _remove(Path(entry.path))
    return handled


def _removable(pid: int | None, exclusive: bool) -> bool:
    """Whether a leftover of process ``pid`` (``None``: unknown) cannot be in use."""
    if pid == os.getpid():
        return False  # ours: maybe another thread's, in flight
    if pid is None:
        return exclusive
    return exclusive or not _alive(pid)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def _remove(path: Path) -> int:
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    except FileNotFoundError:
        return 0
    except OSError as error:
        log.warning("cannot remove leftover %s: %s", path, error.strerror or error)
        return 0
    return 1
