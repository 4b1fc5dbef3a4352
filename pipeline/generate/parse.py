"""Reading the instruction writer's reply: queries with their relevant APIs, and the check that
those APIs were among the sampled ones.

The writer is asked for a JSON list of ``{"query": ..., "relevant APIs": [[tool, api], ...]}``;
replies drift from that in predictable ways, all accepted here:

* the JSON sits in prose or a code fence, has trailing commas or single quotes
  (:mod:`pipeline.llm.jsonparse` does the reading);
* the list is top level, or under any key of an object (``queries``, ``instructions``,
  ``items``, ``data`` ...), or there is no list at all: one object per line (JSONL), a numbered
  list of objects, or a list cut off mid-item (the complete items before the cut are kept);
* item keys vary: ``query``/``instruction``/``question``/``text``/``prompt``/``task`` for the
  query and ``relevant APIs``/``relevant_apis``/``related apis``/``apis``/``api_list`` for the
  APIs (keys are compared ignoring case, spaces, ``_`` and ``-``);
* one relevant API is written as a ``[tool, api]`` pair, an object with ``tool_name``/``tool``/
  ``tool_id`` and ``api_name``/``api``/``api_id``/``name``, or a string: ``"tool/api"`` and
  ``"tool::api"`` split at the first separator, ``"tool.api"`` at the last dot (tool names such
  as ``Weather.com`` hold dots), and ToolBench's function name ``"api_for_tool"`` at the last
  ``_for_``. Where a string splits is a guess; :func:`check_relevant_apis` also matches the
  pair joined back together, so a wrong guess still resolves.

Every dropped item is reported as ``"item <n>: <reason>"`` (``n`` counts from 1); nothing here
raises on what a model wrote.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, cast

from pydantic import BaseModel

from pipeline.llm.jsonparse import NotJson, balanced_span, find_json, parse_lenient
from pipeline.models import Tool

ApiPair = tuple[str, str]
# tool -> its sampled API names, or (tool name or id, api name or id) -> canonical (tool, api)
AllowedApis = Mapping[str, Iterable[str]] | Mapping[ApiPair, ApiPair]

_QUERY_KEYS = ("query", "instruction", "question", "text", "prompt", "task", "userquery")
_API_KEYS = (
    "relevantapis",
    "relevantapi",
    "relatedapis",
    "relatedapi",
    "apis",
    "apilist",
    "api",
    "relevantapilist",
)
_LIST_KEYS = ("queries", "instructions", "items", "data", "questions", "results", "output")
_TOOL_KEYS = ("toolname", "tool", "toolid", "toolstandardname")
_API_NAME_KEYS = ("apiname", "api", "apiid", "name", "function")
_MAX_OBJECT_STARTS = 64  # failed "{" starts before giving up (bounds work on garbage)
_MAX_WRAPPING = 4  # objects wrapped around the item list ({"result": {"queries": [...]}})
_NOT_ALNUM = re.compile(r"[^0-9a-z]+")


WRITER_OUTPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "queries": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "query": {"type": "string"},
                    "relevant APIs": {
                        "type": "array",
                        "items": {"type": "array", "items": {"type": "string"}, "minItems": 2, "maxItems": 2},
                    },
                },
                "required": ["query", "relevant APIs"],
            },
        },
    },
    "required": ["queries"],
}
"""The writer's reply as ``response_format`` (a list under ``queries``: structured output wants an
object at the top); :func:`parse_instructions` reads it like any other shape."""


class GeneratedInstruction(BaseModel):
    """One query the writer produced, with the APIs it says the query needs."""

    query: str
    relevant_apis: list[tuple[str, str]]


def parse_instructions(text: str) -> tuple[list[GeneratedInstruction], list[str]]:
    """The instructions in a writer's reply, and one problem per item that was dropped (or a
    single problem when the reply holds no instructions at all)."""
    if not isinstance(text, str):
        return [], ["reply is not text"]
    items = _find_items(text)
    if items is None:
        return [], ["no JSON instructions found in the reply"]
    if not items:
        return [], ["the reply's instruction list is empty"]
    parsed: list[GeneratedInstruction] = []
    problems: list[str] = []
    for number, item in enumerate(items, start=1):
        instruction, reason = _instruction(item)
        if instruction is None:
            problems.append(f"item {number}: {reason}")
        else:
            parsed.append(instruction)
    return parsed, problems


def check_relevant_apis(
    item: GeneratedInstruction, allowed: AllowedApis
) -> tuple[list[ApiPair] | None, str | None]:
    """The item's relevant APIs as canonical ``(tool, api)`` pairs of the sampled set, or
    ``None`` and why not: no relevant APIs, or ``"hallucinated API <tool>/<api>"`` for each one
    outside the sampled set. Names match ignoring case, spaces, ``_`` and other punctuation."""
    if not item.relevant_apis:
        return None, "no relevant APIs"
    lookup = _Lookup(allowed)
    resolved: list[ApiPair] = []
    missing: list[str] = []
    for tool, api in item.relevant_apis:
        canonical = lookup.resolve(tool, api)
        if canonical is None:
            missing.append(f"hallucinated API {tool}/{api}")
        elif canonical not in resolved:
            resolved.append(canonical)
    if missing:
        return None, "; ".join(missing)
    return resolved, None


def allowed_apis(tools: Iterable[Tool]) -> dict[ApiPair, ApiPair]:
    """The lookup :func:`check_relevant_apis` takes, for sampled tools whose ``api_list`` holds
    only the sampled APIs: every spelling of tool (name, id, standardized name, title) and API
    (name, id) maps to the canonical ``(tool id, api id)`` (names where ids are empty)."""
    mapping: dict[ApiPair, ApiPair] = {}
    for tool in tools:
        tool_names = {tool.tool_name, tool.id, tool.standardized_name, tool.title} - {""}
        for api in tool.api_list:
            canonical = (tool.id or tool.tool_name, api.id or api.name)
            for api_name in {api.name, api.id} - {""}:
                for tool_name in tool_names:
                    mapping[(tool_name, api_name)] = canonical
    return mapping


# --- finding the items --------------------------------------------------------------------


def _find_items(text: str) -> list[Any] | None:
    try:
        return _items_of(find_json(text, accept=_is_container))
    except NotJson:
        pass
    loose = _loose_objects(text)
    return loose or None


def _is_container(value: Any) -> bool:
    return _items_of(value) is not None


def _items_of(value: Any, depth: int = 0) -> list[Any] | None:
    """The item list ``value`` is or holds (a few object levels down at most), if it looks like
    one (a list with at least one object carrying a query); ``None`` otherwise."""
    if isinstance(value, list):
        return value if any(_looks_like_item(item) for item in value) else None
    if isinstance(value, dict) and depth < _MAX_WRAPPING and not _looks_like_item(value):
        keyed = {_norm(key): item for key, item in value.items()}
        for key in _LIST_KEYS:
            found = _items_of(keyed.get(key), depth + 1)
            if found is not None:
                return found
        for item in value.values():
            found = _items_of(item, depth + 1)
            if found is not None:
                return found
    return None


def _looks_like_item(value: Any) -> bool:
    return isinstance(value, dict) and any(_norm(key) in _QUERY_KEYS for key in value)


def _loose_objects(text: str) -> list[Any]:
    """Items written as separate objects (JSONL, a numbered list, a cut-off list), in order;
    an object that is itself a container contributes its items."""
    items: list[Any] = []
    position, failed = 0, 0
    while failed < _MAX_OBJECT_STARTS:
        start = text.find("{", position)
        if start < 0:
            break
        span = balanced_span(text, start)
        if span is None:
            failed += 1
            position = start + 1
            continue
        try:
            value = parse_lenient(span)
        except NotJson:
            failed += 1
            position = start + 1
            continue
        if _looks_like_item(value):
            items.append(value)
        else:
            items.extend(_items_of(value) or [])
        position = start + len(span)
    return items


# --- reading one item ---------------------------------------------------------------------


def _instruction(item: Any) -> tuple[GeneratedInstruction | None, str]:
    if isinstance(item, str):
        return None, "relevant APIs missing" if item.strip() else "no query text"
    if not isinstance(item, dict):
        return None, f"not an object ({type(item).__name__})"
    keyed = {_norm(key): value for key, value in item.items() if isinstance(key, str)}
    query = next((keyed[key] for key in _QUERY_KEYS if key in keyed), None)
    if not isinstance(query, str) or not query.strip():
        return None, "no query text"
    raw_apis = next((keyed[key] for key in _API_KEYS if key in keyed), None)
    if raw_apis is None:
        return None, "relevant APIs missing"
    pairs, reason = _api_pairs(raw_apis)
    if pairs is None:
        return None, reason
    return GeneratedInstruction(query=query.strip(), relevant_apis=pairs), ""


def _api_pairs(value: Any) -> tuple[list[ApiPair] | None, str]:
    if isinstance(value, (str, dict)):
        value = [value]
    if not isinstance(value, list):
        return None, f"relevant APIs unreadable: {_short(value)}"
    if (
        len(value) == 2
        and all(isinstance(v, str) for v in value)
        and any(_split_name(v) is None for v in value)
    ):
        value = [value]  # ["tool", "api"] given without the outer list
    pairs: list[ApiPair] = []
    for entry in value:
        pair = _api_pair(entry)
        if pair is None:
            # Dropping just this entry would understate what the query needs.
            return None, f"unreadable relevant API {_short(entry)}"
        pairs.append(pair)
    return pairs, ""


def _api_pair(entry: Any) -> ApiPair | None:
    if isinstance(entry, (list, tuple)) and len(entry) == 2:
        tool, api = entry
        if isinstance(tool, str) and isinstance(api, str) and tool.strip() and api.strip():
            return tool.strip(), api.strip()
        return None
    if isinstance(entry, dict):
        keyed = {_norm(key): value for key, value in entry.items() if isinstance(key, str)}
        tool = next((keyed[key] for key in _TOOL_KEYS if key in keyed), None)
        api = next((keyed[key] for key in _API_NAME_KEYS if key in keyed), None)
        if isinstance(tool, str) and isinstance(api, str) and tool.strip() and api.strip():
            return tool.strip(), api.strip()
        return None
    if isinstance(entry, str):
        return _split_name(entry)
    return None


def _split_name(name: str) -> ApiPair | None:
    name = name.strip()
    for separator in ("::", "/"):
        tool, found, api = name.partition(separator)
        if found and tool.strip() and api.strip():
            return tool.strip(), api.strip()
    api, found, tool = name.rpartition("_for_")
    if found and tool and api:
        return tool, api
    tool, found, api = name.rpartition(".")
    if found and tool.strip() and api.strip():
        return tool.strip(), api.strip()
    return None


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --- resolving names against the sampled set ----------------------------------------------


def _norm(name: str) -> str:
    """Case, spaces, underscores and punctuation do not tell names apart."""
    return _NOT_ALNUM.sub("", name.casefold())


class _Lookup:
    """Normalised spellings of the sampled APIs, each to its canonical pair."""

    def __init__(self, allowed: AllowedApis) -> None:
        self._pairs: dict[ApiPair, set[ApiPair]] = {}
        self._joined: dict[str, set[ApiPair]] = {}
        for key, value in allowed.items():
            if isinstance(key, tuple):
                canonical = cast(ApiPair, value)  # a pair key's value is a pair (see AllowedApis)
                self._add(key[0], key[1], (canonical[0], canonical[1]))
            else:
                for api in value:
                    self._add(key, api, (key, api))

    def _add(self, tool: str, api: str, canonical: ApiPair) -> None:
        self._pairs.setdefault((_norm(tool), _norm(api)), set()).add(canonical)
        # The pair joined back together, as "tool.api" and as ToolBench's "api_for_tool", so a
        # name split at the wrong separator still finds its API.
        for joined in (_norm(tool) + _norm(api), _norm(api) + "for" + _norm(tool)):
            self._joined.setdefault(joined, set()).add(canonical)

    def resolve(self, tool: str, api: str) -> ApiPair | None:
        exact = self._pairs.get((_norm(tool), _norm(api)), set())
        if len(exact) == 1:
            return next(iter(exact))
        if exact:
            return None  # two sampled APIs share this spelling: refuse to guess (reported as
            # hallucinated, which keeps the query out rather than mislabelled)
        candidates: set[ApiPair] = set()
        for joined in (_norm(tool) + _norm(api), _norm(api) + "for" + _norm(tool)):
            candidates |= self._joined.get(joined, set())
        return next(iter(candidates)) if len(candidates) == 1 else None
