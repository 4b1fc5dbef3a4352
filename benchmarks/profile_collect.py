"""Where does collect spend its time? Phase timings and a cProfile of both sides of the pipe.

    python benchmarks/profile_collect.py DIR [--stride 4] [--no-gc-pass] [--no-cprofile] [--top 25]

Runs, in this one process, what a collect worker does for each file (read, parse, normalise,
``tool.dump()``, pickling the outcome) and what the main process then does with it (unpickle,
``Tool.model_validate``, ids, filters, ``tool.dump()`` again, orjson, summary), on every
``--stride``-th file of DIR (sorted as the collector sorts them), and prints:

1. seconds per phase and their share, with YAML and JSON parsing apart, pickle sizes, how much
   bigger the catalog output is than the input, and schema node counts;
2. the same worker phases with the cyclic garbage collector disabled (``--no-gc-pass`` skips);
3. the top functions of a cProfile over the same files (``--no-cprofile`` skips).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import pickle
import pstats
import subprocess
import sys
import time
from collections import defaultdict
from multiprocessing.reduction import ForkingPickler
from pathlib import Path
from typing import Any

import orjson

from pipeline.io import dumps as jsonl_dumps
from pipeline.models import SourceRef, Tool
from pipeline.settings import load_settings
from pipeline.specs.collect import _assign_ids, read_options
from pipeline.specs.document import DocumentError, check_nesting, parse_document, read_bytes
from pipeline.specs.filters import CatalogFilter
from pipeline.specs.graph import summarise
from pipeline.specs.ids import IdRegistry
from pipeline.specs.openapi import ReadContext
from pipeline.specs.read import SourceOutcome, SourceTask, _read_document, read_source
from pipeline.specs.sources import discover

MB = 1024 * 1024
SCHEMA_KEYS = ("schema", "body_schema", "response_schema")


class Phases:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.counts: dict[str, float] = defaultdict(float)

    def timed(self, name: str, function: Any, *args: Any) -> Any:
        started = time.perf_counter()
        try:
            return function(*args)
        finally:
            self.seconds[name] += time.perf_counter() - started


def _nodes_and_description_bytes(node: Any, depth: int = 0) -> tuple[int, int]:
    """Schema nodes (dicts) in an inlined schema, and the bytes of nested descriptions."""
    if isinstance(node, dict):
        nodes, text = 1, 0
        for key, value in node.items():
            if key == "description" and isinstance(value, str) and depth > 0:
                text += len(value.encode("utf-8"))
            elif isinstance(value, (dict, list)):
                n, t = _nodes_and_description_bytes(value, depth + 1)
                nodes, text = nodes + n, text + t
        return nodes, text
    if isinstance(node, list):
        nodes = text = 0
        for value in node:
            n, t = _nodes_and_description_bytes(value, depth + 1)
            nodes, text = nodes + n, text + t
        return nodes, text
    return 0, 0


def worker_side(task: SourceTask, options: Any, phases: Phases, measure_nesting: bool) -> SourceOutcome:
    """``read_source`` split into timed phases (same steps, same order)."""
    outcome = SourceOutcome(location=task.location)
    try:
        data = phases.timed("w: read bytes", read_bytes, task.path, options.max_file_bytes)
    except (OSError, DocumentError) as error:
        outcome.error = {"source": task.location, "stage": "read", "reason": str(error)}  # type: ignore[assignment]
        return outcome
    is_json = task.location.lower().endswith(".json")
    kind = "json" if is_json else "yaml"
    phases.counts[f"{kind} MB"] += len(data) / MB
    if measure_nesting and not is_json:
        try:
            phases.timed("w: (check_nesting alone, inside parse yaml)", check_nesting, data)
        except DocumentError:
            pass
    try:
        doc = phases.timed(f"w: parse {kind}", parse_document, data, task.location)
    except DocumentError:
        return outcome
    import hashlib

    source = SourceRef(kind=task.kind, location=task.location, format="openapi-3.0",
                       sha256=phases.timed("w: sha256", lambda: hashlib.sha256(data).hexdigest()))
    context = ReadContext(source=source, folder_category=task.folder_category,
                          index_categories=task.index_categories, warnings=outcome.warnings)
    try:
        tool = phases.timed("w: normalise ($ref, schema inlining, pydantic models)", _read_document, doc, task, context, options)
    except Exception:  # noqa: BLE001
        return outcome
    del doc
    if tool.api_list:
        outcome.tools.append(phases.timed("w: tool.dump() (model_dump mode=json)", tool.dump))
    return outcome


def main_side(outcome: SourceOutcome, phases: Phases, ids: IdRegistry, flt: CatalogFilter, stats: dict[str, float]) -> None:
    payload = phases.timed("w: pickle outcome (IPC send)", ForkingPickler.dumps, outcome)
    stats["pickle MB"] += len(payload) / MB
    outcome = phases.timed("m: unpickle outcome (IPC receive)", pickle.loads, payload)
    del payload
    for record in outcome.tools:  # the alternative: the worker sends orjson bytes
        line = phases.timed("x: alt. worker orjson.dumps(record)", orjson.dumps, record)
        phases.timed("x: alt. main orjson.loads(line)", orjson.loads, line)
        phases.timed("x: alt. pickle of the bytes (IPC send)", ForkingPickler.dumps, line)
        del line
    for record in outcome.tools:
        tool = phases.timed("m: Tool.model_validate", Tool.model_validate, record)
        phases.timed("m: _assign_ids", _assign_ids, tool, ids)
        dropped = phases.timed("m: filters", flt.apply, tool)
        for item in dropped:
            phases.timed("m: filtered.jsonl write", lambda: jsonl_dumps(item.model_dump()))
        if not tool.api_list:
            continue
        dumped = phases.timed("m: tool.dump() (model_dump mode=json)", tool.dump)
        line = phases.timed("m: orjson line for tools.jsonl", jsonl_dumps, dumped)
        stats["output MB"] += len(line) / MB
        phases.timed("m: summarise", summarise, tool)
        for api in dumped["api_list"]:
            stats["apis"] += 1
            for param in [*api.get("required_parameters", []), *api.get("optional_parameters", [])]:
                n, t = _nodes_and_description_bytes(param.get("schema"))
                stats["schema nodes"] += n
                stats["nested description MB"] += t / MB
            for key in ("body_schema", "response_schema"):
                n, t = _nodes_and_description_bytes(api.get(key))
                stats["schema nodes"] += n
                stats["nested description MB"] += t / MB
        stats["largest tool line MB"] = max(stats["largest tool line MB"], len(line) / MB)


def print_phases(title: str, phases: Phases, wall: float) -> None:
    print(f"\n## {title}  (wall {wall:.1f} s)")
    aside = ("w: (check", "x: ")
    total = sum(v for k, v in phases.seconds.items() if not k.startswith(aside))
    for name, seconds in sorted(phases.seconds.items(), key=lambda kv: -kv[1]):
        share = "" if name.startswith(aside) else f"{100 * seconds / total:5.1f}%"
        print(f"  {name:<58} {seconds:8.2f} s  {share}")
    worker = sum(v for k, v in phases.seconds.items() if k.startswith("w: ") and not k.startswith("w: (check"))
    main = sum(v for k, v in phases.seconds.items() if k.startswith("m: "))
    alternative = sum(v for k, v in phases.seconds.items() if k.startswith("x: "))
    print(f"  {'= worker side (per file, parallelisable)':<58} {worker:8.2f} s")
    print(f"  {'= main process side (serial)':<58} {main:8.2f} s")
    print(f"  {'(x: orjson bytes instead of pickled dicts, both sides)':<58} {alternative:8.2f} s")


def run_pass(tasks: list[SourceTask], options: Any, settings: Any, *, gc_enabled: bool, with_main: bool,
             measure_nesting: bool) -> tuple[Phases, dict[str, float], float]:
    phases = Phases()
    stats: dict[str, float] = defaultdict(float)
    ids, flt = IdRegistry(), CatalogFilter(settings.collect.filters)
    if not gc_enabled:
        gc.disable()
    started = time.perf_counter()
    try:
        for task in tasks:
            outcome = worker_side(task, options, phases, measure_nesting)
            if with_main:
                main_side(outcome, phases, ids, flt, stats)
            del outcome
    finally:
        gc.enable()
    return phases, stats, time.perf_counter() - started


def spawn_cost() -> float:
    """Seconds for a fresh interpreter to import what a collect worker imports."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import pipeline.specs.read, pipeline.specs.collect"], check=True)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--stride", type=int, default=4, help="profile every N-th file")
    parser.add_argument("--no-gc-pass", action="store_true")
    parser.add_argument("--no-cprofile", action="store_true")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)

    settings = load_settings(collect={"workers": 1})
    options = read_options(settings.collect)
    tasks = discover([str(args.folder)]).local[:: args.stride]
    size = sum(t.path.stat().st_size for t in tasks) / MB
    print(f"files profiled: {len(tasks)} (every {args.stride}th), {size:.1f} MB")
    print(f"spawn + import of a worker: {spawn_cost():.2f} s")

    phases, stats, wall = run_pass(tasks, options, settings, gc_enabled=True, with_main=True, measure_nesting=True)
    print_phases("phases, GC on (as collect runs today)", phases, wall)
    print(f"  input YAML MB / JSON MB: {phases.counts['yaml MB']:.1f} / {phases.counts['json MB']:.1f}")
    yaml_s, json_s = phases.seconds["w: parse yaml"], phases.seconds["w: parse json"]
    print(f"  parse MB/s: YAML {phases.counts['yaml MB'] / max(yaml_s, 1e-9):.1f}, JSON {phases.counts['json MB'] / max(json_s, 1e-9):.1f}")
    print(f"  apis: {stats['apis']:.0f}, output tools.jsonl MB: {stats['output MB']:.1f} "
          f"({stats['output MB'] / size:.1f}x the input), largest line {stats['largest tool line MB']:.1f} MB")
    print(f"  pickled outcomes MB (crossing the pipe): {stats['pickle MB']:.1f}")
    print(f"  inlined schema nodes: {stats['schema nodes']:.0f} ({stats['schema nodes'] / max(stats['apis'], 1):.0f} per API); "
          f"nested 'description' text in them: {stats['nested description MB']:.1f} MB "
          f"({100 * stats['nested description MB'] / max(stats['output MB'], 1e-9):.0f}% of the output)")

    if not args.no_gc_pass:
        phases_off, _, wall_off = run_pass(tasks, options, settings, gc_enabled=False, with_main=True, measure_nesting=False)
        print_phases("phases, GC disabled", phases_off, wall_off)
        for name in ("w: parse yaml", "w: parse json", "w: normalise ($ref, schema inlining, pydantic models)",
                     "w: tool.dump() (model_dump mode=json)", "w: pickle outcome (IPC send)",
                     "m: unpickle outcome (IPC receive)", "m: tool.dump() (model_dump mode=json)",
                     "m: Tool.model_validate"):
            on, off = phases.seconds[name], phases_off.seconds[name]
            print(f"  {name:<58} GC on {on:7.2f} s -> off {off:7.2f} s  ({on / max(off, 1e-9):.2f}x)")

    if not args.no_cprofile:
        profiler = cProfile.Profile()
        ids, flt = IdRegistry(), CatalogFilter(settings.collect.filters)
        profiler.enable()
        for task in tasks:
            outcome = read_source(task, options)
            outcome = pickle.loads(ForkingPickler.dumps(outcome))
            for record in outcome.tools:
                tool = Tool.model_validate(record)
                _assign_ids(tool, ids)
                flt.apply(tool)
                jsonl_dumps(tool.dump())
                summarise(tool)
        profiler.disable()
        for order in ("tottime", "cumulative"):
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(order).print_stats(args.top)
            text = out.getvalue()
            start = text.find("   ncalls")
            print(f"\n## cProfile, top {args.top} by {order}\n" + text[start:].rstrip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
