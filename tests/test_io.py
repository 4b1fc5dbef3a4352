"""Crash-safe JSON and JSONL files."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.io import AtomicJsonlWriter, JsonlAppender, read_json, read_jsonl, write_json, write_jsonl


def test_a_failed_atomic_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "tools.jsonl"
    write_jsonl(target, [{"a": 1}])

    def explode():
        yield {"a": 2}
        raise RuntimeError("killed mid-write")

    with pytest.raises(RuntimeError):
        write_jsonl(target, explode())
    assert list(read_jsonl(target)) == [{"a": 1}]
    assert [p.name for p in tmp_path.iterdir()] == ["tools.jsonl"]


def test_the_streaming_writer_publishes_only_on_commit(tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    with AtomicJsonlWriter(target) as writer:
        writer.write({"n": 1})
        assert not target.exists()
    assert list(read_jsonl(target)) == [{"n": 1}] and writer.count == 1


def test_a_torn_last_line_is_ignored_and_cut_by_the_next_appender(tmp_path: Path) -> None:
    target = tmp_path / "trajectories.jsonl"
    target.write_bytes(b'{"q": 1}\n{"q": 2}\n{"q": 3, "tre')
    assert list(read_jsonl(target)) == [{"q": 1}, {"q": 2}]
    with JsonlAppender(target) as appender:
        appender.write({"q": 3})
    assert list(read_jsonl(target)) == [{"q": 1}, {"q": 2}, {"q": 3}]


def test_a_malformed_line_in_the_middle_names_file_and_line(tmp_path: Path) -> None:
    target = tmp_path / "bad.jsonl"
    target.write_bytes(b'{"ok": 1}\nnot json\n{"ok": 2}\n')
    with pytest.raises(ValueError, match=r"bad.jsonl:2"):
        list(read_jsonl(target))


def test_json_round_trip_with_non_string_keys_and_paths(tmp_path: Path) -> None:
    write_json(tmp_path / "m.json", {"codes": {200: "ok"}, "where": Path("/x"), "tags": {"b", "a"}})
    assert read_json(tmp_path / "m.json") == {"codes": {"200": "ok"}, "where": "/x", "tags": ["a", "b"]}
