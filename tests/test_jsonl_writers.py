"""The JSONL writer family and the atomic file under it: the same lines from every writer, different
promises after a crash."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.io import AtomicFile, AtomicJsonlWriter, JsonlAppender, JsonlWriter, read_jsonl

RECORDS = [{"id": 1, "tags": {"b", "a"}}, {"id": 2, "path": Path("x/y")}, {"id": 3, "text": "é\n"}]


@pytest.mark.parametrize("writer", [JsonlWriter, AtomicJsonlWriter, JsonlAppender])
def test_every_writer_writes_the_same_lines_and_counts_them(tmp_path: Path, writer: type) -> None:
    target = tmp_path / "deep" / "out.jsonl"
    with writer(target) as out:
        for record in RECORDS:
            out.write(record)
        out.write_json_line(b'{"id":4}')
    assert out.count == 4
    assert list(read_jsonl(target)) == [
        {"id": 1, "tags": ["a", "b"]}, {"id": 2, "path": "x/y"}, {"id": 3, "text": "é\n"}, {"id": 4}]


def test_the_plain_writer_replaces_what_was_there(tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    target.write_text('{"old": true}\n')
    with JsonlWriter(target) as out:
        out.write({"new": True})
    assert list(read_jsonl(target)) == [{"new": True}]


def test_the_atomic_writer_keeps_the_old_file_when_the_block_fails(tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    target.write_text('{"old": true}\n')
    with pytest.raises(RuntimeError), AtomicJsonlWriter(target) as out:
        out.write({"new": True})
        raise RuntimeError("killed")
    assert list(read_jsonl(target)) == [{"old": True}]
    assert [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]  # no temporary file left


def test_the_appender_adds_to_the_file_and_each_line_is_readable_at_once(tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    target.write_bytes(b'{"id": 0}\n{"id": 1, "torn')  # a killed run's torn last line
    with JsonlAppender(target) as out:
        out.write({"id": 1})
        assert list(read_jsonl(target)) == [{"id": 0}, {"id": 1}]  # flushed, before close
        out.write({"id": 2})
    assert out.count == 2  # this appender's records, not the file's
    assert list(read_jsonl(target)) == [{"id": 0}, {"id": 1}, {"id": 2}]


def test_closing_twice_is_harmless(tmp_path: Path) -> None:
    out = JsonlAppender(tmp_path / "out.jsonl")
    out.close()
    out.close()


def test_an_atomic_file_replaces_the_target_only_on_commit(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "body.bin"
    with AtomicFile(target) as out:
        out.handle.write(b"first")
    assert target.read_bytes() == b"first"
    pending = AtomicFile(target)
    pending.handle.write(b"second")
    assert target.read_bytes() == b"first"  # not visible before the commit
    pending.commit(fsync=False)
    assert target.read_bytes() == b"second"
    aborted = AtomicFile(target)
    aborted.handle.write(b"third")
    aborted.abort()
    assert target.read_bytes() == b"second"
    assert sorted(p.name for p in target.parent.iterdir()) == ["body.bin"]
