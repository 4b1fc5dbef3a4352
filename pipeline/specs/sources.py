"""Turn what the user names (files, folders, URLs) into a list of things to read."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.models import SourceError
from pipeline.net import is_http_url
from pipeline.redact import redact_url
from pipeline.specs.isolation import SourceRejected, SourceSteps, isolated
from pipeline.specs.read import SourceTask

SPEC_SUFFIXES = (".json", ".yaml", ".yml")


@dataclass
class Discovery:
    local: list[SourceTask] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)
    errors: list[SourceError] = field(default_factory=list)


def discover(inputs: list[str]) -> Discovery:
    """Expand files and folders (recursively) into read tasks; keep URLs for the fetcher.

    Hidden files and folders are skipped; the same file named twice is read once. A spec's
    folder name is offered as its category fallback (ToolBench's ``<Category>/<tool>.json``).
    Whatever is named is handed to the reader, which alone decides what can be read (a named
    pipe or a device is refused there, with a reason); an input that cannot be expanded, or a
    folder that cannot be listed, is an error of its own.
    """
    found = Discovery()
    seen: set[str] = set()
    for raw in inputs:
        if is_http_url(raw):
            if raw not in found.urls:
                found.urls.append(raw)
            continue

        def expand(steps: SourceSteps, raw: str = raw) -> None:
            path = Path(raw).expanduser()
            if path.is_dir():
                for file in _walk(path, found.errors):
                    _add(found, seen, file)
            elif os.path.lexists(path):
                _add(found, seen, path)
            elif "://" in raw:
                raise SourceRejected("only http(s) URLs can be fetched")
            else:
                raise SourceRejected("no such file or folder")

        isolated(redact_url(raw), expand, found.errors.append, first_step="discover")
    return found


def _walk(root: Path, errors: list[SourceError]) -> list[Path]:
    def unlisted(error: OSError) -> None:
        errors.append(
            SourceError(
                source=str(error.filename or root),
                stage="discover",
                reason=f"cannot list folder: {error.strerror or error}",
            )
        )

    files: list[Path] = []
    for folder, dirs, names in os.walk(root, onerror=unlisted):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        files.extend(
            Path(folder) / name
            for name in sorted(names)
            if not name.startswith(".") and name.lower().endswith(SPEC_SUFFIXES)
        )
    return files


def _add(found: Discovery, seen: set[str], path: Path) -> None:
    resolved = os.path.realpath(path)  # never raises (a symlink loop stays as it is)
    if resolved in seen:
        return
    seen.add(resolved)
    found.local.append(
        SourceTask(path=path, location=str(path), kind="file", folder_category=path.parent.name or None)
    )
