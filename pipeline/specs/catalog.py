"""Where a run's catalog lives and how later stages load it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import networkx as nx

from pipeline.errors import NothingToDo
from pipeline.io import read_json, read_jsonl
from pipeline.models import Tool
from pipeline.specs.graph import graph_from_json


@dataclass(frozen=True)
class CatalogPaths:
    run_dir: Path

    @property
    def folder(self) -> Path:
        return Path(self.run_dir) / "catalog"

    @property
    def tools(self) -> Path:
        return self.folder / "tools.jsonl"

    @property
    def errors(self) -> Path:
        return self.folder / "errors.jsonl"

    @property
    def filtered(self) -> Path:
        return self.folder / "filtered.jsonl"

    @property
    def graph(self) -> Path:
        return self.folder / "graph.json"

    @property
    def collections(self) -> Path:
        return self.folder / "collections.json"


class CatalogMissing(NothingToDo):
    """A stage needs a catalog and the run folder has none."""


def iter_tools(run_dir: Path) -> Iterator[Tool]:
    """Stream the catalog's tools, one validated model at a time."""
    paths = CatalogPaths(run_dir)
    if not paths.tools.is_file():
        raise CatalogMissing(f"{paths.tools} does not exist: run `toolgen collect` first")
    for record in read_jsonl(paths.tools):
        yield Tool.model_validate(record)


def load_graph(run_dir: Path) -> nx.DiGraph[str]:
    paths = CatalogPaths(run_dir)
    if not paths.graph.is_file():
        raise CatalogMissing(f"{paths.graph} does not exist: run `toolgen collect` first")
    return graph_from_json(read_json(paths.graph))
