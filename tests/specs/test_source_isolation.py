"""Only regular files are read, and only up to the cap: a named pipe, a symlink to an endless
device or a file that grows while it is read costs its own source, never the run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pipeline.specs.document import DocumentError, read_bytes
from pipeline.specs.openapi import ReadOptions
from pipeline.specs.read import SourceTask, read_source


# -- only regular files are read, and only up to the cap --------------------------------------


def test_a_named_pipe_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    pipe = tmp_path / "pipe.yaml"
    os.mkfifo(pipe)
    outcome = read_source(SourceTask(path=pipe, location=str(pipe)), ReadOptions())
    assert outcome.error is not None
    assert (outcome.error.stage, outcome.error.reason) == (
        "read",
        "not a regular file (a named pipe); only regular files are read",
    )


def test_a_symlink_to_an_endless_device_is_refused_before_it_is_opened(tmp_path: Path) -> None:
    link = tmp_path / "zero.yaml"
    link.symlink_to("/dev/zero")
    outcome = read_source(SourceTask(path=link, location=str(link)), ReadOptions())
    assert outcome.error is not None
    assert outcome.error.reason == "not a regular file (a character device); only regular files are read"


def test_a_symlink_loop_is_a_read_error(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").symlink_to(tmp_path / "b.yaml")
    (tmp_path / "b.yaml").symlink_to(tmp_path / "a.yaml")
    outcome = read_source(SourceTask(path=tmp_path / "a.yaml", location="a.yaml"), ReadOptions())
    assert outcome.error is not None
    assert (outcome.error.stage, outcome.error.reason) == ("read", "cannot read: Too many levels of symbolic links")


def test_the_read_itself_stops_at_the_cap_when_the_size_said_less() -> None:
    # /proc files say they are empty and are not: what a file that grows while it is read looks like
    assert os.stat("/proc/self/maps").st_size == 0
    with pytest.raises(DocumentError, match="grew past the cap of 10 bytes"):
        read_bytes(Path("/proc/self/maps"), 10)


def test_a_file_within_the_cap_is_read_whole(tmp_path: Path) -> None:
    data = os.urandom(200_000)
    (tmp_path / "blob.json").write_bytes(data)
    assert read_bytes(tmp_path / "blob.json", 200_000) == data
    with pytest.raises(DocumentError, match="over the cap of 199999 bytes"):
        read_bytes(tmp_path / "blob.json", 199_999)
