"""Benchmark retriever fine-tuning on a run's queries: how long it takes and what it scores.

    python benchmarks/retriever_train.py [--run RUN_FOLDER] [--epochs N] [--negatives N]

Without ``--run``, the default offline run (``toolgen run --engine local``) is made in a
temporary folder first. Training is :func:`pipeline.retriever.training.train_retriever` with the
configured settings (``--epochs`` and ``--negatives``, hard negatives per pair split over
siblings, BM25 and dense in that order, override them). Figures, one per line: pairs
train/held out, documents, negatives per pair, steps, wall seconds in total and in the trainer,
seconds per step, the training loss first and last, and the held-out NDCG@1/3/5 and recall@5/10
before and after. Decide ``retriever.train.in_run`` from the total: the issue asks for training in
``toolgen run`` only if it takes under ~2 minutes on the machine's 2 cores.
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from pipeline.retriever.training import train_retriever  # noqa: E402
from pipeline.settings import load_settings  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, help="a run folder with queries (default: make the default run)")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--negatives", type=int, help="hard negatives per pair (siblings, BM25, dense in turn)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="toolgen-bench-train-") as scratch:
        run = args.run
        if run is None:
            run = Path(scratch) / "run"
            subprocess.run([sys.executable, "-m", "pipeline.cli", "run", "--engine", "local", "--out", str(run)],
                           check=True, stdout=subprocess.DEVNULL)
        settings = load_settings(run_dir=run)
        train = settings.retriever.train
        if args.epochs is not None:
            train.epochs = args.epochs
        if args.negatives is not None:
            counts = [args.negatives // 3 + (1 if args.negatives % 3 > n else 0) for n in range(3)]
            train.sibling_negatives, train.bm25_negatives, train.dense_negatives = counts
        report = train_retriever(settings)
    print(f"pairs train / held out: {report.pairs.get('train', 0)} / {report.pairs.get('eval', 0)}")
    print(f"documents: {report.documents}")
    print(f"negatives per pair: {report.negatives_per_pair}")
    print(f"epochs / steps: {report.epochs} / {report.steps}")
    print(f"total seconds: {report.seconds}")
    print(f"trainer seconds: {report.train_seconds}")
    print(f"seconds per step: {report.train_seconds / max(report.steps, 1):.1f}")
    if report.training_loss:
        print(f"training loss first / last: {report.training_loss[0].loss:.3f} / {report.training_loss[-1].loss:.3f}")
    if report.metrics_before and report.metrics_after:
        for field in ("ndcg_at_1", "ndcg_at_3", "ndcg_at_5", "recall_at_5", "recall_at_10"):
            print(f"held-out {field}: {getattr(report.metrics_before, field):.3f} -> "
                  f"{getattr(report.metrics_after, field):.3f}")


if __name__ == "__main__":
    main()
