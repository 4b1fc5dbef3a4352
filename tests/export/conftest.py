"""One offline run (sandbox catalog → queries → DFSDT trajectories) shared by the export tests."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import pytest

from pipeline.generate.stage import generate_queries
from pipeline.io import read_json, read_jsonl, write_json, write_jsonl
from pipeline.records import accepted_path
from pipeline.search.stage import annotate_queries
from pipeline.settings import Settings, load_settings
from pipeline.specs.collect import collect_catalog

REPO = Path(__file__).resolve().parents[2]
DUPLICATE_COPIES = 4


def settings_for(run_dir: Path, **overrides: Any) -> Settings:
    overrides.setdefault("collect", {"workers": 0})
    return load_settings(run_dir=run_dir, **overrides)


def accepted_records(run_dir: Path) -> list[dict[str, Any]]:
    """Answered trajectories marked as verified, plus re-worded copies of a few instructions.

    The copies change case and spacing only, so they are the same instruction to the split.
    """
    records = []
    for path in sorted((run_dir / "trajectories").glob("*.jsonl")):
        for record in read_jsonl(path):
            if record["finish_type"] == "give_answer":
                records.append({**record, "verification": {"passed": True, "format": {"passed": True}}})
    for record in records[:DUPLICATE_COPIES]:
        copy = dict(record)
        copy["query_id"] = f"{record['query_id']}-dup"
        copy["query"] = "  " + record["query"].upper().replace(" ", "   ") + "\n"
        records.append(copy)
    return records


@pytest.fixture(scope="session")
def offline_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run folder with a catalog, trajectories and ``verified/accepted.jsonl``."""
    run_dir = tmp_path_factory.mktemp("export") / "run"
    settings = settings_for(run_dir, collect={"workers": 0, "sources": [str(REPO / "api_specs" / "sandbox")]},
                            generate={"per_group": {"G1": 3, "G2": 3, "G3": 3}, "instructions_per_set": 4})
    asyncio.run(collect_catalog(None, settings))
    asyncio.run(generate_queries(settings))
    asyncio.run(annotate_queries(settings_for(run_dir)))
    write_jsonl(accepted_path(run_dir), accepted_records(run_dir))
    return run_dir


@pytest.fixture
def run_copy(offline_run: Path, tmp_path: Path) -> Path:
    """A private copy of the offline run (catalog, manifest, accepted samples) for one test."""
    target = tmp_path / "run"
    for folder in ("catalog", "verified"):
        shutil.copytree(offline_run / folder, target / folder)
    manifest = read_json(offline_run / "manifest.json")
    manifest.get("stages", {}).pop("export", None)  # other tests may have exported the shared run
    write_json(target / "manifest.json", manifest)
    return target
