"""Catalog filters: which operations are kept, and a counted reason for each one dropped."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from pipeline.models import Api, FilteredApi, Tool
from pipeline.settings import FilterSettings
from pipeline.specs.openapi import is_json_media

_PATH_PARAM = re.compile(r"\{[^}]*\}|(?<=/):[A-Za-z_][A-Za-z0-9_]*")


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

    def is_new(self, key: tuple[str, str]) -> bool:
        if key in self._seen:
            return False
        self._seen.add(key)
        return True


def operation_key(tool: Tool, api: Api) -> tuple[str, str]:
    """What makes two operations the same: method and URL template, ignoring parameter names."""
    parts = urlsplit(api.url)
    if parts.scheme and parts.netloc:
        where = f"{parts.netloc.lower()}{_PATH_PARAM.sub('{}', parts.path).rstrip('/')}"
    else:
        where = f"{tool.tool_name.lower()}|{_PATH_PARAM.sub('{}', api.path or api.url).rstrip('/')}"
    return api.method.upper(), where
