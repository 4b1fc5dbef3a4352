"""Benchmark tool calls through the Environment against a bare aiohttp client on the sandbox.

    python benchmarks/env.py [--callers 64] [--calls 5000] [--latency-ms 0] [--sandbox both]

The sandbox catalog is collected into a temporary run folder; the workload is every GET API of
it with its documented arguments (``pipeline.env.probe.documented_arguments``), cycled until
``--calls`` calls are made by ``--callers`` concurrent callers. Each measured run is preceded
by one unmeasured pass over the workload (connections opened, validators compiled).

Where the sandbox runs (``--sandbox``):

* ``process``: ``run_sandbox`` in a separate (spawned) process, so the CPU time of this process
  (``time.process_time``) is the client's alone; the sandbox's CPU is read with psutil;
* ``inprocess``: ``start_sandbox`` on this event loop, as ``toolgen run`` does; client and server
  then share one process and one core, and the CPU figures include the server's work;
* ``both`` (default): ``process`` first, then ``inprocess``; every figure is prefixed with it.

Clients, with the same concurrency and connection limits (one session, ``--callers``
connections to the sandbox's one host):

* ``env``: ``Environment.call`` with the response cache OFF (a cache hit is not a call):
  argument validation, host policy, request building, credentials, HTTP, JSON parsing, the
  observation and its secret scrubbing;
* ``bare``: ``session.get(url)`` on URLs and headers prepared beforehand from the same calls,
  then ``orjson.loads`` of the body: the floor for an aiohttp client;
* ``env cached``: the Environment with the cache ON after one warm-up pass, so every measured
  call is a cache hit (validation + an SQLite lookup + decoding the stored observation).

Figures, one per line: calls/s; CPU ms per call of this process; errors (an error observation,
or for bare an HTTP status >= 400 or an exception); p50 / p95 latency of one call as its caller
sees it (including waiting for a connection); and the Environment's overhead per call, defined
twice: ``CPU`` = env CPU ms/call - bare CPU ms/call (meaningful with the sandbox in its own
process: the extra client CPU the Environment spends on a call), and ``wall`` =
1000 / env calls/s - 1000 / bare calls/s (extra wall time per call at this concurrency; near zero
when the server, not the client, is the bottleneck).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import multiprocessing
import shutil
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import psutil

REPO = Path(__file__).resolve().parent.parent
SANDBOX_SPECS = REPO / "api_specs" / "sandbox"


@dataclass
class Call:
    tool_id: str
    api_id: str
    arguments: dict[str, Any]
    url: str = ""  # for the bare client, on the running sandbox
    headers: dict[str, str] | None = None


@dataclass
class Result:
    seconds: float
    cpu_seconds: float
    latencies: list[float]
    errors: int
    calls: int

    @property
    def rate(self) -> float:
        return self.calls / self.seconds

    @property
    def cpu_ms_per_call(self) -> float:
        return 1000 * self.cpu_seconds / self.calls


def figure(name: str, value: Any, unit: str = "") -> None:
    if isinstance(value, float):
        value = f"{value:.3f}" if abs(value) < 100 else f"{value:.1f}"
    print(f"{name:<52} {value}{(' ' + unit) if unit else ''}", flush=True)


# -- the workload --------------------------------------------------------------------------------


async def collect_sandbox_catalog(run_dir: Path) -> list[Any]:
    from pipeline.settings import load_settings
    from pipeline.specs.catalog import iter_tools
    from pipeline.specs.collect import collect_catalog

    settings = load_settings(run_dir=run_dir, collect={"workers": 0})
    await collect_catalog([str(SANDBOX_SPECS)], settings, run_dir=run_dir)
    return list(iter_tools(run_dir))


def get_calls(tools: list[Any]) -> list[Call]:
    from pipeline.env.probe import documented_arguments

    calls = []
    for tool in tools:
        for api in tool.api_list:
            arguments = documented_arguments(api)
            if api.method.upper() == "GET" and isinstance(arguments, dict):
                calls.append(Call(tool.id, api.id, arguments))
    return calls


def prepare_bare(calls: list[Call], tools: list[Any], sandbox_url: str) -> None:
    """The URL and headers each call sends, built once with the pipeline's own helpers."""
    from pipeline.env.credentials import CredentialResolver
    from pipeline.env.http import build_request
    from pipeline.env.sandbox import SANDBOX_API_KEY
    from pipeline.settings import Credential, EnvSettings

    by_id = {tool.id: tool for tool in tools}
    spec_base = EnvSettings().sandbox.spec_base_url
    keys = CredentialResolver(
        {}, environ={}, defaults={t.id: Credential(value=SANDBOX_API_KEY) for t in tools}
    )
    for call in calls:
        tool = by_id[call.tool_id]
        api = next(a for a in tool.api_list if a.id == call.api_id)
        request = build_request(tool, api, call.arguments, url_rewrites={spec_base: sandbox_url})
        headers = {"Accept": "application/json", **request.headers}
        secret_query: dict[str, str] = {}
        if tool.auth:
            keys.apply(tool, headers, secret_query)
        call.url = request.full_url(secret_query)
        call.headers = headers


# -- running callers ----------------------------------------------------------------------------


async def drive(
    calls: list[Call], total: int, callers: int, one: Callable[[Call], Awaitable[bool]]
) -> Result:
    """``callers`` tasks making ``total`` calls, cycling over ``calls``; ``one`` returns ok."""
    counter = itertools.count()
    latencies: list[float] = []
    errors = 0

    async def caller() -> None:
        nonlocal errors
        while (index := next(counter)) < total:
            started = time.perf_counter()
            ok = await one(calls[index % len(calls)])
            latencies.append(time.perf_counter() - started)
            errors += not ok

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(callers)))
    return Result(time.perf_counter() - wall, time.process_time() - cpu, latencies, errors, total)


async def run_environment(
    tools: list[Any], calls: list[Call], sandbox_url: str, args: argparse.Namespace, *, cache: bool
) -> Result:
    from pipeline.env.environment import open_environment
    from pipeline.settings import load_settings

    run_dir = Path(tempfile.mkdtemp(prefix="toolgen-bench-env-"))
    env = {
        "cache": cache,
        "concurrency": max(64, args.callers),
        "per_host_concurrency": args.callers,
        "retries": 0,
    }
    settings = load_settings(run_dir=run_dir, collect={"workers": 0}, env=env)
    try:
        async with open_environment(tools, settings, run_dir=run_dir, sandbox_url=sandbox_url) as environment:
            assert set(environment.modes.values()) == {"real"}, environment.modes

            async def one(call: Call) -> bool:
                return (await environment.call(call.tool_id, call.api_id, call.arguments)).ok

            await drive(calls, len(calls), args.callers, one)  # warm-up (and, cached, fills the cache)
            result = await drive(calls, args.calls, args.callers, one)
            if cache:
                hits = environment.stats().get("cache_hits", 0)
                assert hits >= args.calls, f"only {hits} cache hits"
            return result
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)


async def run_bare(calls: list[Call], args: argparse.Namespace) -> Result:
    connector = aiohttp.TCPConnector(limit=max(64, args.callers), limit_per_host=args.callers)
    async with aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar()) as session:

        async def one(call: Call) -> bool:
            try:
                async with session.get(call.url, headers=call.headers) as response:
                    orjson.loads(await response.read())
                    return response.status < 400
            except (aiohttp.ClientError, orjson.JSONDecodeError):
                return False

        await drive(calls, len(calls), args.callers, one)
        return await drive(calls, args.calls, args.callers, one)


# -- the sandbox ---------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _wait_until_answering(
    url: str, process: multiprocessing.process.BaseProcess, timeout_s: float = 60
) -> None:
    deadline = time.monotonic() + timeout_s
    async with aiohttp.ClientSession() as session:
        while True:
            try:
                async with session.get(url) as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            if not process.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the sandbox process did not answer at {url}")
            await asyncio.sleep(0.05)


# -- reporting -----------------------------------------------------------------------------------


def report(prefix: str, name: str, result: Result) -> None:
    quantiles = statistics.quantiles(result.latencies, n=100)
    figure(f"{prefix} {name} calls/s", result.rate)
    figure(f"{prefix} {name} CPU ms/call (this process)", result.cpu_ms_per_call)
    figure(f"{prefix} {name} errors", result.errors)
    figure(f"{prefix} {name} latency p50 ms", 1000 * quantiles[49])
    figure(f"{prefix} {name} latency p95 ms", 1000 * quantiles[94])


async def measure(
    prefix: str,
    tools: list[Any],
    calls: list[Call],
    url: str,
    args: argparse.Namespace,
    server: psutil.Process | None,
) -> None:
    prepare_bare(calls, tools, url)
    results: dict[str, Result] = {}
    for name, run in (
        ("env", lambda: run_environment(tools, calls, url, args, cache=False)),
        ("bare", lambda: run_bare(calls, args)),
        ("env cached", lambda: run_environment(tools, calls, url, args, cache=True)),
    ):
        server_cpu = _cpu(server)
        results[name] = await run()
        report(prefix, name, results[name])
        if server is not None and name != "env cached":
            # the sandbox also answered the warm-up pass: divided over every request it served
            figure(
                f"{prefix} {name} sandbox CPU ms/call (other process)",
                1000 * (_cpu(server) - server_cpu) / (args.calls + len(calls)),
            )
    env, bare = results["env"], results["bare"]
    figure(f"{prefix} env overhead CPU ms/call (env - bare)", env.cpu_ms_per_call - bare.cpu_ms_per_call)
    figure(f"{prefix} env overhead wall ms/call (1000/rate env - bare)", 1000 / env.rate - 1000 / bare.rate)
    figure(f"{prefix} env cached / env calls/s", results["env cached"].rate / env.rate)


def _cpu(process: psutil.Process | None) -> float:
    if process is None:
        return 0.0
    times = process.cpu_times()
    return times.user + times.system


async def benchmark(args: argparse.Namespace) -> None:
    from pipeline.env.sandbox import run_sandbox, start_sandbox

    catalog_dir = Path(tempfile.mkdtemp(prefix="toolgen-bench-catalog-"))
    try:
        tools = await collect_sandbox_catalog(catalog_dir)
    finally:
        shutil.rmtree(catalog_dir, ignore_errors=True)
    calls = get_calls(tools)
    figure("GET APIs in the workload", len(calls))
    figure("callers", args.callers)
    figure("calls per run", args.calls)
    figure("sandbox latency ms", args.latency_ms)
    figure("cpus", psutil.cpu_count())

    if args.sandbox in ("process", "both"):
        port = _free_port()
        context = multiprocessing.get_context("spawn")
        process = context.Process(
            target=run_sandbox,
            kwargs={
                "host": "127.0.0.1",
                "port": port,
                "seed": 0,
                "latency_ms": args.latency_ms,
                "rate_limit_per_minute": None,
            },
            daemon=True,
        )
        process.start()
        try:
            url = f"http://127.0.0.1:{port}"
            await _wait_until_answering(url + "/", process)
            print("# sandbox in a separate process (client CPU measured alone)", flush=True)
            await measure("process:", tools, calls, url, args, psutil.Process(process.pid))
        finally:
            process.terminate()
            process.join(10)
    if args.sandbox in ("inprocess", "both"):
        sandbox = await start_sandbox(latency_ms=args.latency_ms, rate_limit_per_minute=None)
        async with sandbox:
            print("# sandbox in this process (CPU figures include the server)", flush=True)
            await measure("inprocess:", tools, calls, sandbox.base_url, args, None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--callers", type=int, default=64, help="concurrent callers")
    parser.add_argument("--calls", type=int, default=5000, help="calls per measured run")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="latency the sandbox adds per request")
    parser.add_argument("--sandbox", choices=["process", "inprocess", "both"], default="both")
    parser.add_argument("--verbose", action="store_true", help="show the pipeline's log")
    args = parser.parse_args(argv)
    if args.callers < 1 or args.calls < 2:
        parser.error("--callers must be >= 1 and --calls >= 2")
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s")
    asyncio.run(benchmark(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
