"""Catalog filters: which operations are kept, and a counted reason for each one dropped."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from pipeline.models import Api, FilteredApi, Tool
from pipeline.settings import FilterSettings
from pipeline.specs.openapi import is_json_media

_PATH_PARAM = re.compile(r"\{[^}]*\}|(?<=/):[A-Za-z_][A-Za-z0-9_]*")
_QUERY_OR_FRAGMENT = re.compile(r"[?#]")


def filter_reason(api: Api, rules: FilterSettings) -> str | None:
    """Why a filter drops ``api`` on its own merits, or ``None`` to keep it.

    Duplicates are judged across the whole catalog by :class:`DuplicateOperations`.
    """
    if rules.drop_deprecated and api.deprecated:
        return "deprecated"
    if len(api.description.strip()) < rules.min_description_chars:
        return "no_description"
    if len(api.parameters) > rules.max_parameters:
        return "too_many_parameters"
    if rules.drop_non_json and api.response_content_types and not any(
        is_json_media(media) for media in api.response_content_types
    ):
        return "non_json_response"
    return None


def apply_filters(tool: Tool, rules: FilterSettings) -> list[FilteredApi]:
    """Drop the APIs :func:`filter_reason` rejects from ``tool`` in place; return the records."""
    kept: list[Api] = []
    dropped: list[FilteredApi] = []
    for api in tool.api_list:
        reason = filter_reason(api, rules)
        if reason is None:
            kept.append(api)
        else:
            dropped.append(FilteredApi(tool=tool.id, api=api.name, reason=reason, source=tool.source.location))
    tool.api_list = kept
    return dropped


class DuplicateOperations:
    """Remembers the operations already in the catalog; the first one with a key wins."""

    def __init__(self) -> None:
        self._seen: set[tuple[str, str]] = set()

    def repeated(self, operations: list[tuple[str, str, str]]) -> set[str]:
        """Ids of the ``(api id, method, URL key)`` operations the catalog already has, or an
        earlier operation of the same list has. Nothing is remembered until :meth:`remember`."""
        here: set[tuple[str, str]] = set()
        repeated: set[str] = set()
        for api_id, method, where in operations:
            key = (method, where)
            if key in self._seen or key in here:
                repeated.add(api_id)
            here.add(key)
        return repeated

    def remember(self, operations: list[tuple[str, str, str]]) -> None:
        self._seen.update((method, where) for _, method, where in operations)


def operation_key(tool: Tool, api: Api) -> tuple[str, str]:
    """What makes two operations the same: method and URL template, ignoring parameter names.

    An operation with no URL and no path (ToolBench APIs taken from query files carry none) is
    keyed by its tool and its own name: only the same API of the same tool repeats it. A URL
    that does not parse (``http://[domain]:8080``, a placeholder left in a server list) is
    compared as written.
    """
    template = api.path or api.url
    if not template.strip():
        return api.method.upper(), f"{tool.tool_name.lower()}#{api.name}"
    try:
        parts = urlsplit(api.url)
        netloc, path = parts.netloc, parts.path
        has_host = bool(parts.scheme and parts.netloc)
    except ValueError:  # an unparseable host: the text is all there is to compare
        scheme, _, rest = api.url.partition("://")
        netloc, slash, path = rest.partition("/")
        has_host, path = bool(scheme and netloc), slash + _QUERY_OR_FRAGMENT.split(path, maxsplit=1)[0]
    if has_host:
        where = f"{netloc.lower()}{_PATH_PARAM.sub('{}', path).rstrip('/')}"
    else:
        where = f"{tool.tool_name.lower()}|{_PATH_PARAM.sub('{}', template).rstrip('/')}"
    return api.method.upper(), where
