"""One source, one boundary: whatever goes wrong in any step of one source is recorded against it.

Each failure class met in real spec folders has a small generated fixture here: a server URL
that does not parse, a named pipe, a symlink to an endless device, a file that grows past the
cap, a YAML document that needs more memory than a reader may take, a ``$ref`` to a hidden file.
"""

from __future__ import annotations

import errno
import functools
import os
import resource
from pathlib import Path
from typing import Any

import pytest

from pipeline.models import SourceError
from pipeline.settings import FilterSettings
from pipeline.specs import isolation as isolation_module
from pipeline.specs import prepare as prepare_module
from pipeline.specs.document import DocumentError, read_bytes
from pipeline.specs.isolation import SourceRejected, SourceSteps, isolated, memory_capped
from pipeline.specs.openapi import ReadOptions
from pipeline.specs.parallel import ordered_map
from pipeline.specs.prepare import PreparedSource, prepare_source, reader_initializer
from pipeline.specs.read import SourceTask, read_source

GOOD = """
openapi: 3.0.0
info: {title: Good, version: '1'}
paths:
  /a: {get: {operationId: a, summary: Get an a, responses: {'200': {description: ok}}}}
  /b: {get: {operationId: b, summary: Get a b, responses: {'200': {description: ok}}}}
"""


def prepare(path: Path, options: ReadOptions | None = None) -> PreparedSource:
    return prepare_source(SourceTask(path=path, location=str(path)), options or ReadOptions(), FilterSettings())


# -- the boundary itself ----------------------------------------------------------------------


def test_the_boundary_names_the_step_that_failed_and_where_a_bug_was_raised() -> None:
    def work(steps: SourceSteps) -> str:
        steps.enter("filter")
        raise KeyError("surprise")

    error = isolated("spec.yaml", work, lambda failure: failure)
    assert isinstance(error, SourceError)
    assert (error.source, error.stage) == ("spec.yaml", "filter")
    assert error.reason == "could not be understood (KeyError: 'surprise')"
    assert error.detail is not None and "KeyError raised at" in error.detail and "in work" in error.detail


@pytest.mark.parametrize(
    ("raised", "reason"),
    [
        (SourceRejected("no operations found"), "no operations found"),
        (RecursionError(), "structure nested too deeply"),
        (OSError(errno.EIO, "Input/output error"), "cannot read: Input/output error"),
    ],
)
def test_expected_failures_keep_their_own_reason(raised: Exception, reason: str) -> None:
    def work(steps: SourceSteps) -> None:
        raise raised

    error = isolated("spec.yaml", work, lambda failure: failure)
    assert isinstance(error, SourceError) and error.reason == reason and error.detail is None


def test_an_interrupt_is_not_swallowed() -> None:
    def work(steps: SourceSteps) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        isolated("spec.yaml", work, lambda failure: None)


@pytest.mark.parametrize(
    ("target", "step"),
    [
        ("api_ids", "ids"),
        ("apply_filters", "filter"),
        ("operation_key", "dedup"),
        ("summarise", "graph"),
    ],
)
def test_a_failure_in_any_worker_step_is_that_sources_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, target: str, step: str
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise ValueError(f"{target} broke")

    monkeypatch.setattr(prepare_module, target, broken)
    spec = tmp_path / "spec.yaml"
    spec.write_text(GOOD, encoding="utf-8")

    prepared = prepare(spec)

    assert prepared.tool is None and prepared.filtered == [] and not prepared.emptied_by_filters
    assert prepared.error is not None
    assert (prepared.error.stage, prepared.error.reason) == (step, f"could not be understood (ValueError: {target} broke)")


def test_a_server_url_that_does_not_parse_costs_nothing(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(GOOD.replace("paths:", "servers: [{url: 'http://[domain]:8080'}]\npaths:"), encoding="utf-8")

    prepared = prepare(spec)

    assert prepared.error is None and prepared.tool is not None
    assert [where for _, _, where in prepared.tool.operations] == ["[domain]:8080/a", "[domain]:8080/b"]


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


# -- each reader's memory is capped, the main process's never ----------------------------------


def test_a_document_too_big_for_the_readers_memory_is_recorded_as_too_large(tmp_path: Path) -> None:
    # 300k tiny YAML nodes: well over 100 MB to parse, from a 0.6 MB file
    big = tmp_path / "many-nodes.yaml"
    big.write_text("openapi: 3.0.0\ninfo: {title: t}\nx-nodes: [" + ",".join(["a"] * 300_000) + "]\n")
    small = tmp_path / "good.yaml"
    small.write_text(GOOD, encoding="utf-8")
    tasks = [SourceTask(path=path, location=path.name) for path in (big, small)]
    before = resource.getrlimit(resource.RLIMIT_AS)

    results = list(
        ordered_map(
            prepare_source,
            tasks,
            extra_args=(ReadOptions(max_reader_memory_mb=80), FilterSettings()),
            workers=1,
            on_failure=lambda task, error: PreparedSource(location=f"lost: {error!r}"),
            initializer=functools.partial(reader_initializer, 80),
        )
    )

    too_large, good = results
    assert too_large.error is not None
    assert (too_large.error.stage, too_large.error.reason) == ("parse", "too large to parse in 80 MB")
    assert good.error is None and good.tool is not None  # the same capped worker goes on
    assert resource.getrlimit(resource.RLIMIT_AS) == before
    assert not memory_capped()  # the main process is never capped


def test_where_the_process_size_cannot_be_read_nothing_is_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    limits: list[Any] = []  # setrlimit is replaced: were the cap applied after all, it lands here
    monkeypatch.setattr(isolation_module.resource, "setrlimit", lambda *args: limits.append(args))
    monkeypatch.setattr(isolation_module, "_address_space_bytes", lambda: None)
    isolation_module.cap_memory(1)
    assert limits == []


def test_the_cap_is_the_start_up_size_plus_the_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    limits: list[Any] = []
    monkeypatch.setattr(isolation_module.resource, "setrlimit", lambda *args: limits.append(args))
    monkeypatch.setattr(isolation_module, "_address_space_bytes", lambda: 300 * 1024 * 1024)
    isolation_module.cap_memory(100)
    assert [(which, soft) for which, (soft, _) in limits] == [(resource.RLIMIT_AS, 400 * 1024 * 1024)]


def test_a_reader_that_runs_out_of_memory_without_a_cap_says_so(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def exhausted(*args: Any) -> Any:
        raise MemoryError

    monkeypatch.setattr(prepare_module, "summarise", exhausted)
    spec = tmp_path / "spec.yaml"
    spec.write_text(GOOD, encoding="utf-8")
    prepared = prepare(spec)
    assert prepared.error is not None
    assert (prepared.error.stage, prepared.error.reason) == ("graph", "ran out of memory")
