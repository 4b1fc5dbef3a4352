"""The per-item failure log (pipeline.failures): what is recorded, what stays outstanding."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.errors import ConfigError
from pipeline.failures import FailureLog, failures_path, read_failures


def test_failures_are_appended_counted_and_settled_to_what_is_not_done(tmp_path: Path) -> None:
    log = FailureLog(tmp_path, "annotate")
    log.guard(RuntimeError("first"), group="G1", item_id=1)
    log.guard(ValueError("x" * 5000), group="G1", item_id=2)
    log.guard(RuntimeError("again"), group="G1", item_id=1)
    assert log.counts == {"RuntimeError": 2, "ValueError": 1} and log.total == 3
    assert log.settle({("G1", "2")}) == 1
    [left] = read_failures(tmp_path, "annotate")
    assert (left.item_id, left.message) == ("1", "again")
    assert FailureLog(tmp_path, "annotate").settle({("G1", "1")}) == 0
    assert not failures_path(tmp_path, "annotate").exists()


def test_configuration_errors_and_strict_mode_are_not_one_items(tmp_path: Path) -> None:
    log = FailureLog(tmp_path, "verify")
    with pytest.raises(ConfigError):
        log.guard(ConfigError("no key"), group="G1", item_id=1)
    log = FailureLog(tmp_path, "verify", strict=True)
    with pytest.raises(KeyError):
        log.guard(KeyError("a bug"), group="G1", item_id=1)
    log.guard(TimeoutError("expected of the world"), group="G1", item_id=1, expected=True)
    assert log.counts == {"TimeoutError": 1}


def test_a_damaged_failures_file_is_passed_over(tmp_path: Path) -> None:
    path = failures_path(tmp_path, "annotate")
    path.parent.mkdir(parents=True)
    path.write_bytes(b'{"stage":"annotate","group":"G1","item_id":"3","error_type":"E","message":"m"}\n{oops\n{}\n')
    assert [f.item_id for f in read_failures(tmp_path, "annotate")] == ["3"]
    assert FailureLog(tmp_path, "annotate").settle(set()) == 1
