"""Expand APIs.guru-style index files into the spec URLs they list.

A collect source URL may be a spec or an index of specs. APIs.guru's ``list.json``
(https://api.apis.guru/v2/list.json) is the index format understood here: a JSON object keyed
by API id (``"googleapis.com:drive"``) whose values hold the ``preferred`` version and the
``versions`` map; each version carries ``swaggerUrl`` (JSON) and/or ``swaggerYamlUrl``, an
``info`` block with ``x-apisguru-categories``, and an ``updated`` date.

* :func:`parse_apisguru_index` is pure: parsed JSON in, one :class:`IndexEntry` per API out
  (or None when the data is not such an index).
* :func:`expand_sources` fetches the source URLs, replaces every index by the specs it lists
  (fetched with the same session, cache and concurrency bound) and returns
  :class:`RemoteSpec` records that keep the index entry, so the caller can take the tool
  category from the entry's categories.

The spec URLs an index lists are the index author's word, not the user's: they are always
fetched under the host policy, even when the index itself was a trusted source.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import orjson
from pydantic import BaseModel, ConfigDict

from pipeline.hosts import HostPolicy
from pipeline.redact import redact_url
from pipeline.specs.fetch import FetchResult, open_fetcher
from pipeline.specs.fetch_options import FetchOptions

logger = logging.getLogger(__name__)

# A spec body starts with "{" too; only parse files that also contain the index's key words.
_INDEX_MARKERS = (b'"preferred"', b'"versions"')


class IndexEntry(BaseModel):
    """One API listed in an index: where its preferred version's spec lives, and its labels."""

    model_config = ConfigDict(frozen=True)

    key: str  # the index's id for the API, e.g. "googleapis.com:drive"
    version: str  # the preferred version
    spec_url: str  # absolute; JSON when the index offers it, else YAML
    title: str | None = None
    categories: list[str] = []  # info.x-apisguru-categories
    updated: str | None = None  # as the index wrote it (ISO 8601 on APIs.guru)
    index_url: str


class RemoteSpec(BaseModel):
    """A fetched spec (or a failed fetch) and, when it came from an index, its entry."""

    model_config = ConfigDict(frozen=True)

    result: FetchResult
    entry: IndexEntry | None = None

    @property
    def categories(self) -> list[str]:
        return list(self.entry.categories) if self.entry is not None else []


def parse_apisguru_index(data: Any, index_url: str) -> list[IndexEntry] | None:
    """The APIs listed in an APIs.guru ``list.json``, or None if ``data`` is not one.

    ``data`` counts as an index when it is a non-empty JSON object whose every value is an
    object with ``preferred`` and ``versions`` keys. An API whose preferred version is missing
    or names no spec URL is skipped with a warning; relative spec URLs are resolved against
    ``index_url``.
    """
    if not isinstance(data, dict) or not data:
        return None
    if not all(
        isinstance(api, dict) and "preferred" in api and "versions" in api for api in data.values()
    ):
        return None
    entries: list[IndexEntry] = []
    for key, api in data.items():
        entry = _entry(str(key), api, index_url)
        if entry is not None:
            entries.append(entry)
    return entries


async def expand_sources(
    urls: Sequence[str],
    options: FetchOptions,
    *,
    trust_sources: bool = False,
    policy: HostPolicy | None = None,
    on_result: Callable[[FetchResult], None] | None = None,
) -> tuple[list[RemoteSpec], list[RemoteSpec]]:
    """Fetch ``urls``, expanding index files into their specs; returns ``(specs, errors)``.

    ``specs`` are the successful fetches in source order (an index's specs in index order);
    ``errors`` are the failed ones (refusals by the host policy among them), an index's failed
    specs carrying their entry. Index files themselves are not returned. ``on_result`` sees
    every fetch, index files included. ``trust_sources``: ``urls`` are the user's own and
    exempt from the host policy for their own request; what an index lists never is.
    ``policy`` replaces the one made from ``options`` (tests).
    """
    specs: list[RemoteSpec] = []
    errors: list[RemoteSpec] = []
    async with open_fetcher(options, policy=policy) as fetcher:
        sources = await fetcher.fetch_many(urls, trusted=trust_sources, on_result=on_result)
        # Per source, either its own result or the entries of the index it turned out to be.
        expanded: list[FetchResult | list[IndexEntry]] = []
        for source in sources:
            entries = await _read_index(source) if source.ok else None
            expanded.append(source if entries is None else entries)
            if entries is not None:
                logger.info("%s is an index of %d APIs", redact_url(source.url), len(entries))

        listed = [entry for item in expanded if isinstance(item, list) for entry in item]
        # A listed URL that is also a source has its result already, and fetching it again
        # under the policy could refuse what the user vouched for and drop its cached body.
        known = {source.url: source for source in sources}
        missing = list(dict.fromkeys(e.spec_url for e in listed if e.spec_url not in known))
        known.update(zip(missing, await fetcher.fetch_many(missing, on_result=on_result), strict=True))
        by_entry = iter((entry, known[entry.spec_url]) for entry in listed)

        for item in expanded:
            if isinstance(item, FetchResult):
                (specs if item.ok else errors).append(RemoteSpec(result=item))
                continue
            for _ in item:
                entry, result = next(by_entry)
                (specs if result.ok else errors).append(RemoteSpec(result=result, entry=entry))
    return specs, errors


async def _read_index(result: FetchResult) -> list[IndexEntry] | None:
    if result.path is None:
        return None
    # An index can be megabytes of JSON; decoding it must not stall the other downloads.
    return await asyncio.to_thread(_load_index, result.path, result.final_url or result.url)


def _load_index(path: Path, index_url: str) -> list[IndexEntry] | None:
    data = path.read_bytes()
    if not data.lstrip()[:1] == b"{" or not all(marker in data for marker in _INDEX_MARKERS):
        return None
    try:
        parsed = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None  # not JSON: a YAML spec, or garbage the spec reader will report
    return parse_apisguru_index(parsed, index_url)


def _entry(key: str, api: dict[str, Any], index_url: str) -> IndexEntry | None:
    preferred = api.get("preferred")
    versions = api.get("versions")
    version = versions.get(preferred) if isinstance(versions, dict) else None
    if not isinstance(version, dict):
        logger.warning("%s: API %r has no preferred version %r; skipped", redact_url(index_url), key, preferred)
        return None
    spec_url = version.get("swaggerUrl") or version.get("swaggerYamlUrl")
    if not isinstance(spec_url, str) or not spec_url.strip():
        logger.warning("%s: API %r %r lists no spec URL; skipped", redact_url(index_url), key, preferred)
        return None
    info = version.get("info")
    if not isinstance(info, dict):
        info = {}
    categories = info.get("x-apisguru-categories")
    title = info.get("title")
    updated = version.get("updated") or api.get("updated")
    return IndexEntry(
        key=key,
        version=str(preferred),
        spec_url=urljoin(index_url, spec_url.strip()),
        title=title if isinstance(title, str) else None,
        categories=[str(c) for c in categories] if isinstance(categories, list) else [],
        updated=str(updated) if updated is not None else None,
        index_url=index_url,
    )
