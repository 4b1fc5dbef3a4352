"""Benchmark the collect stage on a folder of specs against the cost of merely parsing them.

    python benchmarks/collect.py DIR [--workers 2] [--repeat 1] [--no-baseline] [--keep OUT]

Prints one ``figure  value`` per line:

* collect throughput (files/s, MB/s, APIs/s), tools / APIs / errors, wall seconds, and how the
  wall time splits between reading (worker processes + main-process validation and writing)
  and the tail (graph, derived collections, manifest);
* main-process busy time in the read loop (``Tool.model_validate``, ids, filters, writing) vs
  time spent waiting for workers;
* peak memory: the whole process tree sampled with psutil every 50 ms (sum of RSS of this
  process and all its children, and the largest single process), plus ``getrusage`` maxima;
* the baseline: the time to merely parse the same files with the stdlib ``json`` and PyYAML's
  C loader (``yaml.load(text, Loader=CSafeLoader)``), in one process and in a spawn pool of
  ``--workers`` processes, and ``ratio collect/baseline`` for both. The parse with orjson (what
  the collector actually uses for JSON) is printed too.

The collect run comes first so that ``getrusage(RUSAGE_CHILDREN)`` only sees collect workers;
every baseline runs in fresh processes. Note that on Linux a child spawned by a process keeps
that process's ``ru_maxrss`` high-water mark across fork+exec, so ``ru_maxrss`` of children is
an upper bound; the psutil figures are the ones to trust.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import multiprocessing
import os
import resource
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import orjson
import psutil
import yaml

MB = 1024 * 1024


# -- memory sampling -----------------------------------------------------------------------------


class TreeSampler:
    """Samples the RSS of this process and all its descendants every ``interval`` seconds."""

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self.peak_sum = 0
        self.peak_single = 0
        self.peak_main = 0
        self.peak_children = 0
        self.max_processes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._me = psutil.Process()

    def _sample(self) -> None:
        try:
            children = self._me.children(recursive=True)
        except psutil.Error:
            children = []
        main = self._me.memory_info().rss
        sizes = []
        for child in children:
            try:
                sizes.append(child.memory_info().rss)
            except psutil.Error:
                pass
        self.peak_main = max(self.peak_main, main)
        self.peak_children = max(self.peak_children, sum(sizes))
        self.peak_sum = max(self.peak_sum, main + sum(sizes))
        self.peak_single = max(self.peak_single, main, *sizes) if sizes else max(self.peak_single, main)
        self.max_processes = max(self.max_processes, 1 + len(sizes))

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.interval)

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()


# -- the collect run -----------------------------------------------------------------------------


class Timings:
    """Splits of one collect run, measured by wrapping two of the collector's functions."""

    def __init__(self) -> None:
        self.read_and_write = 0.0
        self.waiting = 0.0  # main process blocked on the next worker result
        self.first_result = 0.0  # from starting the pool to the first result (spawn start-up)


def _instrument(timings: Timings) -> None:
    """Wrap ``_read_and_write`` and ``ordered_map`` inside the collect module (runtime only)."""
    import pipeline.specs.collect as collect_module

    original_read_and_write = collect_module._read_and_write
    original_ordered_map = collect_module.ordered_map

    def timed_read_and_write(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return original_read_and_write(*args, **kwargs)
        finally:
            timings.read_and_write += time.perf_counter() - started

    def timed_ordered_map(*args: Any, **kwargs: Any) -> Any:
        generator = original_ordered_map(*args, **kwargs)
        started = time.perf_counter()
        first = True
        while True:
            before = time.perf_counter()
            try:
                item = next(generator)
            except StopIteration:
                timings.waiting += time.perf_counter() - before
                return
            now = time.perf_counter()
            timings.waiting += now - before
            if first:
                timings.first_result = now - started
                first = False
            yield item

    collect_module._read_and_write = timed_read_and_write
    collect_module.ordered_map = timed_ordered_map


def gc_off_read_source(task: Any, options: Any) -> Any:
    """``read_source`` with the cyclic GC off (experiment ``gc-off``; runs in the workers).

    A spec's parsed document is (almost always) an acyclic tree freed by reference counting,
    so the collector's generation scans while libyaml and the schema expander allocate
    millions of containers are pure overhead. Cyclic garbage (YAML aliases) is collected
    every 50 files.
    """
    import gc

    from pipeline.specs.read import read_source

    gc.disable()
    try:
        return read_source(task, options)
    finally:
        gc.enable()
        _GC_OFF_CALLS[0] += 1
        if _GC_OFF_CALLS[0] % 50 == 0:
            gc.collect()


_GC_OFF_CALLS = [0]


def _apply_experiment(name: str | None) -> None:
    import pipeline.specs.collect as collect_module

    if name == "gc-off":
        collect_module.read_source = gc_off_read_source
    elif name == "gc-off-main":  # also in the main process, around the whole read loop
        import gc

        collect_module.read_source = gc_off_read_source
        original = collect_module._read_and_write

        def without_gc(*args: Any, **kwargs: Any) -> Any:
            gc.disable()
            try:
                return original(*args, **kwargs)
            finally:
                gc.enable()

        collect_module._read_and_write = without_gc


TIMINGS = Timings()


def run_collect(folder: Path, workers: int, keep: Path | None) -> dict[str, Any]:
    from pipeline.settings import load_settings
    from pipeline.specs.collect import NothingCollected, collect_catalog

    timings = TIMINGS
    timings.__init__()  # type: ignore[misc]  # fresh figures for this run; patches are installed once
    run_dir = keep if keep is not None else Path(tempfile.mkdtemp(prefix="toolgen-bench-"))
    try:
        settings = load_settings(run_dir=run_dir, outputs_dir=run_dir.parent, collect={"workers": workers})
        started = time.perf_counter()
        cpu_before = _cpu_seconds()
        with TreeSampler() as sampler:
            try:
                report = asyncio.run(collect_catalog([str(folder)], settings, run_dir=run_dir))
            except NothingCollected:
                report = None
        seconds = time.perf_counter() - started
        cpu_after = _cpu_seconds()
        catalog = run_dir / "catalog"
        output_mb = sum(f.stat().st_size for f in catalog.glob("*") if f.is_file()) / MB
    finally:
        if keep is None:
            shutil.rmtree(run_dir, ignore_errors=True)
    return {
        "seconds": seconds,
        "report": report,
        "sampler": sampler,
        "timings": _copy_timings(timings),
        "output_mb": output_mb,
        "cpu_main": cpu_after[0] - cpu_before[0],
        "cpu_workers": cpu_after[1] - cpu_before[1],
    }


def _cpu_seconds() -> tuple[float, float]:
    """User+system CPU seconds of this process and of its reaped children (the pool workers)."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime, children.ru_utime + children.ru_stime


def _copy_timings(timings: Timings) -> Timings:
    copy = Timings()
    copy.__dict__.update(timings.__dict__)
    return copy


# -- the parse baseline --------------------------------------------------------------------------


def parse_one(path: str, use_orjson: bool = False) -> int:
    """Parse one file the plain way; returns 1 if it parsed, 0 if it did not."""
    data = Path(path).read_bytes()
    try:
        if path.lower().endswith(".json"):
            (orjson.loads if use_orjson else json.loads)(data)
        else:
            yaml.load(data.decode("utf-8", errors="replace"), Loader=yaml.CSafeLoader)  # noqa: S506
    except Exception:  # noqa: BLE001 - broken files are part of the corpus
        return 0
    return 1


def parse_one_orjson(path: str) -> int:
    return parse_one(path, use_orjson=True)


def _parse_all(paths: list[str], use_orjson: bool = False) -> float:
    started = time.perf_counter()
    for path in paths:
        parse_one(path, use_orjson)
    return time.perf_counter() - started


def baseline_single(paths: list[str], use_orjson: bool = False) -> float:
    """Parse everything in one fresh process (not this one: its heap, grown by the collect run,
    would slow the parse down through the cyclic GC); returns the seconds measured inside it."""
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(_parse_all, (paths, use_orjson))


def baseline_pool(paths: list[str], processes: int) -> tuple[float, float]:
    """Parse in a spawn pool; returns (seconds including pool start, seconds of the map alone)."""
    started = time.perf_counter()
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        pool.map(len, [b""] * processes)  # make sure every worker is up
        ready = time.perf_counter()
        pool.map(parse_one, paths, chunksize=1)
        done = time.perf_counter()
    return done - started, done - ready


# -- main ----------------------------------------------------------------------------------------


def figure(name: str, value: Any, unit: str = "") -> None:
    if isinstance(value, float):
        value = f"{value:.3f}" if abs(value) < 100 else f"{value:.1f}"
    print(f"{name:<44} {value}{(' ' + unit) if unit else ''}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=1, help="collect runs; the median time is reported")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--keep", type=Path, help="keep the catalog of the (last) run in this run folder")
    parser.add_argument("--experiment", choices=["gc-off", "gc-off-main"],
                        help="patch the collector at run time (nothing is edited): gc-off = workers "
                        "read with the cyclic GC disabled; gc-off-main = that and the main read loop too")
    parser.add_argument("--verbose", action="store_true", help="show the collector's log")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s")

    from pipeline.specs.sources import discover

    tasks = discover([str(args.folder)]).local
    # the baseline parses regular files only: a named pipe or a symlink to a device (the
    # hostile corpus has them) would hang or never end it
    paths = [str(t.path) for t in tasks if os.path.isfile(t.path)]
    total_bytes = sum(os.path.getsize(p) for p in paths)
    figure("files", len(tasks))
    figure("  of which not regular files", len(tasks) - len(paths))
    figure("MB", total_bytes / MB)
    figure("workers", args.workers)
    figure("cpus", os.cpu_count())

    if args.experiment:
        figure("experiment", args.experiment)
    _apply_experiment(args.experiment)
    _instrument(TIMINGS)
    runs = [run_collect(args.folder, args.workers, args.keep) for _ in range(max(1, args.repeat))]
    self_usage = resource.getrusage(resource.RUSAGE_SELF)
    child_usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    seconds = statistics.median(r["seconds"] for r in runs)
    last = runs[-1]
    report = last["report"]
    tools = report.tools if report else 0
    apis = report.apis if report else 0
    print("# collect", flush=True)
    figure("collect wall seconds", seconds)
    if len(runs) > 1:
        figure("collect wall seconds (all runs)", " ".join(f"{r['seconds']:.2f}" for r in runs))
    figure("files/s", len(tasks) / seconds)
    figure("MB/s", total_bytes / MB / seconds)
    figure("APIs/s", apis / seconds)
    figure("tools", tools)
    figure("apis", apis)
    figure("errors", report.errors if report else "n/a")
    figure("failed sources", report.failed_sources if report else "n/a")
    if report:
        figure("errors by stage", json.dumps(report.errors_by_stage))
        figure("APIs filtered", sum(report.filtered.values()))
        figure("warnings", report.warnings)
        figure("formats", json.dumps(report.formats))
    timings: Timings = last["timings"]
    figure("  read+write loop seconds", timings.read_and_write)
    figure("  of which main process waiting on workers", timings.waiting)
    figure("  of which main process busy (validate/filter/write)", timings.read_and_write - timings.waiting)
    figure("  first result after (spawn start-up) seconds", timings.first_result)
    figure("  after the loop (discover, graph, collections) seconds", last["seconds"] - timings.read_and_write)
    figure("CPU seconds main process", last["cpu_main"])
    figure("CPU seconds workers", last["cpu_workers"])
    figure("CPU utilisation (of wall x cpus)", f"{100 * (last['cpu_main'] + last['cpu_workers']) / (last['seconds'] * (os.cpu_count() or 1)):.0f}%")
    figure("catalog output MB", last["output_mb"])
    sampler: TreeSampler = max((r["sampler"] for r in runs), key=lambda s: s.peak_sum)
    print("# memory", flush=True)
    figure("peak RSS process tree, summed (MB)", sampler.peak_sum / MB)
    figure("peak RSS largest single process (MB)", sampler.peak_single / MB)
    figure("peak RSS main process (MB)", sampler.peak_main / MB)
    figure("peak RSS workers, summed (MB)", sampler.peak_children / MB)
    figure("processes seen", sampler.max_processes)
    figure("ru_maxrss self (MB)", self_usage.ru_maxrss / 1024)
    figure("ru_maxrss largest child (MB)", child_usage.ru_maxrss / 1024)
    figure("ru_maxrss self + largest child (MB)", (self_usage.ru_maxrss + child_usage.ru_maxrss) / 1024)

    if args.no_baseline:
        return 0
    print("# baseline (json.loads / yaml CSafeLoader)", flush=True)
    single = baseline_single(paths)
    figure("baseline parse seconds (1 process)", single)
    figure("ratio collect/baseline (1 process)", seconds / single)
    pooled, pooled_map = baseline_pool(paths, args.workers)
    figure(f"baseline parse seconds ({args.workers} processes, with spawn)", pooled)
    figure(f"baseline parse seconds ({args.workers} processes, map only)", pooled_map)
    figure(f"ratio collect/baseline ({args.workers} processes)", seconds / pooled)
    with_orjson = baseline_single(paths, use_orjson=True)
    figure("baseline parse seconds (orjson + CSafeLoader, 1 process)", with_orjson)
    json_paths = [p for p in paths if p.lower().endswith(".json")]
    yaml_paths = [p for p in paths if not p.lower().endswith(".json")]
    figure("  of which YAML files seconds", baseline_single(yaml_paths))
    figure("  of which JSON files seconds (json.loads)", baseline_single(json_paths))
    figure("  of which JSON files seconds (orjson)", baseline_single(json_paths, use_orjson=True))
    figure("  YAML MB / JSON MB",
           f"{sum(os.path.getsize(p) for p in yaml_paths) / MB:.1f} / {sum(os.path.getsize(p) for p in json_paths) / MB:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
