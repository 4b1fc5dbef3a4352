"""Retriever quality on real ToolBench-format query files: BM25 vs dense vs hybrid, per group.

    python benchmarks/retriever_quality.py FILE.json... [--work DIR] [--model NAME] [--fusion rrf|blend]
        [--blend-weight W] [--tool-lift S] [--rrf-k K]

The corpus is the union of the files' ``api_list`` APIs (one document each, ToolBench's text), as
ToolBench's retriever evaluation ranks over the whole corpus. Files are merged per group (the
``G1`` of ``G1_instruction.json``), query ids prefixed with their file's stem so they stay
distinct, and every ranking is evaluated on each group and overall. Embeddings are cached in
``--work`` (default: a folder under the system's temporary directory), so a second run with other
fusion settings encodes nothing. Prints one table; nothing is timed.

Real query files: ``../shared/examples/toolbench/instruction/G*_query.json`` (ten queries) and
StableToolBench's ``solvable_queries/test_instruction/*.json`` (Apache-2.0; 765 queries).
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import tempfile
from pathlib import Path

from pipeline.records import QueryRecord
from pipeline.retriever.evaluation import EvalModels, corpus_with_file_apis, evaluate_set
from pipeline.retriever.labels import file_records, labelled_queries
from pipeline.settings import load_settings


def merged_by_group(files: list[Path], work: Path) -> list[Path]:
    """One query file per group, ids prefixed with their file's stem."""
    groups: dict[str, list[dict[str, object]]] = {}
    for path in files:
        group = (re.match(r"(G\d+)", path.stem) or re.match(r"(.*)", path.stem)).group(1)  # type: ignore[union-attr]
        for query in json.loads(path.read_text()):
            groups.setdefault(group, []).append({**query, "query_id": f"{path.stem}-{query['query_id']}",
                                                 "group": group})
    merged = []
    for group, queries in sorted(groups.items()):
        target = work / f"{group}.json"
        target.write_text(json.dumps(queries))
        merged.append(target)
    return merged


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "toolgen-retriever-quality")
    parser.add_argument("--model", default="default")
    parser.add_argument("--fusion", choices=["rrf", "blend"], help="default: retriever.fusion")
    parser.add_argument("--blend-weight", type=float, help="default: retriever.blend_weight")
    parser.add_argument("--rrf-k", type=int, help="default: retriever.rrf_k")
    parser.add_argument("--tool-lift", type=float, help="default: retriever.tool_lift")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    args.work.mkdir(parents=True, exist_ok=True)
    chosen = {"model": args.model, "fusion": args.fusion, "blend_weight": args.blend_weight, "rrf_k": args.rrf_k,
              "tool_lift": args.tool_lift}
    settings = load_settings(run_dir=args.work / "run",
                             retriever={key: value for key, value in chosen.items() if value is not None})
    fusion = settings.retriever
    files = merged_by_group(args.files, args.work)
    records: list[QueryRecord] = file_records(files)
    corpus = corpus_with_file_apis([], records)
    queries = labelled_queries(records, corpus, settings.export)
    models = EvalModels(settings.run_dir, settings)
    result = evaluate_set("files", queries, corpus, models)
    print(f"corpus {len(corpus)} APIs, {len(queries)} queries ({', '.join(str(f.name) for f in args.files)}); "
          f"fusion {fusion.fusion} (rrf_k {fusion.rrf_k}, blend weight {fusion.blend_weight}), "
          f"tool lift {fusion.tool_lift}")
    print(f"{'ranking':<16} {'group':<6} {'n':>4} {'NDCG@1':>7} {'NDCG@3':>7} {'NDCG@5':>7} {'R@5':>7} {'R@10':>7}")
    for row in sorted(result.rows, key=lambda r: (r.group, r.ranking)):
        print(f"{row.ranking:<16} {row.group:<6} {row.queries:>4} {row.ndcg_at_1:>7.4f} {row.ndcg_at_3:>7.4f} "
              f"{row.ndcg_at_5:>7.4f} {row.recall_at_5:>7.4f} {row.recall_at_10:>7.4f}")


if __name__ == "__main__":
    main()
