"""Streaming figures, the tree layout and which tree gets drawn, on hand-made records."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pipeline.report.markdown import table_markdown
from pipeline.report.models import ReportTable
from pipeline.report.stats import Distribution, SampleStats, TrajectoryStats, chosen_path_calls
from pipeline.report.tree_picture import draw_tree, short_label, top_down_layout, tree_graph
from pipeline.search.tree import SearchNode


def node(node_id: int, parent: int | None, kind: str, status: str, name: str | None = None,
         children: list[int] | None = None) -> dict[str, Any]:
    depth = 0 if parent is None else 1  # the layout reads depth from the edges, not this field
    return {"id": node_id, "parent": parent, "depth": depth, "kind": kind, "status": status, "name": name,
            "children": children or []}


def record(query_id: int, *, backtracks: int, finish_type: str = "give_answer", size: int = 6) -> dict[str, Any]:
    """A chain root → call … → Finish of ``size`` nodes, with one pruned sibling per backtrack."""
    nodes = [node(0, None, "root", "ok", children=[1])]
    for i in range(1, size - 1):
        nodes.append(node(i, i - 1, "call", "ok", f"step{i}_for_tool", children=[i + 1]))
    nodes.append(node(size - 1, size - 2, "finish", "answer" if finish_type == "give_answer" else "give_up",
                      "Finish"))
    for b in range(backtracks):
        extra = size + b
        nodes.append(node(extra, 1, "call", "pruned", "other_for_tool"))
        nodes[1]["children"].append(extra)
    return {"query": f"task {query_id}", "group": "G1", "query_id": query_id, "finish_type": finish_type,
            "chosen_path": list(range(size)), "tree": {"root": 0, "nodes": nodes},
            "counts": {"model_calls": size, "prompt_tokens": 1000 * size, "completion_tokens": 10 * size,
                       "api_calls": size - 2, "backtracks": backtracks, "nodes": len(nodes)}}


@pytest.mark.parametrize("values", [[3, 1, 4, 1, 5, 9, 2, 6], [7], list(range(1, 101)),
                                    [1200, 35_000, 48_213, 90_001, 123_456]])
def test_distribution_matches_numpy_within_bucket_precision(values: list[int]) -> None:
    dist = Distribution()
    for value in values:
        dist.add(value)
    assert dist.count == len(values) and dist.mean == pytest.approx(np.mean(values))
    assert dist.min == min(values) and dist.max == max(values)
    for q in (0, 50, 90, 100):
        assert dist.percentile(q) == pytest.approx(np.percentile(values, q), rel=0.005)


def test_distribution_stays_small_for_many_large_values() -> None:
    dist = Distribution()
    for value in range(10_000, 1_010_000, 7):  # ~140k distinct token counts
        dist.add(value)
    assert len(dist.items()) < 2_000
    assert dist.median == pytest.approx(510_000, rel=0.005)


def test_chosen_path_counts_calls_not_root_or_finish() -> None:
    assert chosen_path_calls(record(1, backtracks=2, size=6)) == 4


def test_picture_prefers_a_backtracking_answered_tree_of_legible_size() -> None:
    stats = TrajectoryStats()
    stats.add(record(1, backtracks=0))
    stats.add(record(2, backtracks=1, finish_type="give_up"))
    stats.add(record(3, backtracks=2, size=60))  # backtracks, but too big to read
    stats.add(record(4, backtracks=2))
    stats.add(record(5, backtracks=2))  # as good as 4: the earlier one stays
    assert stats.drawn is not None and stats.drawn.query_id == "4"
    assert stats.trees == 5 and stats.backtracking_trees == 4 and stats.backtracking_share == 0.8


def test_sample_stats_sum_prompt_and_completion_tokens() -> None:
    samples = SampleStats(source="answered")
    samples.add(record(1, backtracks=0, size=4))
    assert samples.cost["total_tokens"].total == 4 * 1000 + 4 * 10
    assert samples.calls_per_path.items() == [(2, 1)]


def test_layout_puts_root_on_top_and_parents_over_their_children() -> None:
    graph = tree_graph([SearchNode.model_validate(n) for n in record(1, backtracks=2)["tree"]["nodes"]])
    positions = top_down_layout(graph, 0)
    assert set(positions) == set(graph.nodes)
    assert positions[0][1] == 0 and all(y <= 0 for _, y in positions.values())
    for parent in graph.nodes:
        kids = list(graph.successors(parent))
        if kids:
            assert all(positions[kid][1] == positions[parent][1] - 1 for kid in kids)
            xs = [positions[kid][0] for kid in kids]
            assert positions[parent][0] == pytest.approx((min(xs) + max(xs)) / 2)
    leaves = sorted(positions[n][0] for n in graph.nodes if graph.out_degree(n) == 0)
    assert leaves == list(range(len(leaves)))  # no two leaves overlap


def test_labels_drop_the_tool_suffix_and_name_finishes() -> None:
    assert short_label(SearchNode(id=1, kind="call", name="getquote_for_marketpulse_stocks")) == "getquote"
    assert short_label(SearchNode(id=1, kind="finish", status="give_up")) == "give up"
    assert short_label(SearchNode(id=0, kind="root")) == "start"
    assert len(short_label(SearchNode(id=1, kind="call", name="x" * 80))) <= 20


def test_tree_picture_is_a_png(tmp_path: Path) -> None:
    stats = TrajectoryStats()
    stats.add(record(1, backtracks=3))
    assert stats.drawn is not None
    data = draw_tree(tmp_path / "tree.png", stats.drawn).read_bytes()
    assert data.startswith(b"\x89PNG") and len(data) > 5_000


def test_table_cells_with_pipes_are_escaped() -> None:
    text = table_markdown(ReportTable(key="k", title="t", columns=["a"], rows=[["x | y"]]))
    assert text.splitlines()[-1] == "| x \\| y |"
