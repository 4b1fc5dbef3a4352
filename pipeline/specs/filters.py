"""Catalog filters: which operations are kept, and a counted reason for each one dropped."""

from __future__ import annotations

import re
from collections import Counter
from urllib.parse import urlsplit

from pipeline.models import Api, FilteredApi, Tool
from pipeline.settings import FilterSettings
from pipeline.specs.openapi import is_json_media

_PATH_PARAM = re.compile(r"\{[^}]*\}|(?<=/):[A-Za-z_][A-Za-z0-9_]*")


class CatalogFilter:
    """Applies :class:`FilterSettings` to tools one at a time, remembering operations seen."""

    def __init__(self, settings: FilterSettings) -> None:
        self.settings = settings
        self.counts: Counter[str] = Counter()
        self._seen: set[tuple[str, str]] = set()

    def apply(self, tool: Tool) -> list[FilteredApi]:
        """Drop filtered APIs from ``tool`` in place; return the records of what was dropped."""
        kept: list[Api] = []
        dropped: list[FilteredApi] = []
        for api in tool.api_list:
            reason = self._reason(tool, api)
            if reason is None:
                kept.append(api)
                continue
            self.counts[reason] += 1
            dropped.append(FilteredApi(tool=tool.id, api=api.name, reason=reason, source=tool.source.location))
        tool.api_list = kept
        return dropped

    def _reason(self, tool: Tool, api: Api) -> str | None:
        rules = self.settings
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
        if rules.drop_duplicates:
            key = operation_key(tool, api)
            if key in self._seen:
                return "duplicate"
            self._seen.add(key)
        return None


def operation_key(tool: Tool, api: Api) -> tuple[str, str]:
    """What makes two operations the same: method and URL template, ignoring parameter names."""
    parts = urlsplit(api.url)
    if parts.scheme and parts.netloc:
        where = f"{parts.netloc.lower()}{_PATH_PARAM.sub('{}', parts.path).rstrip('/')}"
    else:
        where = f"{tool.tool_name.lower()}|{_PATH_PARAM.sub('{}', api.path or api.url).rstrip('/')}"
    return api.method.upper(), where
