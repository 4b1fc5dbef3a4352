"""`toolgen retriever serve` on a fresh typer app: loads the backend once, serves, stops on a signal."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
import urllib.request

import orjson
import pytest
import typer
from typer.testing import CliRunner

from pipeline.retriever.serve_cli import register_serve_command, thread_policy
from pipeline.settings import Settings
from tests.retriever.fakes import RecordingBackend


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_serve_answers_on_localhost_and_stops_on_sigint(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    threads: list[int] = []  # torch's and faiss's settings are process-wide: recorded here, not applied to the test process
    monkeypatch.setattr("pipeline.retriever.serve_cli._set_threads", threads.append)
    opened: list[tuple[Settings, str | None]] = []
    backend = RecordingBackend()

    def open_backend(settings: Settings, ranking: str | None) -> RecordingBackend:
        opened.append((settings, ranking))
        return backend

    app = typer.Typer()
    register_serve_command(app, open_backend=open_backend)

    @app.callback()
    def _group() -> None:  # a group, as the retriever sub-app is: `serve` is named on the command line
        pass

    port = _free_port()
    answers: list[object] = []

    def client() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
                    answers.append(orjson.loads(response.read()))
                break
            except OSError:
                time.sleep(0.05)
        request = urllib.request.Request(f"http://127.0.0.1:{port}/search", data=b'{"query": "weather", "k": 2}',
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=5) as response:
            answers.append(orjson.loads(response.read()))
        os.kill(os.getpid(), signal.SIGINT)  # what Ctrl-C sends: the service shuts down gracefully

    thread = threading.Thread(target=client, daemon=True)
    thread.start()
    result = CliRunner().invoke(app, ["serve", "--out", str(tmp_path), "--port", str(port), "--ranking", "bm25"])
    thread.join(5)
    assert result.exit_code == 0, result.output
    assert len(opened) == 1 and opened[0][1] == "bm25"
    assert threads == [1, 1]  # retriever.serve.threads: before the model loads, then for the one-query batch
    assert answers[0] == {"status": "ok", "documents": 3, "model": "fake-encoder", "ranking": "dense"}
    assert [hit["api_name"] for hit in answers[1]["results"]] == ["api0", "api1"]  # type: ignore[index]
    assert f"http://127.0.0.1:{port}" in result.output
    assert "stopped" in result.output


def test_serve_says_when_the_port_is_taken(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("pipeline.retriever.serve_cli._set_threads", lambda threads: None)
    app = typer.Typer()
    register_serve_command(app, open_backend=lambda settings, ranking: RecordingBackend())

    @app.callback()
    def _group() -> None:
        pass

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(app, ["serve", "--out", str(tmp_path), "--port", str(port)])
    assert result.exit_code == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.output


def test_small_batches_get_one_thread_and_large_ones_every_core() -> None:
    policy = thread_policy(1, 4, cores=2)
    assert [policy(size) for size in (1, 3, 4, 16)] == [1, 1, 2, 2]
    assert thread_policy(3, 4, cores=2)(16) == 3  # never fewer than asked for
