"""read_source reads each file once, so a file that fails after it was read costs only itself."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from pipeline.specs import read as read_module
from pipeline.specs.openapi import ReadOptions
from pipeline.specs.read import SourceTask, read_source

SPEC = """
openapi: 3.0.0
info: {title: Once, version: '1'}
paths:
  /a: {get: {operationId: a, responses: {'200': {description: ok}}}}
"""


def test_a_file_is_read_once_and_a_later_failure_cannot_crash_the_reader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "once.yaml"
    path.write_text(SPEC, encoding="utf-8")
    real_read_bytes = read_module.read_bytes
    reads: list[Path] = []

    def read_then_fail(file: Path, max_bytes: int) -> bytes:
        reads.append(file)
        if len(reads) > 1:  # the disk goes away after the first read
            raise OSError(errno.EIO, "Input/output error")
        return real_read_bytes(file, max_bytes)

    monkeypatch.setattr(read_module, "read_bytes", read_then_fail)

    outcome = read_source(SourceTask(path=path, location=str(path)), ReadOptions())

    assert outcome.error is None
    assert [tool["tool_name"] for tool in outcome.tools] == ["Once"]
    assert reads == [path]
