"""Fixtures for the spec-reader tests: write a spec into a temporary folder and read it.

``read_spec`` returns the whole :class:`SourceOutcome` (for tests about errors and warnings);
``read_tool`` insists the read succeeded and returns the one :class:`Tool`. ``read_isolated``
reads in a forked child so a hostile file that hangs or crashes the reader fails its own test
instead of taking the test process down with it.
"""

from __future__ import annotations

import multiprocessing
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import orjson
import pytest

from pipeline.models import Tool
from pipeline.specs.openapi import ReadOptions
from pipeline.specs.read import SourceOutcome, SourceTask, read_source

SpecContent = str | bytes | dict[str, Any]


def write_spec(folder: Path, content: SpecContent, name: str) -> Path:
    """Write ``content`` to ``folder/name``: dicts as JSON, text dedented, bytes as they are."""
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, dict):
        path.write_bytes(orjson.dumps(content))
    elif isinstance(content, str):
        path.write_text(textwrap.dedent(content).lstrip("\n"), encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


@pytest.fixture
def read_spec(tmp_path: Path) -> Callable[..., SourceOutcome]:
    def read(
        content: SpecContent,
        name: str = "spec.yaml",
        *,
        options: ReadOptions | None = None,
        **task: Any,
    ) -> SourceOutcome:
        path = write_spec(tmp_path, content, name)
        location = task.pop("location", str(path))
        return read_source(SourceTask(path=path, location=location, **task), options or ReadOptions())

    return read


@pytest.fixture
def read_tool(read_spec: Callable[..., SourceOutcome]) -> Callable[..., Tool]:
    def read(content: SpecContent, name: str = "spec.yaml", **kwargs: Any) -> Tool:
        outcome = read_spec(content, name, **kwargs)
        assert outcome.error is None, outcome.error
        assert len(outcome.tools) == 1
        return Tool.model_validate(outcome.tools[0])

    return read


@dataclass
class IsolatedRead:
    outcome: SourceOutcome | None
    seconds: float
    failure: str | None  # "timeout" or "exit code N" when the child did not answer


def _read_in_child(connection: Connection, task: SourceTask, options: ReadOptions) -> None:
    outcome = read_source(task, options)
    connection.send_bytes(orjson.dumps(outcome.model_dump(mode="json")))
    connection.close()


@pytest.fixture
def read_isolated(tmp_path: Path) -> Callable[..., IsolatedRead]:
    def read(
        content: SpecContent,
        name: str = "spec.yaml",
        *,
        options: ReadOptions | None = None,
        timeout: float = 15.0,
    ) -> IsolatedRead:
        path = write_spec(tmp_path, content, name)
        task = SourceTask(path=path, location=str(path))
        context = multiprocessing.get_context("fork")  # cheap: no re-import in the child
        receiver, sender = context.Pipe(duplex=False)
        child = context.Process(target=_read_in_child, args=(sender, task, options or ReadOptions()))
        started = time.perf_counter()
        child.start()
        sender.close()
        try:
            if not receiver.poll(timeout):
                child.kill()
                child.join()
                return IsolatedRead(None, time.perf_counter() - started, "timeout")
            try:
                data = receiver.recv_bytes()
            except EOFError:  # the child died before answering (a segfault, say)
                child.join()
                return IsolatedRead(None, time.perf_counter() - started, f"exit code {child.exitcode}")
            seconds = time.perf_counter() - started
            child.join()
            return IsolatedRead(SourceOutcome.model_validate(orjson.loads(data)), seconds, None)
        finally:
            receiver.close()

    return read
