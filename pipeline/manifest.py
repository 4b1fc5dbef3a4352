"""``manifest.json``: what a run folder holds and how it was made.

Each stage records its section (counts, timings, its own figures) under ``stages``; the
configuration (secrets masked) and the versions of toolgen, Python and the main libraries are
refreshed on every write. Updates are read-modify-write under a file lock, so stages running
in separate processes do not lose each other's sections.
"""

from __future__ import annotations

import platform
import sys
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from filelock import FileLock

from pipeline import __version__
from pipeline.io import read_json, write_json
from pipeline.redact import redact_value
from pipeline.settings import Settings, redacted_dump

MANIFEST_NAME = "manifest.json"
_TRACKED_PACKAGES = (
    "openai",
    "aiohttp",
    "networkx",
    "faiss-cpu",
    "sentence-transformers",
    "orjson",
    "prefect",
    "pydantic",
    "PyYAML",
)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def read_manifest(run_dir: Path) -> dict[str, Any]:
    path = Path(run_dir) / MANIFEST_NAME
    return read_json(path) if path.is_file() else {}


def record_stage(
    run_dir: Path, stage: str, section: dict[str, Any], settings: Settings, *, merge: bool = False
) -> dict[str, Any]:
    """Write ``section`` as ``stages[stage]`` of the run's manifest; returns the whole manifest.

    ``merge`` updates the stage's existing section with ``section``'s keys instead of replacing
    it, under the same lock, so stages recorded in parts (one export format at a time, from
    several processes) lose none of them.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    with FileLock(str(run_dir / f".{MANIFEST_NAME}.lock")):
        manifest = read_manifest(run_dir)
        manifest.setdefault("run", settings.run_name)
        manifest.setdefault("created", now_iso())
        manifest["updated"] = now_iso()
        manifest["toolgen_version"] = __version__
        manifest["python"] = sys.version.split()[0]
        manifest["platform"] = platform.platform()
        manifest["packages"] = _package_versions()
        manifest["config"] = redacted_dump(settings)
        stages = manifest.setdefault("stages", {})
        section = redact_value(section, by_key=False)  # a source URL's userinfo, a key in an error text
        stages[stage] = {**(stages.get(stage) or {}), **section} if merge else section
        write_json(run_dir / MANIFEST_NAME, manifest)
    return manifest


def _package_versions() -> dict[str, str]:
    versions = {}
    for name in _TRACKED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions
