"""Choosing the API sets that instruction generation writes queries for (ToolBench G1/G2/G3).

G1 is one tool with all its APIs (capped for huge tools); G2 is 2–5 tools of one category with at
most 3 APIs per tool; G3 is 2–5 tools of one collection (tools may span categories). Multi-tool
sets prefer APIs that feed each other, so the queries written for them can chain calls: an API
*feeds* another when a field of its response can fill one of the other's parameters.

Feeding rule (deliberately simple and deterministic). Names are normalised by lowercasing and
dropping ``_`` / ``-``. Response fields are the property names of ``response_schema`` (through
nested objects and array items, a few levels deep) and the keys of ``template_response``. API A
feeds API B (B ≠ A, same tool or another) through B's parameter ``p`` when either

* a response field of A has the same normalised name as ``p`` and the name is not generic
  (``lat``, ``lon``, ``currency_code``, ``symbol``, ``movie_id`` match; ``page``, ``limit``,
  ``id``, ``name`` ... do not), or
* ``p`` is ``<entity>_id`` (also ``from_<entity>_id``), A's response has a bare ``id`` field, and
  ``<entity>`` (singular or plural) is a word of A's tool or API id/name: ``search_cities`` of
  ``city_atlas_geo`` returns ``id``, which feeds ``city_id`` of ``search_hotels``.
"""

from __future__ import annotations

import logging
import random
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import networkx as nx
from pydantic import BaseModel, Field, model_validator

from pipeline.models import Api, Tool
from pipeline.specs.ids import short_hash

log = logging.getLogger(__name__)

Group = Literal["G1", "G2", "G3"]
ApiRef = tuple[str, str]  # (tool id, api id)

# response fields / parameters too common to mean that one call's output is another's input
_GENERIC = frozenset(
    {
        *("id", "ids", "page", "perpage", "pagesize", "limit", "offset", "total", "count"),
        *("next", "previous", "cursor", "sort", "order", "orderby", "q", "query", "search"),
        *("results", "result", "data", "items", "status", "name", "title", "description"),
        *("type", "format", "unit", "units", "date", "days", "from", "to", "createdat"),
        *("updatedat", "message", "error", "success", "fields", "include", "expand"),
    }
)
_SCHEMA_DEPTH = 4  # nesting followed in response schemas and template responses
_WORD = re.compile(r"[a-z0-9]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


class SamplingSettings(BaseModel):
    """How many API sets to draw per group and what a set may contain."""

    per_group: dict[str, int] = Field(default_factory=lambda: {"G1": 10, "G2": 10, "G3": 10})
    min_tools: int = Field(default=2, ge=2)
    max_tools: int = Field(default=5, ge=2)
    max_apis_per_tool: int = Field(default=3, ge=1, description="per tool in G2 / G3 sets")
    max_apis_g1: int = Field(default=12, ge=1, description="cap on a huge tool's APIs in G1")
    prefer_feeding: bool = Field(
        default=True, description="weight multi-tool choices toward APIs whose outputs feed inputs"
    )
    seed: int = 0

    @model_validator(mode="after")
    def _tool_range(self) -> SamplingSettings:
        if self.max_tools < self.min_tools:
            raise ValueError("max_tools must be at least min_tools")
        return self


class ApiSet(BaseModel):
    """A sampled group of APIs that one instruction-generation prompt documents."""

    id: str
    group: Group
    apis: list[tuple[str, str]]  # (tool id, api id), sorted
    tools: list[str]  # sorted
    category: str | None = None
    collection: str | None = None
    feeding_links: int = 0


class FeedingLink(NamedTuple):
    source: ApiRef  # whose response holds the value
    target: ApiRef  # whose parameter takes it
    field: str  # the target's parameter name


def api_set_id(group: str, apis: Iterable[ApiRef]) -> str:
    """Stable id: the same group and APIs give the same id, whatever their order."""
    key = group + "|" + "|".join(f"{tool}/{api}" for tool, api in sorted(apis))
    return f"{group}-{short_hash(key, 16)}"


# --- feeding links -------------------------------------------------------------------------


def _norm(name: str) -> str:
    return name.lower().replace("_", "").replace("-", "")


def _words(*texts: str) -> set[str]:
    """Words of names, each also in singular form (``cities`` → ``city``, ``hotels`` → ``hotel``)."""
    words: set[str] = set()
    for text in texts:
        for word in _WORD.findall(_CAMEL.sub(" ", text).lower()):
            if len(word) < 3:
                continue
            words.add(word)
            if word.endswith("ies"):
                words.add(word[:-3] + "y")
            elif word.endswith("s") and not word.endswith("ss"):
                words.add(word[:-1])
    return words


def _schema_fields(schema: Any, depth: int) -> Iterable[str]:
    if depth <= 0 or not isinstance(schema, dict):
        return
    if isinstance(schema.get("items"), dict):
        yield from _schema_fields(schema["items"], depth)
    properties = schema.get("properties")
    if isinstance(properties, dict):
        for name, sub in properties.items():
            yield str(name)
            yield from _schema_fields(sub, depth - 1)


def _template_fields(value: Any, depth: int) -> Iterable[str]:
    if depth <= 0:
        return
    if isinstance(value, list):
        for item in value[:1]:  # template lists show one example element
            yield from _template_fields(item, depth)
    elif isinstance(value, dict):
        for key, sub in value.items():
            yield str(key)
            yield from _template_fields(sub, depth - 1)


def response_fields(api: Api) -> set[str]:
    """Field names an API's response carries, from its schema and its template response."""
    fields = set(_schema_fields(api.response_schema, _SCHEMA_DEPTH))
    fields.update(_template_fields(api.template_response, _SCHEMA_DEPTH))
    return fields


@dataclass(frozen=True)
class _Io:
    """An API reduced to matching keys: normalised output keys and parameter keys → names."""

    ref: ApiRef
    outputs: frozenset[str]
    inputs: dict[str, str]


def _io(tool: Tool, api: Api) -> _Io:
    fields = response_fields(api)
    outputs = {_norm(f) for f in fields} - _GENERIC
    if "id" in {_norm(f) for f in fields}:
        # a bare id is the id of whatever the tool / API is about
        outputs |= {word + "id" for word in _words(tool.id, tool.tool_name, api.id, api.name)}
    inputs: dict[str, str] = {}
    for param in api.parameters:
        key = _norm(param.name)
        if key in _GENERIC:
            continue
        inputs.setdefault(key, param.name)
        parts = [p for p in re.split(r"[^a-z0-9]+", _CAMEL.sub("_", param.name).lower()) if p]
        if len(parts) >= 3 and parts[-1] == "id":  # from_city_id takes a city id too
            inputs.setdefault(parts[-2] + "id", param.name)
    return _Io((tool.id, api.id), frozenset(outputs), inputs)


def _links(ios: Sequence[_Io]) -> list[FeedingLink]:
    consumers: dict[str, list[_Io]] = defaultdict(list)
    for io in ios:
        for key in io.inputs:
            consumers[key].append(io)
    found: dict[tuple[ApiRef, ApiRef, str], None] = {}  # ordered set
    for source in ios:
        for key in sorted(source.outputs):
            for target in consumers.get(key, ()):
                if target.ref != source.ref:
                    found.setdefault((source.ref, target.ref, target.inputs[key]), None)
    return [FeedingLink(*link) for link in found]


def feeding_links(apis: list[tuple[Tool, Api]]) -> list[FeedingLink]:
    """Every output→input link among ``apis`` (see the module docstring for the rule)."""
    return _links([_io(tool, api) for tool, api in apis])


# --- sampling ------------------------------------------------------------------------------


class _Catalog:
    """The tools being sampled from, with each API's matching keys computed once."""

    def __init__(self, tools: list[Tool]) -> None:
        self.tools = {t.id: t for t in tools if t.api_list}
        self.ios = {t.id: [_io(t, api) for api in t.api_list] for t in self.tools.values()}

    def links_among(self, tool_ids: Sequence[str]) -> list[FeedingLink]:
        return _links([io for tid in tool_ids for io in self.ios[tid]])


def _weighted_order(rng: random.Random, items: Sequence[Any], weights: Sequence[float]) -> list[Any]:
    """A random order where heavier items tend to come first (Efraimidis–Spirakis keys)."""
    keyed = [(rng.random() ** (1.0 / w), i) for i, w in enumerate(weights)]
    return [items[i] for _, i in sorted(keyed, reverse=True)]


def _pools(graph: nx.DiGraph[str], kind: str, edge_kind: str, catalog: _Catalog) -> dict[str, list[str]]:
    """Category or collection name → its member tools that are in the catalog (sorted)."""
    pools: dict[str, list[str]] = {}
    for node, data in graph.nodes(data=True):
        if data.get("kind") != kind:
            continue
        members = sorted(
            target.removeprefix("tool:")
            for _, target, edge in graph.out_edges(node, data=True)
            if edge.get("kind") == edge_kind and target.removeprefix("tool:") in catalog.tools
        )
        pools[str(data.get("name", node.split(":", 1)[1]))] = members
    return dict(sorted(pools.items()))


def _make_set(
    group: Group,
    apis: list[ApiRef],
    catalog: _Catalog,
    *,
    category: str | None = None,
    collection: str | None = None,
) -> ApiSet:
    tools = sorted({tool for tool, _ in apis})
    chosen = set(apis)
    links = [link for link in catalog.links_among(tools) if link.source in chosen and link.target in chosen]
    return ApiSet(
        id=api_set_id(group, apis),
        group=group,
        apis=sorted(apis),
        tools=tools,
        category=category,
        collection=collection,
        feeding_links=len(links),
    )


def _sample_g1(catalog: _Catalog, n: int, settings: SamplingSettings, rng: random.Random) -> list[ApiSet]:
    result = []
    for tool_id in rng.sample(sorted(catalog.tools), min(n, len(catalog.tools))):
        apis = catalog.tools[tool_id].api_list
        if len(apis) > settings.max_apis_g1:
            keep = set(rng.sample(range(len(apis)), settings.max_apis_g1))
            apis = [api for i, api in enumerate(apis) if i in keep]
        tool = catalog.tools[tool_id]
        result.append(_make_set("G1", [(tool_id, a.id) for a in apis], catalog, category=tool.category))
    return result


def _choose_tools(
    pool: list[str],
    pair_links: defaultdict[frozenset[str], int],
    settings: SamplingSettings,
    rng: random.Random,
) -> list[str]:
    """A first tool at random, then tools weighted by their links with those already chosen."""
    size = rng.randint(settings.min_tools, min(settings.max_tools, len(pool)))
    chosen = [rng.choice(pool)]
    while len(chosen) < size:
        candidates = [t for t in pool if t not in chosen]
        if settings.prefer_feeding:
            weights = [1.0 + sum(pair_links[frozenset((c, t))] for t in chosen) for c in candidates]
        else:
            weights = [1.0] * len(candidates)
        chosen.append(rng.choices(candidates, weights=weights)[0])
    return chosen


def _tool_pair_links(pool: list[str], catalog: _Catalog) -> defaultdict[frozenset[str], int]:
    """API-level links between each pair of different tools of a pool, either direction."""
    counts: defaultdict[frozenset[str], int] = defaultdict(int)
    for link in catalog.links_among(pool):
        if link.source[0] != link.target[0]:
            counts[frozenset((link.source[0], link.target[0]))] += 1
    return counts


def _choose_apis(
    tools: list[str], catalog: _Catalog, settings: SamplingSettings, rng: random.Random
) -> list[ApiRef]:
    score: defaultdict[ApiRef, float] = defaultdict(float)
    if settings.prefer_feeding:
        for link in catalog.links_among(tools):
            # links across tools are what multi-tool queries chain on: count them double
            weight = 2.0 if link.source[0] != link.target[0] else 1.0
            score[link.source] += weight
            score[link.target] += weight
    chosen: list[ApiRef] = []
    for tool_id in tools:
        refs = [io.ref for io in catalog.ios[tool_id]]
        ordered = _weighted_order(rng, refs, [1.0 + score[ref] for ref in refs])
        chosen.extend(ordered[: settings.max_apis_per_tool])
    return chosen


def _sample_multi(
    group: Group,
    pools: dict[str, list[str]],
    catalog: _Catalog,
    n: int,
    settings: SamplingSettings,
    rng: random.Random,
) -> list[ApiSet]:
    names = list(pools)
    pair_links: dict[str, defaultdict[frozenset[str], int]] = {}
    sets: dict[str, ApiSet] = {}
    attempts = 20 * n + 100  # small catalogs run out of distinct sets: stop rather than spin
    while len(sets) < n and attempts > 0:
        attempts -= 1
        name = rng.choice(names)
        if name not in pair_links:
            pair_links[name] = (
                _tool_pair_links(pools[name], catalog) if settings.prefer_feeding else defaultdict(int)
            )
        tools = _choose_tools(pools[name], pair_links[name], settings, rng)
        apis = _choose_apis(tools, catalog, settings, rng)
        where = {"category": name} if group == "G2" else {"collection": name}
        candidate = _make_set(group, apis, catalog, **where)
        sets.setdefault(candidate.id, candidate)
    if len(sets) < n:
        log.info("%s: %d distinct sets found, %d requested", group, len(sets), n)
    return list(sets.values())


def _rng(seed: int, group: str) -> random.Random:
    # one generator per group: asking for more G1 sets does not change the G2 / G3 draws
    return random.Random(f"{seed}:{group}")


def sample_api_sets(
    tools: list[Tool], graph: nx.DiGraph[str], settings: SamplingSettings
) -> tuple[list[ApiSet], dict[str, str]]:
    """Draw ``settings.per_group`` API sets per group from ``tools``.

    Categories and collections come from ``graph`` (restricted to ``tools``; tools without APIs
    are ignored). Returns the sets (G1, then G2, then G3; no two with the same id) and, for
    each group that was asked for but yielded nothing, the reason. The same seed gives the same
    sets; a group returns fewer sets than asked when the catalog has no more distinct ones.
    A G1 tool with more than ``max_apis_g1`` APIs keeps a random subset of them.
    """
    catalog = _Catalog(tools)
    wanted = {group: settings.per_group.get(group, 0) for group in ("G1", "G2", "G3")}
    reasons: dict[str, str] = {}
    if not catalog.tools:
        return [], {g: f"{g}: catalog is empty (no tool with an API)" for g, n in wanted.items() if n > 0}

    min_tools = settings.min_tools
    categories = {
        name: members
        for name, members in _pools(graph, "category", "has_tool", catalog).items()
        if len(members) >= min_tools
    }
    collections = {
        name: members
        for name, members in _pools(graph, "collection", "member", catalog).items()
        if len(members) >= min_tools
    }
    sets: list[ApiSet] = []
    if wanted["G1"] > 0:
        sets.extend(_sample_g1(catalog, wanted["G1"], settings, _rng(settings.seed, "G1")))
    if wanted["G2"] > 0:
        if categories:
            sets.extend(
                _sample_multi("G2", categories, catalog, wanted["G2"], settings, _rng(settings.seed, "G2"))
            )
        else:
            reasons["G2"] = f"G2: no category has {min_tools} or more tools"
    if wanted["G3"] > 0:
        if collections:
            sets.extend(
                _sample_multi("G3", collections, catalog, wanted["G3"], settings, _rng(settings.seed, "G3"))
            )
        else:
            reasons["G3"] = f"G3: no collection with {min_tools} or more tools"
    return sets, reasons
