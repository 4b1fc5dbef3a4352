"""Does a killed-and-resumed annotate give the data of an uninterrupted one? (issue 11)

    python benchmarks/resume.py [--kill-after 40 150 250] [--keep DIR]

One run folder is prepared with ``toolgen collect``, ``env probe`` and ``generate`` (the default,
offline configuration) and copied twice. In the first copy ``toolgen annotate`` runs to the end.
In a trial, another copy is annotated and killed (SIGKILL) once ``--kill-after`` trajectories are
on disk, then annotated again to the end: one trial per ``--kill-after`` value. Both are verified. Trajectories
are compared without what only timing changes (elapsed times, cache flags and counts).

Figures, one per line: queries, then per trial the trajectories written before the kill, the
trajectories that differ, the accepted samples of each run and the verdicts that differ.
Target: 0 differing trajectories and verdicts in every trial.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
TIMING = frozenset({"elapsed_ms", "cached", "wall_seconds", "cache_hits", "seconds"})


def toolgen(*args: str, out: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "pipeline.cli", *args, "--engine", "local", "--out", str(out)]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def finish(*args: str, out: Path) -> None:
    code = toolgen(*args, out=out).wait()
    if code != 0:
        raise SystemExit(f"toolgen {' '.join(args)} --out {out} exited {code}")


def lines(run: Path) -> int:
    return sum(len(p.read_bytes().splitlines()) for p in (run / "trajectories").glob("*.jsonl"))


def without_timing(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: without_timing(v) for k, v in value.items() if k not in TIMING}
    if isinstance(value, list):
        return [without_timing(v) for v in value]
    return value


def records(folder: Path) -> dict[tuple[str, str, Any], Any]:
    found = {}
    for path in sorted(folder.glob("*.jsonl")):
        for line in path.read_text().splitlines():
            try:
                record = json.loads(line)
            except ValueError:  # a line torn by the kill
                continue
            found[(path.stem, str(record.get("group")), record["query_id"])] = without_timing(record)
    return found


def differing(a: dict[Any, Any], b: dict[Any, Any]) -> int:
    return sum(a.get(key) != b.get(key) for key in a.keys() | b.keys())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kill-after", type=int, nargs="+", default=[40, 150, 250])
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    options = parser.parse_args()
    work = options.keep or Path(tempfile.mkdtemp(prefix="toolgen-resume-"))
    try:
        prepared = work / "prepared"
        for stage in (["collect"], ["env", "probe"], ["generate"]):
            finish(*stage, out=prepared)
        uninterrupted = work / "uninterrupted"
        shutil.copytree(prepared, uninterrupted)
        finish("annotate", out=uninterrupted)
        finish("verify", out=uninterrupted)
        expected, accepted = records(uninterrupted / "trajectories"), records(uninterrupted / "verified")
        print(f"queries: {len(expected)}")
        for trial, kill_after in enumerate(options.kill_after, 1):
            killed = work / f"killed-{trial}"
            shutil.copytree(prepared, killed)
            process = toolgen("annotate", out=killed)
            while process.poll() is None and lines(killed) < kill_after:
                time.sleep(0.02)
            written = lines(killed)
            process.send_signal(signal.SIGKILL)
            process.wait()
            finish("annotate", out=killed)
            finish("verify", out=killed)
            got, verdicts = records(killed / "trajectories"), records(killed / "verified")
            print(f"trial {trial}: trajectories written before the kill: {written}")
            print(f"trial {trial}: trajectories differing: {differing(expected, got)}")
            print(f"trial {trial}: accepted uninterrupted / resumed: "
                  f"{sum(k[0] == 'accepted' for k in accepted)} / {sum(k[0] == 'accepted' for k in verdicts)}")
            print(f"trial {trial}: verdicts differing: {differing(accepted, verdicts)}")
    finally:
        if options.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
