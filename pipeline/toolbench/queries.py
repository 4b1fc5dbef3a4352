"""ToolBench query files, and finding their APIs in a run's catalog.

A query's ``api_list`` entries are resolved against the catalog: by our ``tool_id``/``api_id``
when present (queries the generate stage wrote), else by tool name + API name compared as
:func:`~pipeline.toolbench.names.name_key` does (ToolBench's files, where names are spelt in
many ways). As in ToolBench, the policy later sees every API of the query's ``api_list``, not
only the relevant ones.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.models import Api, Tool
from pipeline.records import ApiPair, QueryApi, QueryRecord, RecordError, read_query_file
from pipeline.toolbench.names import name_key

log = logging.getLogger(__name__)


class ApiResolver:
    """Finds catalog APIs for ToolBench ``api_list`` entries and (tool, API) name pairs."""

    def __init__(self, tools: Iterable[Tool]) -> None:
        self.by_ids: dict[tuple[str, str], tuple[Tool, Api]] = {}
        self.by_names: dict[tuple[str, str], tuple[Tool, Api]] = {}
        for tool in tools:
            for api in tool.api_list:
                self.by_ids[(tool.id, api.id)] = (tool, api)
                for tool_name in {tool.tool_name, tool.standardized_name or "", tool.id}:
                    if tool_name:
                        self.by_names.setdefault((name_key(tool_name), name_key(api.name)), (tool, api))

    def resolve(self, entry: QueryApi) -> tuple[Tool, Api] | None:
        found = self.by_ids.get((str(entry.tool_id), str(entry.api_id)))
        return found if found is not None else self.resolve_names(entry.tool_name, entry.api_name)

    def resolve_names(self, tool_name: str, api_name: str) -> tuple[Tool, Api] | None:
        return self.by_names.get((name_key(tool_name), name_key(api_name)))


@dataclass
class QueryItem:
    """One query to search, with the catalog APIs its ``api_list`` resolved to."""

    query_id: int | str
    query: str
    group: str  # the output file's stem: the query's group, else its file's stem
    pairs: list[tuple[Tool, Api]] = field(default_factory=list)
    unresolved: list[ApiPair] = field(default_factory=list)
    relevant: list[ApiPair] | None = None
    relevant_ids: list[ApiPair] | None = None  # (tool id, API id) of the relevant APIs found in the catalog

    @property
    def key(self) -> tuple[str, str]:
        return (self.group, str(self.query_id))


@dataclass
class LoadedQueries:
    """The queries of some files, resolved: what can be searched, and why the rest cannot."""

    items: list[QueryItem] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    unresolved: int = 0  # api_list entries not found in the catalog, over every query
    unreadable: list[str] = field(default_factory=list)  # each unreadable query: where and why


def load_query_items(files: list[Path], tools: Iterable[Tool] | ApiResolver, *,
                     open_domain: bool = False) -> LoadedQueries:
    """The queries of ``files`` with their APIs resolved against ``tools``.

    Skipped, with the reason counted: a repeated (group, query id), an empty query, a query none
    of whose APIs is in the catalog, and a query that is not a valid record (each named in
    ``unreadable``); none of them stops the others.

    ``open_domain``: the ``api_list`` is not read (ToolBench's open-domain query files have
    none); the items come without APIs, for a retriever to give them some
    (:mod:`pipeline.retriever.open_domain`).
    """
    resolver = tools if isinstance(tools, ApiResolver) else ApiResolver(tools)
    loaded = LoadedQueries()
    seen: set[tuple[str, str]] = set()

    def unreadable(error: RecordError) -> None:
        loaded.skipped["unreadable query"] += 1
        loaded.unreadable.append(str(error))
        log.warning("skipped an unreadable query: %s", error)

    for path in files:
        for record in read_query_file(path, on_error=unreadable):
            item = QueryItem(query_id=record.query_id, query=record.query.strip(), group=record.group,
                             relevant=record.relevant_apis, relevant_ids=_relevant_ids(record, resolver))
            if item.key in seen:
                loaded.skipped["duplicate query id"] += 1
                continue
            seen.add(item.key)
            if not item.query:
                loaded.skipped["empty query"] += 1
                continue
            if open_domain:
                loaded.items.append(item)
                continue
            used: set[tuple[str, str]] = set()
            for entry in record.api_list:
                found = resolver.resolve(entry)
                if found is None:
                    item.unresolved.append((entry.tool_name, entry.api_name))
                elif (found[0].id, found[1].id) not in used:
                    used.add((found[0].id, found[1].id))
                    item.pairs.append(found)
            loaded.unresolved += len(item.unresolved)
            if not item.pairs:
                loaded.skipped["no API of its api_list is in the catalog"] += 1
                log.info("%s %s skipped: none of its APIs is in the catalog (%s)", item.group, item.query_id,
                         item.unresolved[:3])
                continue
            loaded.items.append(item)
    return loaded


def _relevant_ids(record: QueryRecord, resolver: ApiResolver) -> list[ApiPair] | None:
    """The relevant APIs as catalog ids: ours when the record has them, else found by name."""
    if record.relevant_api_ids is not None:
        return [(str(tool_id), str(api_id)) for tool_id, api_id in record.relevant_api_ids]
    if record.relevant_apis is None:
        return None
    found = (resolver.resolve_names(tool_name, api_name) for tool_name, api_name in record.relevant_apis)
    return [(tool.id, api.id) for tool, api in (pair for pair in found if pair is not None)]
