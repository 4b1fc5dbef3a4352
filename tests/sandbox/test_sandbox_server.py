"""Starting and stopping the sandbox: in-process on a free port, and as the blocking CLI server."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from pipeline.env.sandbox import load_tool_specs, start_sandbox

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.asyncio
async def test_start_sandbox_picks_a_free_port_and_close_releases_it() -> None:
    server = await start_sandbox()
    assert server.port > 0 and server.base_url == f"http://127.0.0.1:{server.port}"
    async with aiohttp.ClientSession() as session:
        async with session.get(server.base_url + "/") as response:
            index = await response.json()
        assert {tool["slug"] for tool in index["tools"]} == {spec.slug for spec in load_tool_specs()}
        assert server.tool_url("geo") == server.base_url + "/geo"
        await server.close()
        with pytest.raises(aiohttp.ClientConnectionError):
            async with session.get(server.base_url + "/"):
                pass


@pytest.mark.asyncio
async def test_two_sandboxes_run_side_by_side() -> None:
    first, second = await asyncio.gather(start_sandbox(seed=1), start_sandbox(seed=2))
    async with first, second:
        assert first.port != second.port


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_run_sandbox_serves_until_stopped() -> None:
    port = _free_port()
    code = f"from pipeline.env.sandbox import run_sandbox; run_sandbox('127.0.0.1', {port}, 0, 0.0, None)"
    process = subprocess.Popen(
        [sys.executable, "-c", code], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline, answer = time.monotonic() + 15, None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2) as connection:
                    connection.sendall(b"GET /geo/cities/2988507 HTTP/1.0\r\nHost: sandbox\r\n\r\n")
                    answer = connection.recv(4096)
                break
            except OSError:
                time.sleep(0.1)
        assert answer is not None and answer.split(b"\r\n", 1)[0].endswith(b" 200 OK"), (
            process.stderr.read() if process.poll() is not None else answer
        )
        assert b'"name":"Paris"' in answer
    finally:
        process.terminate()
        process.wait(timeout=10)
