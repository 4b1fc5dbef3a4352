"""Benchmark the annotate stage (DFSDT) against the local fake model server and the sandbox.

    python benchmarks/annotate.py [--queries 2000] [--concurrency 64] [--latency-ms 100] [--steps 3]

The sandbox catalog is collected into a temporary run folder and ``--queries`` simple queries are
written over its GET APIs (each query lists one API whose required parameters all have an
example value, plus the next such API for variety). The model is
:class:`~pipeline.llm.fake_server.FakeOpenAIServer` in a separate (spawned) process, so the CPU
time of this process (``time.process_time``) is the client's; every reply waits ``--latency-ms``.
Its policy: while the conversation has fewer than ``--steps`` tool messages, call the first
offered function (not Finish) whose required parameters can all be filled from their ``examples``;
then ``Finish`` with ``give_answer``. So every query costs ``steps + 1`` model calls and ``steps``
API calls (the response cache is off, so every API call reaches the sandbox).

The sandbox runs in THIS process, started by the environment as ``toolgen run`` does: the client
CPU figure therefore includes the sandbox's work for the API calls (reported separately per API
call is not possible; see the API calls figure).

Figures, one per line: queries, model calls (as the server counted them), API calls, wall seconds,
model calls/s, the limit ``concurrency / latency``, their ratio, CPU ms per model call of this
process (client + in-process sandbox), CPU ms per model call of the server process, answered.
Target (the issue): ratio >= 0.8 at concurrency 64, and the CPU per call far below
``1000 / limit`` ms (the CPU budget per call at the limit, on one core).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
import psutil

REPO = Path(__file__).resolve().parent.parent
SANDBOX_SPECS = REPO / "api_specs" / "sandbox"
FINISH = "Finish"


def figure(name: str, value: Any, unit: str = "") -> None:
    if isinstance(value, float):
        value = f"{value:.3f}" if abs(value) < 100 else f"{value:.1f}"
    print(f"{name:<56} {value}{(' ' + unit) if unit else ''}", flush=True)


# -- the fake model's policy (runs in the server process) ----------------------------------------


def _fill(function: dict[str, Any]) -> dict[str, Any] | None:
    """Arguments for the function's required parameters from their example values, or None."""
    parameters = function.get("parameters") or {}
    properties = parameters.get("properties") or {}
    arguments: dict[str, Any] = {}
    for name in parameters.get("required") or []:
        schema = properties.get(name)
        # tools arrive as JSON Schema (pipeline.tool_schema): ToolBench's example_value is examples[0]
        examples = schema.get("examples") if isinstance(schema, dict) else None
        if not isinstance(examples, list) or not examples:
            return None
        arguments[name] = examples[0]
    return arguments


class Policy:
    """``(request_json) -> step``: ``steps`` tool calls, then Finish with an answer."""

    def __init__(self, steps: int) -> None:
        self.steps = steps

    def __call__(self, body: dict[str, Any]) -> Any:
        from pipeline.llm.fake_server import text, tool_call

        done = sum(1 for m in body.get("messages") or [] if m.get("role") == "tool")
        if done < self.steps:
            for tool in body.get("tools") or []:
                function = tool.get("function") or {}
                if function.get("name") == FINISH:
                    continue
                arguments = _fill(function)
                if arguments is not None:
                    return tool_call(function["name"], arguments)
        if any((t.get("function") or {}).get("name") == FINISH for t in body.get("tools") or []):
            return tool_call(FINISH, {"return_type": "give_answer", "final_answer": "done"})
        return text("done")


def serve_fake_model(connection: Any, latency_s: float, steps: int) -> None:
    """The server process: start, send the base URL, serve until told to stop, send the counts."""

    async def serve() -> None:
        from pipeline.llm.fake_server import FakeOpenAIServer

        server = FakeOpenAIServer(Policy(steps), latency_s=latency_s)
        await server.start()
        connection.send(server.base_url)
        loop = asyncio.get_running_loop()
        while True:
            message = await loop.run_in_executor(None, connection.recv)
            if message == "count":
                connection.send((len(server.chat_requests), server.max_in_flight))
                server.requests.clear()  # keep the memory flat between runs
                server.max_in_flight = 0
            elif message == "stop":
                break
        await server.close()

    asyncio.run(serve())


# -- the workload --------------------------------------------------------------------------------


async def collect_sandbox_catalog(run_dir: Path) -> list[Any]:
    from pipeline.settings import load_settings
    from pipeline.specs.catalog import iter_tools
    from pipeline.specs.collect import collect_catalog

    settings = load_settings(run_dir=run_dir, collect={"workers": 0})
    await collect_catalog([str(SANDBOX_SPECS)], settings, run_dir=run_dir)
    return list(iter_tools(run_dir))


def fillable_get_apis(tools: list[Any]) -> list[tuple[Any, Any]]:
    """GET APIs the policy can call: every required parameter has an example value."""
    from pipeline.search.functions import FunctionCatalog

    pairs = []
    for tool in tools:
        for api in tool.api_list:
            if api.method.upper() != "GET":
                continue
            functions = [f for f in FunctionCatalog([(tool, api)]).functions() if f["name"] != FINISH]
            if len(functions) == 1 and _fill(functions[0]) is not None:
                pairs.append((tool, api))
    return pairs


def write_queries(run_dir: Path, pairs: list[tuple[Any, Any]], count: int) -> Path:
    path = run_dir / "queries" / "G1.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        for index in range(count):
            chosen = [pairs[index % len(pairs)], pairs[(index + 1) % len(pairs)]]
            record = {
                "query_id": index,
                "group": "G1",
                "query": f"Benchmark query {index}: use {chosen[0][0].tool_name} {chosen[0][1].name}.",
                "api_list": [{"tool_id": t.id, "api_id": a.id, "tool_name": t.tool_name, "api_name": a.name}
                             for t, a in chosen],
            }
            out.write(orjson.dumps(record) + b"\n")
    return path


# -- the run -------------------------------------------------------------------------------------


async def run_once(run_dir: Path, base_url: str, args: argparse.Namespace) -> tuple[Any, float, float]:
    from pipeline.search.stage import annotate_queries
    from pipeline.settings import load_settings

    shutil.rmtree(run_dir / "trajectories", ignore_errors=True)
    c = args.concurrency
    settings = load_settings(
        run_dir=run_dir,
        collect={"workers": 0},
        llm={"backend": "openai", "base_url": base_url, "api_key": "sk-bench", "concurrency": c,
             "cache": False, "retries": 0},
        annotate={"concurrency": c, "algorithm": "dfsdt", "max_depth": max(6, args.steps + 1)},
        env={"cache": False, "concurrency": max(64, c), "per_host_concurrency": max(16, c), "retries": 0},
    )
    cpu, wall = time.process_time(), time.perf_counter()
    report = await annotate_queries(settings, run_dir=run_dir)
    return report, time.perf_counter() - wall, time.process_time() - cpu


async def benchmark(args: argparse.Namespace) -> None:
    run_dir = Path(tempfile.mkdtemp(prefix="toolgen-bench-annotate-"))
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(target=serve_fake_model, args=(child, args.latency_ms / 1000, args.steps),
                              daemon=True)
    process.start()
    loop = asyncio.get_running_loop()
    try:
        tools = await collect_sandbox_catalog(run_dir)
        pairs = fillable_get_apis(tools)
        if not pairs:
            raise SystemExit("no sandbox GET API with example values for every required parameter")
        write_queries(run_dir, pairs, args.queries)
        base_url = await loop.run_in_executor(None, parent.recv)
        server = psutil.Process(process.pid)

        figure("# fake model server", "separate process; sandbox in this process")
        figure("callable GET APIs in the workload", len(pairs))
        figure("concurrency", args.concurrency)
        figure("latency ms per reply", args.latency_ms)
        figure("steps per query", args.steps)
        figure("cpus", psutil.cpu_count())

        if args.warmup:  # unmeasured: imports, connections, validators
            write_queries(run_dir, pairs, min(args.queries, args.concurrency))
            await run_once(run_dir, base_url, args)
            parent.send("count")
            await loop.run_in_executor(None, parent.recv)
            write_queries(run_dir, pairs, args.queries)

        server_cpu = sum(server.cpu_times()[:2])
        report, wall, cpu = await run_once(run_dir, base_url, args)
        server_cpu = sum(server.cpu_times()[:2]) - server_cpu
        parent.send("count")
        model_calls, max_in_flight = await loop.run_in_executor(None, parent.recv)
    finally:
        try:
            parent.send("stop")
        except (BrokenPipeError, OSError):
            pass
        process.join(10)
        if process.is_alive():
            process.terminate()
        shutil.rmtree(run_dir, ignore_errors=True)

    api_calls = int(report.environment.get("calls", 0)) or round(report.mean_api_calls
                                                                  * (report.answered + report.failed))
    rate = model_calls / wall
    limit = args.concurrency / (args.latency_ms / 1000) if args.latency_ms > 0 else float("inf")
    figure("queries", report.queries)
    figure("model calls (server count)", model_calls)
    figure("model requests in flight, most (server)", max_in_flight)
    figure("API calls", api_calls)
    figure("wall seconds", wall)
    figure("model calls/s", rate)
    figure("limit (concurrency / latency) calls/s", limit)
    figure("ratio (model calls/s / limit)", rate / limit)
    figure("CPU ms per model call (this process: client + sandbox)", 1000 * cpu / max(1, model_calls))
    figure("CPU ms per model call (server process)", 1000 * server_cpu / max(1, model_calls))
    figure("CPU budget per call at the limit (1000 / limit) ms", 1000 / limit)
    figure("answered", f"{report.answered} of {report.answered + report.failed}")
    if report.errors:
        figure("model errors", report.errors)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--queries", type=int, default=2000,
                        help="many, so the start (sandbox, catalog, connections) and the last half-empty wave weigh little")
    parser.add_argument("--concurrency", type=int, default=64, help="llm.concurrency and annotate.concurrency")
    parser.add_argument("--latency-ms", type=float, default=100.0, help="latency of every model reply")
    parser.add_argument("--steps", type=int, default=3, help="tool calls before Finish, per query")
    parser.add_argument("--no-warmup", dest="warmup", action="store_false",
                        help="skip the unmeasured warm-up run")
    parser.add_argument("--verbose", action="store_true", help="show the pipeline's log")
    args = parser.parse_args(argv)
    if args.queries < 1 or args.concurrency < 1 or args.steps < 0 or args.latency_ms <= 0:
        parser.error("--queries, --concurrency >= 1, --steps >= 0, --latency-ms > 0")
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s")
    asyncio.run(benchmark(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
