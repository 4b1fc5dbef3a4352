"""One DFSDT search tree drawn as a PNG: nodes coloured by status, the chosen path in bold.

graphviz is not installed, so the layout is our own top-down tidy layout: leaves side by side
in search order, each parent centred over its children, one row per depth.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import pairwise
from pathlib import Path
from typing import Any

import networkx as nx
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from pipeline.report.plots import new_figure, save
from pipeline.report.stats import TreeSample
from pipeline.search.tree import SearchNode

STATUS_COLOURS: Mapping[str, str] = {
    "ok": "#55A868",
    "answer": "#4C72B0",
    "error": "#C44E52",
    "parse_error": "#8172B3",
    "give_up": "#DD8452",
    "pruned": "#B0B0B0",
}
_UNKNOWN_COLOUR = "#FFFFFF"
_LABEL_CHARS = 20


def short_label(node: SearchNode) -> str:
    """A label that fits under a node: the function without its ``_for_<tool>`` suffix."""
    if node.kind == "root":
        return "start"
    if node.kind == "finish":
        return "give up" if node.status == "give_up" else "Finish"
    name = (node.name or "?").split("_for_", 1)[0]
    return name if len(name) <= _LABEL_CHARS else name[: _LABEL_CHARS - 1] + "…"


def tree_graph(nodes: Sequence[SearchNode]) -> nx.DiGraph[int]:
    """The tree as a directed graph (parent → child) carrying status, kind and label."""
    graph: nx.DiGraph[int] = nx.DiGraph()
    for node in nodes:
        graph.add_node(node.id, status=node.status, kind=node.kind, label=short_label(node), order=list(node.children))
    for node in nodes:
        if node.parent is not None and node.parent in graph:
            graph.add_edge(node.parent, node.id)
    return graph


def top_down_layout(graph: nx.DiGraph[int], root: Any) -> dict[Any, tuple[float, float]]:
    """Positions with the root on top: leaves at x = 0, 1, 2… in search order, parents centred."""
    def children(node: Any) -> list[Any]:
        ordered = [c for c in graph.nodes[node].get("order", []) if graph.has_edge(node, c)]
        return ordered + sorted(set(graph.successors(node)) - set(ordered), key=str)

    positions: dict[Any, tuple[float, float]] = {}
    next_leaf = 0.0
    # Iterative post-order: a search tree can be deep enough to make recursion a liability.
    stack: list[tuple[Any, int, bool]] = [(root, 0, False)]
    while stack:
        node, depth, expanded = stack.pop()
        kids = children(node)
        if not kids:
            positions[node] = (next_leaf, -float(depth))
            next_leaf += 1
        elif expanded:
            xs = [positions[kid][0] for kid in kids]
            positions[node] = ((min(xs) + max(xs)) / 2, -float(depth))
        else:
            stack.append((node, depth, True))
            stack.extend((kid, depth + 1, False) for kid in reversed(kids))
    return positions


def draw_tree(path: Path, tree: TreeSample) -> Path:
    """Draw ``tree`` to ``path`` as a PNG."""
    graph = tree_graph(tree.nodes)
    roots = [node for node in graph if graph.in_degree(node) == 0]
    positions = top_down_layout(graph, roots[0]) if roots else {}
    # Nodes cut off from the root (should not happen) still get a place instead of crashing draw.
    for extra, node in enumerate(node for node in graph if node not in positions):
        positions[node] = (float(extra), 1.0)
    leaves = max(1, sum(1 for node in graph if graph.out_degree(node) == 0))
    depth = max((-y for _, y in positions.values()), default=0)
    figure, ax = new_figure(min(4 + 1.4 * leaves, 40), 1.6 + 1.1 * (depth + 1))

    chosen = set(tree.chosen_path)
    chosen_edges = [(a, b) for a, b in pairwise(tree.chosen_path) if graph.has_edge(a, b)]
    other_edges = [edge for edge in graph.edges if edge not in set(chosen_edges)]
    nx.draw_networkx_edges(graph, positions, edgelist=other_edges, ax=ax, edge_color="#999999", width=1.0,
                           arrows=False)
    nx.draw_networkx_edges(graph, positions, edgelist=chosen_edges, ax=ax, edge_color="#222222", width=3.0,
                           arrows=False)
    ordered = list(graph.nodes)
    nx.draw_networkx_nodes(
        graph, positions, nodelist=ordered, ax=ax, node_size=420,
        node_color=[STATUS_COLOURS.get(graph.nodes[n]["status"], _UNKNOWN_COLOUR) for n in ordered],
        edgecolors=["#000000" if n in chosen else "#666666" for n in ordered],
        linewidths=[2.5 if n in chosen else 0.8 for n in ordered],
    )
    label_positions = {node: (x, y - 0.28) for node, (x, y) in positions.items()}
    nx.draw_networkx_labels(graph, label_positions, labels={n: graph.nodes[n]["label"] for n in ordered}, ax=ax,
                            font_size=8)

    present = sorted({graph.nodes[n]["status"] for n in ordered}, key=lambda s: list(STATUS_COLOURS).index(s)
                     if s in STATUS_COLOURS else len(STATUS_COLOURS))
    handles: list[Any] = [Patch(facecolor=STATUS_COLOURS.get(s, _UNKNOWN_COLOUR), edgecolor="#666666", label=str(s))
                          for s in present]
    handles.append(Line2D([0], [0], color="#222222", linewidth=3.0, label="chosen path"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    ax.set_title(f"{tree.group} query {tree.query_id}: {len(tree.nodes)} nodes, backtracks: {tree.backtracks}, "
                 f"finish: {tree.finish_type}", fontsize=10)
    ax.set_ylim(-depth - 0.6, 0.5)
    ax.axis("off")
    return save(figure, path)
