"""Download remote spec files over HTTP(S), politely and within limits.

The collect stage gets specs from URLs as well as from files; this module turns a list of URLs
into local files the readers can parse. One call, :func:`fetch_urls`, does the whole job:

* one shared :class:`aiohttp.ClientSession` (plus one for the first request of URLs the user
  gave, see below) whose connector and a semaphore bound how many downloads run at once
  (``FetchOptions.concurrency``);
* each request has a total and a connect timeout, and is retried (``retries`` times) on
  transient failures (timeouts, dropped connections, HTTP 408/425/429/5xx) with exponential
  backoff and jitter; a ``Retry-After`` on 429/503 (seconds or an HTTP date) is honoured up
  to ``max_retry_after_s``;
* bodies stream to disk and the download stops as soon as it passes ``max_bytes`` (a
  ``Content-Length`` above the cap is refused before reading anything), so neither a huge nor
  a hostile file can fill memory;
* with ``cache_dir`` set, every body is kept with its validators (ETag, Last-Modified) and the
  next fetch of the URL is a conditional request: a 304 reuses the stored body and the result
  says ``not_modified=True``, so a scheduled re-collect downloads only what changed.
  Without ``cache_dir`` bodies go to a fresh temporary folder that the caller owns.

* every URL obeys the host policy (:mod:`pipeline.hosts`, the one the environment uses):
  ``allowed_hosts`` patterns, and loopback, private and link-local addresses (the cloud
  metadata service) refused unless the host is in ``trusted_hosts``. It is checked before the
  cache is consulted, on every redirect (followed here, hop by hop) and at connect time on the
  addresses the connection really uses (a policy resolver, so DNS rebinding cannot pass). A
  refused URL gets ``refused=True``, an error naming the reason, and nothing in the cache.
  URLs fetched with ``trusted=True`` (the ones the user typed) skip the policy for their own
  request only; where they redirect is checked like any other URL.

A failure for one URL never raises: it comes back as a :class:`FetchResult` with ``ok=False``
and an ``error`` that names the URL and the reason, ready for ``errors.jsonl``.

Cache layout (``cache_dir``): ``<sha256(url)>.body`` holds the body and ``<sha256(url)>.json``
its :class:`CacheEntry`; both are replaced atomically, and an entry that is unreadable or
disagrees with its body is treated as absent. Without ``cache_dir`` the bodies sit in the same
way in a temporary folder, ``result.path.parent``, which the caller deletes when done.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pydantic
from pydantic import BaseModel, ConfigDict
from yarl import URL

from pipeline.hosts import HostNotAllowed, HostPolicy, HostUnresolvable, Resolve
from pipeline.http_errors import TRANSPORT_ERRORS, TransportFailure, classify_transport_error
from pipeline.io import AtomicFile, read_json, write_json
from pipeline.net import is_http_url, media_type, parse_retry_after
from pipeline.redact import redact_text, redact_url
from pipeline.retry import SPEC_DOWNLOAD_STATUSES, RetryPolicy, retrying
from pipeline.specs.fetch_options import FetchOptions

logger = logging.getLogger(__name__)

# Read size per chunk; aiohttp buffers at most about two of these ahead of us.
CHUNK_SIZE = 64 * 1024

_ACCEPT = "application/json, application/yaml;q=0.9, text/yaml;q=0.9, */*;q=0.5"
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
FETCH_WORDING = (
    "collect.fetch.allowed_hosts",
    "add the host to collect.fetch.trusted_hosts (or --trust-host) to allow",
)


class FetchResult(BaseModel):
    """What happened to one URL. ``path`` holds the body when ``ok``; parse from there.

    ``error`` is always ``"<url>: <reason>"``, e.g. ``"https://x/spec.json: HTTP 404 Not Found"``.
    """

    model_config = ConfigDict(frozen=True)

    url: str
    final_url: str | None = None  # after redirects
    ok: bool
    status: int | None = None  # last HTTP status seen; None when no response came back
    path: Path | None = None
    content_type: str | None = None  # media type only, lower case, no parameters
    sha256: str | None = None
    size: int | None = None  # body bytes; for an aborted download, bytes received before it
    not_modified: bool = False  # the server answered 304 and the cached body was reused
    from_cache: bool = False  # the body is the cached copy (304, or fresh within max_age_s)
    refused: bool = False  # the host policy refused the URL or one of its redirects
    error: str | None = None
    attempts: int = 0  # HTTP requests made
    elapsed_s: float = 0.0  # from the first attempt to the result, waits included


class CacheEntry(BaseModel):
    """Metadata stored next to a cached body."""

    model_config = ConfigDict(extra="ignore")

    url: str
    final_url: str
    etag: str | None = None
    last_modified: str | None = None
    content_type: str | None = None
    sha256: str
    size: int
    fetched_at: datetime


async def fetch_urls(
    urls: Sequence[str],
    options: FetchOptions,
    *,
    trusted: bool = False,
    policy: HostPolicy | None = None,
    on_result: Callable[[FetchResult], None] | None = None,
) -> list[FetchResult]:
    """Fetch every URL; one result per URL, in input order; never raises for a URL's failure.

    A URL listed twice is downloaded once and both positions get the same result.
    ``on_result`` is called once per input URL as soon as its result is known (progress bars).
    ``trusted``: the URLs are the user's own, exempt from the host policy for their first
    request (see the module's docstring). ``policy`` replaces :func:`fetch_policy` (tests).
    """
    async with open_fetcher(options, policy=policy) as fetcher:
        return await fetcher.fetch_many(urls, trusted=trusted, on_result=on_result)


def fetch_policy(options: FetchOptions, *, resolve: Resolve | None = None) -> HostPolicy:
    """The host policy spec downloads obey, from ``options``' allowed and trusted hosts.

    ``resolve`` replaces DNS (tests).
    """
    return HostPolicy(
        options.allowed_hosts,
        allow_private=False,
        trusted=options.trusted_hosts,
        wording=FETCH_WORDING,
        resolve=resolve,
    )


@asynccontextmanager
async def open_fetcher(
    options: FetchOptions, *, policy: HostPolicy | None = None
) -> AsyncIterator[Fetcher]:
    """A :class:`Fetcher` for several rounds of fetching that share its sessions and bound.

    There is no way to pass in a session: the fetcher's own sessions resolve names through the
    host policy, which is what makes the check hold at connect time.
    """
    policy = policy or fetch_policy(options)
    if options.cache_dir is not None:
        store = _BodyStore(Path(options.cache_dir), persistent=True)
    else:
        folder = Path(tempfile.mkdtemp(prefix="toolgen-fetch-"))
        logger.info("no cache_dir: downloading into %s (the caller removes it)", folder)
        store = _BodyStore(folder, persistent=False)
    # The connector limit matches the semaphore, so no request queues inside aiohttp where its
    # connect timeout would already be running. Requests the user vouched for get a session of
    # their own: a pooled connection they opened must never carry a request the policy checks.
    checked = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=options.concurrency, resolver=policy.resolver())
    )
    trusted = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=options.concurrency))
    try:
        yield Fetcher(options, policy, checked, trusted, store, asyncio.Semaphore(options.concurrency))
    finally:
        await checked.close()
        await trusted.close()


# --------------------------------------------------------------------------------------------
# The fetcher: shared by fetch_urls and by callers that fetch in several rounds (index files).


@dataclass
class Fetcher:
    """Its sessions, one concurrency bound and one body store, shared by several rounds.

    Made by :func:`open_fetcher`; :func:`fetch_urls` is the one-round form. ``session``
    resolves through ``policy``; ``trusted_session`` carries only the first request of a
    trusted URL.
    """

    options: FetchOptions
    policy: HostPolicy
    session: aiohttp.ClientSession
    trusted_session: aiohttp.ClientSession
    store: _BodyStore
    semaphore: asyncio.Semaphore
    rng: random.Random = field(default_factory=random.Random)

    async def fetch_many(
        self,
        urls: Sequence[str],
        *,
        trusted: bool = False,
        on_result: Callable[[FetchResult], None] | None = None,
    ) -> list[FetchResult]:
        positions: dict[str, list[int]] = {}
        for index, url in enumerate(urls):
            positions.setdefault(url, []).append(index)
        results: list[FetchResult | None] = [None] * len(urls)

        async def run(url: str) -> None:
            result = await self.fetch(url, trusted=trusted)
            for index in positions[url]:
                results[index] = result
                if on_result is not None:
                    on_result(result)

        await asyncio.gather(*(run(url) for url in positions))
        failed = sum(1 for result in results if result is not None and not result.ok)
        logger.info("fetched %d URLs (%d unique, %d failed)", len(urls), len(positions), failed)
        return [result for result in results if result is not None]

    async def fetch(self, url: str, *, trusted: bool = False) -> FetchResult:
        """Fetch one URL; failures become results. ``trusted``: the host policy does not apply
        to this URL's own request (its redirects are checked).

        The concurrency slot is held per attempt, not across a backoff wait, so a server that
        asks us to come back later does not stall the downloads from other servers.
        """
        clock = _Clock()
        try:
            result = await self._fetch_with_retries(url, clock, trusted)
        except Exception as error:  # a bug or a disk error must not sink the other URLs
            logger.exception("unexpected failure fetching %s", redact_url(url))
            result = _failure(url, f"unexpected error: {type(error).__name__}: {error}")
        result = result.model_copy(update={"elapsed_s": clock.elapsed()})
        if result.refused:
            self.store.forget(url)  # nor an older copy from before the policy refused it
        if result.ok:
            logger.debug("fetched %s (%s bytes, %s)", redact_url(url), result.size, _how(result))
        else:
            logger.warning("%s", redact_text(result.error or ""))
        return result

    async def _fetch_with_retries(self, url: str, clock: _Clock, trusted: bool) -> FetchResult:
        if not is_http_url(url):
            return _failure(url, "not an http(s) URL")
        if not trusted:
            refusal = await self._refusal(url)
            if refusal is not None:
                return refusal
        cached = self.store.load(url)
        if cached is not None and self._fresh(cached):
            # the body came from where the redirects led, which must still be allowed
            if cached.final_url != url:
                refusal = await self._refusal(cached.final_url, redirected_from=url)
                if refusal is not None:
                    return refusal
            return self.store.result_from_cache(url, cached, not_modified=False)

        async def attempt(_number: int) -> _Outcome:
            async with self.semaphore:
                clock.start()
                return await self._attempt(url, cached, trusted)

        def before_retry(outcome: _Outcome, number: int, delay: float) -> None:
            logger.info("%s; retry %d in %.2f s", redact_text(outcome.result.error or ""), number, delay)

        outcome, attempts = await retrying(
            attempt, self._retry_policy(), rng=self.rng, before_retry=before_retry
        )
        return outcome.result.model_copy(update={"attempts": attempts})

    def _fresh(self, entry: CacheEntry) -> bool:
        if self.options.max_age_s is None:
            return False
        age = (datetime.now(UTC) - entry.fetched_at).total_seconds()
        return 0 <= age <= self.options.max_age_s

    def _retry_policy(self) -> RetryPolicy:
        options = self.options
        return RetryPolicy(SPEC_DOWNLOAD_STATUSES, options.retries, options.backoff_base_s,
                           options.backoff_max_s, options.max_retry_after_s)

    async def _refusal(self, target: str, *, redirected_from: str | None = None) -> FetchResult | None:
        """None when the policy allows ``target``; else the failed result for the URL asked for.

        A name that does not resolve is not refused here: the connection reports it (and the
        resolver there applies the policy again).
        """
        try:
            await self.policy.check(target)
        except HostUnresolvable:
            return None
        except HostNotAllowed as error:
            if redirected_from is None:
                return _failure(target, str(error), refused=True)
            return _failure(redirected_from, _redirect_refused(target, error), refused=True,
                            final_url=target)
        return None

    async def _attempt(self, url: str, cached: CacheEntry | None, trusted: bool) -> _Outcome:
        options = self.options
        headers = {"User-Agent": options.user_agent, "Accept": _ACCEPT}
        if cached is not None:
            if cached.etag:
                headers["If-None-Match"] = cached.etag
            if cached.last_modified:
                headers["If-Modified-Since"] = cached.last_modified
        timeout = aiohttp.ClientTimeout(
            total=options.timeout_s, sock_connect=options.connect_timeout_s
        )
        received = _Received()
        try:
            # the whole chain of redirects within one total timeout, as aiohttp would
            async with asyncio.timeout(options.timeout_s):
                return await self._follow(url, cached, trusted, headers, timeout, received)
        except HostUnresolvable as error:  # from the policy resolver at connect time
            return _Outcome.fail(url, str(error))
        except HostNotAllowed as error:  # from the policy resolver at connect time
            return _Outcome.fail(url, str(error), refused=True)
        except TRANSPORT_ERRORS as error:
            failure = classify_transport_error(error)
            # a request that went out may have had part of a body back: say how much
            return _Outcome.fail(
                url,
                self._failure_reason(failure),
                size=received.n or None if failure.request_sent else None,
                retryable=failure.retryable(idempotent=True),  # a GET may be repeated
            )

    async def _follow(
        self,
        url: str,
        cached: CacheEntry | None,
        trusted: bool,
        headers: dict[str, str],
        timeout: aiohttp.ClientTimeout,
        received: _Received,
    ) -> _Outcome:
        """GET ``url``, following redirects here (not in aiohttp) so each hop meets the policy:
        aiohttp would connect to an address given as an IP literal without asking the resolver.
        """
        session = self.trusted_session if trusted else self.session
        target = URL(url)
        for _ in range(self.options.max_redirects + 1):
            async with session.get(
                target, headers=headers, timeout=timeout, allow_redirects=False, raise_for_status=False
            ) as response:
                location = response.headers.get("Location")
                if response.status not in _REDIRECTS or not location:
                    return await self._handle_response(url, response, cached, received)
                status = response.status
                try:
                    following = response.url.join(URL(location))
                except ValueError as error:
                    return _Outcome.fail(url, f"HTTP {status}: redirected to an invalid URL ({error})",
                                         status=status)
            try:
                await self.policy.check(str(following))
            except HostUnresolvable:
                pass  # the connection says so, after the resolver has applied the policy too
            except HostNotAllowed as error:
                return _Outcome.fail(url, _redirect_refused(str(following), error), status=status,
                                     final_url=str(following), refused=True)
            session, target = self.session, following  # where a server sends us is never trusted
        return _Outcome.fail(url, f"too many redirects (more than {self.options.max_redirects})",
                             final_url=str(target))

    def _failure_reason(self, failure: TransportFailure) -> str:
        options = self.options
        return failure.describe(
            "download", timeout_s=options.timeout_s, connect_timeout_s=options.connect_timeout_s,
            max_redirects=options.max_redirects,
        )

    async def _handle_response(
        self,
        url: str,
        response: aiohttp.ClientResponse,
        cached: CacheEntry | None,
        received: _Received,
    ) -> _Outcome:
        final_url = str(response.url)
        status = response.status
        if status == 304 and cached is not None:
            entry = cached.model_copy(
                update={
                    "final_url": final_url,
                    "etag": response.headers.get("ETag") or cached.etag,
                    "last_modified": response.headers.get("Last-Modified") or cached.last_modified,
                    "fetched_at": datetime.now(UTC),
                }
            )
            self.store.save_entry(entry)
            result = self.store.result_from_cache(url, entry, not_modified=True)
            return _Outcome(result.model_copy(update={"status": status}))
        if not 200 <= status < 300:
            reason = f"HTTP {status} {response.reason or ''}".rstrip()
            if status == 304:
                reason += " but there is no cached copy"
            statuses = SPEC_DOWNLOAD_STATUSES
            retry_after = None
            if statuses.reads_retry_after(status):
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
            return _Outcome.fail(
                url,
                reason,
                status=status,
                final_url=final_url,
                retryable=statuses.retries(status),
                retry_after=retry_after,
            )

        cap = self.options.max_bytes
        if response.content_length is not None and response.content_length > cap:
            response.close()  # drop the connection rather than drain a body we refuse
            return _Outcome.fail(
                url,
                f"exceeds size cap of {cap} bytes (Content-Length {response.content_length})",
                status=status,
                final_url=final_url,
                size=0,
            )
        content_type = media_type(response.headers.get("Content-Type"))
        stored = await self.store.write_body(url, response.content, cap, received)
        if stored is None:
            response.close()
            return _Outcome.fail(
                url,
                f"exceeds size cap of {cap} bytes (stopped after {received.n} bytes)",
                status=status,
                final_url=final_url,
                size=received.n,
            )
        path, digest = stored
        entry = CacheEntry(
            url=url,
            final_url=final_url,
            etag=response.headers.get("ETag"),
            last_modified=response.headers.get("Last-Modified"),
            content_type=content_type,
            sha256=digest,
            size=received.n,
            fetched_at=datetime.now(UTC),
        )
        self.store.save_entry(entry)
        return _Outcome(
            FetchResult(
                url=url,
                final_url=final_url,
                ok=True,
                status=status,
                path=path,
                content_type=content_type,
                sha256=digest,
                size=received.n,
            )
        )


# --------------------------------------------------------------------------------------------
# Where bodies and their metadata live.


@dataclass
class _Received:
    """Bytes of body received so far; kept outside the download so errors can report it."""

    n: int = 0


@dataclass
class _BodyStore:
    """Bodies on disk, named by the URL's hash; with ``persistent`` also their cache entries."""

    root: Path
    persistent: bool

    def _paths(self, url: str) -> tuple[Path, Path]:
        key = hashlib.sha256(url.encode("utf-8")).hexdigest()
        return self.root / f"{key}.body", self.root / f"{key}.json"

    def load(self, url: str) -> CacheEntry | None:
        """The usable cache entry for ``url``, or None (absent, unreadable or stale on disk)."""
        if not self.persistent:
            return None
        body, meta = self._paths(url)
        try:
            entry = CacheEntry.model_validate(read_json(meta))
            size = body.stat().st_size
        except FileNotFoundError:
            return None
        except (OSError, ValueError, pydantic.ValidationError) as error:
            logger.warning("ignoring unreadable cache entry for %s: %s", redact_url(url), error)
            return None
        # A size check catches a truncated or swapped body without rereading every file; the
        # body is replaced only after its entry is removed, so a crash cannot pair new with old.
        if entry.url != url or entry.size != size:
            logger.warning("ignoring cache entry for %s: it does not match its body", redact_url(url))
            return None
        if entry.fetched_at.tzinfo is None:  # hand-edited entry; our own are always UTC
            entry = entry.model_copy(update={"fetched_at": entry.fetched_at.replace(tzinfo=UTC)})
        return entry

    def forget(self, url: str) -> None:
        """Remove whatever is stored for ``url``."""
        for path in self._paths(url):
            path.unlink(missing_ok=True)

    def save_entry(self, entry: CacheEntry) -> None:
        if self.persistent:
            write_json(self._paths(entry.url)[1], entry.model_dump(mode="json"))

    def result_from_cache(self, url: str, entry: CacheEntry, *, not_modified: bool) -> FetchResult:
        return FetchResult(
            url=url,
            final_url=entry.final_url,
            ok=True,
            path=self._paths(url)[0],
            content_type=entry.content_type,
            sha256=entry.sha256,
            size=entry.size,
            not_modified=not_modified,
            from_cache=True,
        )

    async def write_body(
        self, url: str, content: aiohttp.StreamReader, cap: int, received: _Received
    ) -> tuple[Path, str] | None:
        """Stream ``content`` into the body file; None (and nothing kept) if it passes ``cap``.

        The body goes to a temporary file first and replaces the old one only when complete,
        so a failed refresh leaves the previous cached copy intact.
        """
        body, meta = self._paths(url)
        digest = hashlib.sha256()
        target = AtomicFile(body)
        try:
            # Plain writes: a 64 KiB write to the page cache takes microseconds, less than the
            # hop to a worker thread would.
            async for chunk in content.iter_chunked(CHUNK_SIZE):
                received.n += len(chunk)
                if received.n > cap:
                    target.abort()
                    return None
                target.handle.write(chunk)
                digest.update(chunk)
            if self.persistent:
                meta.unlink(missing_ok=True)
            target.commit(fsync=self.persistent)
        except BaseException:
            target.abort()
            raise
        return body, digest.hexdigest()


# --------------------------------------------------------------------------------------------
# Small helpers.


@dataclass(frozen=True)
class _Outcome:
    """One attempt's result plus what the retry loop needs to know about it."""

    result: FetchResult
    retryable: bool = False
    retry_after: float | None = None

    @classmethod
    def fail(
        cls,
        url: str,
        reason: str,
        *,
        retryable: bool = False,
        retry_after: float | None = None,
        status: int | None = None,
        final_url: str | None = None,
        size: int | None = None,
        refused: bool = False,
    ) -> _Outcome:
        result = _failure(url, reason, status=status, final_url=final_url, size=size, refused=refused)
        return cls(result, retryable=retryable, retry_after=retry_after)


@dataclass
class _Clock:
    """Time since the first attempt began; waiting for a concurrency slot before it is free."""

    started: float | None = None

    def start(self) -> None:
        if self.started is None:
            self.started = time.monotonic()

    def elapsed(self) -> float:
        return 0.0 if self.started is None else time.monotonic() - self.started


def _failure(
    url: str,
    reason: str,
    *,
    status: int | None = None,
    final_url: str | None = None,
    size: int | None = None,
    refused: bool = False,
) -> FetchResult:
    return FetchResult(
        url=url,
        final_url=final_url,
        ok=False,
        status=status,
        size=size,
        refused=refused,
        error=f"{url}: {reason}",
    )


def _redirect_refused(target: str, error: HostNotAllowed) -> str:
    return f"not following the redirect to {target}: {error}"


def _how(result: FetchResult) -> str:
    if result.not_modified:
        return "not modified"
    if result.from_cache:
        return "fresh in cache"
    return f"{result.attempts} attempt(s)"
