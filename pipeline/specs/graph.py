"""The catalog graph: category → tool → API, plus collections of related tools.

Collections are what G3 sampling draws from: groups of tools that belong together although
they sit in different categories (a city lookup, a weather service and a hotel search). They
come from configuration, and are also derived: tools are linked to their nearest neighbours by
TF-IDF similarity of their descriptions, API names and parameter / response field names (so
tools whose outputs feed each other's inputs attract), and Louvain communities of that graph
that span at least two categories become collections.
"""

from __future__ import annotations

import fnmatch
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, cast

import networkx as nx

from pipeline.models import Tool
from pipeline.settings import CollectionSpec

_WORD = re.compile(r"[a-z][a-z0-9]{2,}")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
_STOPWORDS = frozenset(
    ["the", "and", "for", "with", "from", "this", "that", "api", "apis", "get", "list", "returns", "return", "data", "using", "use", "your", "you", "are", "can", "will", "all", "any", "each", "given", "into", "its", "not", "one", "two", "more", "other", "such", "than", "then", "them", "they", "via", "which", "when", "where", "who", "what", "how", "about", "also", "have", "has", "was", "were", "been", "being", "our", "per", "http", "https", "www", "json", "string", "number", "integer", "boolean", "object", "array", "request", "response", "value", "values", "id", "ids"]
)


@dataclass
class ToolSummary:
    """What the graph needs of a tool, kept small so the collector can hold thousands."""

    id: str
    name: str
    category: str
    api_ids: list[str]
    api_names: list[str]
    terms: list[str]  # tokens of its descriptions and names, made where the tool was read
    category_origin: str = "default"
    category_text: str = ""  # what the embedding fallback reads; only for tools it has to place


@dataclass
class Collection:
    name: str
    tools: list[str]
    origin: str  # "config" or "derived"
    description: str = ""
    categories: list[str] = field(default_factory=list)


def summarise(tool: Tool) -> ToolSummary:
    words = [tool.tool_name, tool.tool_description]
    for api in tool.api_list:
        words.append(api.name)
        words.append(api.description[:300])
        words.extend(p.name for p in api.parameters)
        if isinstance(api.template_response, dict):
            words.extend(str(key) for key in api.template_response)
    return ToolSummary(
        id=tool.id,
        name=tool.tool_name,
        category=tool.category,
        api_ids=[api.id for api in tool.api_list],
        api_names=[api.name for api in tool.api_list],
        terms=_tokens(" ".join(words)),
        category_origin=tool.category_origin,
        category_text=category_text(tool) if tool.category_origin == "default" else "",
    )


def category_text(tool: Tool, max_chars: int = 1000) -> str:
    """A tool as the category embedding reads it: title, description, operations, tags.

    Operation names are split into words (``getCurrentWeather`` → ``get Current Weather``):
    for a spec with a one-line description they say most of what it does.
    """
    operations = []
    for api in tool.api_list[:15]:
        name = _CAMEL.sub(" ", api.name).replace("_", " ")
        summary = api.description.split("\n", 1)[0][:80]
        operations.append(f"{name} ({summary})" if summary and summary != api.name else name)
    parts = [tool.title or tool.tool_name, tool.tool_description[:400]]
    parts.append("Operations: " + "; ".join(operations))
    if tool.tags:
        parts.append("Tags: " + ", ".join(tool.tags[:10]))
    return ". ".join(p for p in parts if p)[:max_chars]


def _tokens(text: str) -> list[str]:
    spaced = _CAMEL.sub(" ", text).replace("_", " ").lower()
    return [word for word in _WORD.findall(spaced) if word not in _STOPWORDS]


def _already_tokenised(terms: list[str]) -> list[str]:
    return terms


def warm_up_imports() -> None:
    """Import what :func:`derive_collections` needs (~1 s); run it in a thread while waiting."""
    import sklearn.feature_extraction.text
    import sklearn.neighbors  # noqa: F401


def configured_collections(
    specs: list[CollectionSpec], tools: list[ToolSummary]
) -> tuple[list[Collection], list[str]]:
    """Collections named in configuration; returns them and warnings for patterns that match nothing."""
    warnings = []
    result = []
    for spec in specs:
        members: list[str] = []
        for pattern in spec.tools:
            lowered = pattern.lower()
            matched = [
                t.id
                for t in tools
                if fnmatch.fnmatchcase(t.id, lowered) or t.name.lower() == lowered
            ]
            if not matched:
                warnings.append(f"collection {spec.name!r}: {pattern!r} matches no tool")
            members.extend(m for m in matched if m not in members)
        if members:
            categories = sorted({t.category for t in tools if t.id in members})
            result.append(Collection(spec.name, members, "config", spec.description, categories))
    return result, warnings


def derive_collections(
    tools: list[ToolSummary],
    *,
    seed: int = 0,
    neighbours: int = 5,
    min_similarity: float = 0.08,
    max_size: int = 12,
) -> list[Collection]:
    """Cross-category communities of similar tools (see the module docstring)."""
    if len(tools) < 2 or len({t.category for t in tools}) < 2:
        return []
    from sklearn.feature_extraction.text import TfidfVectorizer  # heavy; see warm_up_imports
    from sklearn.neighbors import NearestNeighbors

    vectorizer = TfidfVectorizer(analyzer=_already_tokenised, sublinear_tf=True)
    try:
        matrix = vectorizer.fit_transform([t.terms for t in tools])
    except ValueError:  # no usable words at all
        return []
    terms = vectorizer.get_feature_names_out()
    # k nearest neighbours by cosine over the sparse matrix, computed in chunks: memory stays
    # linear in the number of tools (a full tool-by-tool similarity matrix would not)
    k = min(neighbours + 1, len(tools))
    finder = NearestNeighbors(n_neighbors=k, metric="cosine", algorithm="brute")
    distances, indices = finder.fit(matrix).kneighbors(matrix)
    graph: nx.Graph[int] = nx.Graph()
    graph.add_nodes_from(range(len(tools)))
    for row in range(len(tools)):
        for distance, column in zip(distances[row], indices[row], strict=True):
            similarity = 1.0 - float(distance)
            if column != row and similarity >= min_similarity:
                graph.add_edge(row, int(column), weight=similarity)
    communities = nx.algorithms.community.louvain_communities(graph, weight="weight", seed=seed)
    # a big catalog's communities hold a hundred tools or more: split them, so collections
    # cover the catalog instead of the dozen best-connected tools of each community
    pieces = [piece for community in communities for piece in _split(graph, community, max_size, seed)]
    result: list[Collection] = []
    for community in sorted(pieces, key=lambda c: (-len(c), min(c))):
        members = sorted(community, key=lambda i: -graph.degree(i, weight="weight"))[:max_size]
        categories = sorted({tools[i].category for i in members})
        if len(members) < 2 or len(categories) < 2:
            continue
        weights = matrix[members].sum(axis=0).A1
        top_terms = [str(terms[i]) for i in weights.argsort()[::-1][:3]]
        name = f"derived_{len(result) + 1:02d}_" + "_".join(top_terms)
        result.append(
            Collection(
                name=name,
                tools=sorted(tools[i].id for i in members),
                origin="derived",
                description="tools with similar vocabulary: " + ", ".join(top_terms),
                categories=categories,
            )
        )
    return result


def _split(graph: nx.Graph[int], community: set[int], max_size: int, seed: int) -> list[set[int]]:
    """``community`` as parts of at most ``max_size`` tools: Louvain again on its own subgraph
    (at a finer resolution), and where that finds no structure, connected runs in BFS order."""
    if len(community) <= max_size:
        return [community]
    sub = graph.subgraph(community)
    parts = nx.algorithms.community.louvain_communities(sub, weight="weight", seed=seed, resolution=2.0)
    if len(parts) > 1:
        return [piece for part in sorted(parts, key=min) for piece in _split(graph, part, max_size, seed)]
    ordered: list[int] = []
    for component in sorted(nx.connected_components(sub), key=min):
        start = max(sorted(component), key=lambda i: sub.degree(i, weight="weight"))
        ordered.extend(nx.bfs_tree(sub.subgraph(component), start))
    return [set(ordered[k : k + max_size]) for k in range(0, len(ordered), max_size)]


def build_graph(tools: list[ToolSummary], collections: list[Collection]) -> nx.DiGraph[str]:
    """Nodes ``category:<name>``, ``tool:<id>``, ``api:<tool>/<api>``, ``collection:<name>``."""
    graph: nx.DiGraph[str] = nx.DiGraph()
    for tool in tools:
        category = f"category:{tool.category}"
        graph.add_node(category, kind="category", name=tool.category)
        graph.add_node(f"tool:{tool.id}", kind="tool", name=tool.name, category=tool.category)
        graph.add_edge(category, f"tool:{tool.id}", kind="has_tool")
        for api_id, api_name in zip(tool.api_ids, tool.api_names, strict=True):
            node = f"api:{tool.id}/{api_id}"
            graph.add_node(node, kind="api", name=api_name, tool=tool.id)
            graph.add_edge(f"tool:{tool.id}", node, kind="has_api")
    for collection in collections:
        node = f"collection:{collection.name}"
        graph.add_node(
            node,
            kind="collection",
            name=collection.name,
            origin=collection.origin,
            description=collection.description,
        )
        for tool_id in collection.tools:
            graph.add_edge(node, f"tool:{tool_id}", kind="member")
    return graph


def graph_to_json(graph: nx.DiGraph[str]) -> dict[str, Any]:
    return nx.node_link_data(graph, edges="edges")


def graph_from_json(data: dict[str, Any]) -> nx.DiGraph[str]:
    # directed=True makes a DiGraph (a MultiDiGraph if the data says multigraph); the stubs
    # promise only a Graph
    return cast("nx.DiGraph[str]", nx.node_link_graph(data, directed=True, edges="edges"))


def category_counts(tools: list[ToolSummary]) -> dict[str, int]:
    return dict(sorted(Counter(t.category for t in tools).items()))
