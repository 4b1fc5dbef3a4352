"""Turn what the user names (files, folders, URLs) into a list of things to read."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.models import SourceError
from pipeline.net import is_http_url
from pipeline.redact import redact_url
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
    """
    found = Discovery()
    seen: set[Path] = set()
    for raw in inputs:
        if is_http_url(raw):
            if raw not in found.urls:
                found.urls.append(raw)
            continue
        path = Path(raw).expanduser()
        if path.is_file():
            _add(found, seen, path)
        elif path.is_dir():
            for file in _walk(path):
                _add(found, seen, file)
        elif "://" in raw:
            found.errors.append(SourceError(source=redact_url(raw), stage="discover", reason="only http(s) URLs can be fetched"))
        else:
            found.errors.append(SourceError(source=redact_url(raw), stage="discover", reason="no such file or folder"))
    return found


def _walk(root: Path) -> list[Path]:
    files: list[Path] = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        files.extend(
            Path(folder) / name
            for name in sorted(names)
            if not name.startswith(".") and name.lower().endswith(SPEC_SUFFIXES)
        )
    return files


def _add(found: Discovery, seen: set[Path], path: Path) -> None:
    resolved = path.resolve()
    if resolved in seen:
        return
    seen.add(resolved)
    found.local.append(
        SourceTask(path=path, location=str(path), kind="file", folder_category=path.parent.name or None)
    )
