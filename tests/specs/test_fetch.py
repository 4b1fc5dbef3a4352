"""Behaviour of the remote spec fetcher and APIs.guru index expansion.

Every test talks to a real aiohttp server on 127.0.0.1 started by the ``server`` fixture; no
other network is used. Timeouts, backoffs and Retry-After caps are set small so the whole file
runs in a few seconds.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import orjson
import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestServer

from pipeline import __version__
from pipeline.hosts import HostPolicy, Resolve
from pipeline.specs.apisguru import IndexEntry, expand_sources, parse_apisguru_index
from pipeline.specs.fetch import (
    CHUNK_SIZE,
    FETCH_WORDING,
    FetchOptions,
    FetchResult,
    fetch_policy,
    fetch_urls,
    parse_retry_after,
)

SPEC = {"openapi": "3.0.3", "info": {"title": "Pets", "version": "1"}, "paths": {}}
SPEC_BYTES = orjson.dumps(SPEC)
SPEC_YAML = b"swagger: '2.0'\ninfo:\n  title: Weather\n  version: '2'\npaths: {}\n"
LAST_MODIFIED = "Wed, 21 Oct 2015 07:28:00 GMT"
HUGE_BODY = 32 * 1024 * 1024  # what /huge would send if nobody stopped reading
METADATA = "169.254.169.254"  # cloud metadata: only ever refused, never connected to
REDIRECT_TARGETS = {
    "metadata": f"http://{METADATA}/latest/meta-data/iam/security-credentials/",
    "private": "http://10.0.0.7/spec.json",
    "metadata-name": "http://metadata.test/latest/meta-data/",
    "named-server": "http://specs.internal:{port}/spec.json",
    "gopher": "gopher://127.0.0.1:70/",
}


@dataclass
class ServerState:
    """What the test server saw, for assertions about what the client sent."""

    hits: Counter[str] = field(default_factory=Counter)
    conditional: Counter[str] = field(default_factory=Counter)
    user_agents: list[str] = field(default_factory=list)
    hit_times: dict[str, list[float]] = field(default_factory=dict)
    etag_version: int = 1
    in_flight: int = 0
    max_in_flight: int = 0
    huge_sent: int = 0
    huge_done: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class Server:
    base: str
    state: ServerState

    def url(self, path: str) -> str:
        return self.base + path

    @property
    def port(self) -> int:
        return int(self.base.rsplit(":", 1)[1])


def _app(state: ServerState) -> web.Application:
    routes = web.RouteTableDef()

    @web.middleware
    async def record(request: web.Request, handler):  # type: ignore[no-untyped-def]
        state.hits[request.path] += 1
        state.hit_times.setdefault(request.path, []).append(time.monotonic())
        state.user_agents.append(request.headers.get("User-Agent", ""))
        return await handler(request)

    @routes.get("/spec.json")
    async def spec_json(request: web.Request) -> web.Response:
        return web.Response(body=SPEC_BYTES, content_type="application/json")

    @routes.get("/spec.yaml")
    async def spec_yaml(request: web.Request) -> web.Response:
        return web.Response(body=SPEC_YAML, content_type="application/yaml", charset="utf-8")

    @routes.get("/etag.json")
    async def etag(request: web.Request) -> web.Response:
        tag = f'"v{state.etag_version}"'
        if request.headers.get("If-None-Match") == tag:
            state.conditional["/etag.json"] += 1
            return web.Response(status=304, headers={"ETag": tag})
        body = orjson.dumps({**SPEC, "x-version": state.etag_version})
        return web.Response(body=body, content_type="application/json", headers={"ETag": tag})

    @routes.get("/lastmod.json")
    async def lastmod(request: web.Request) -> web.Response:
        if request.headers.get("If-Modified-Since") == LAST_MODIFIED:
            state.conditional["/lastmod.json"] += 1
            return web.Response(status=304)
        return web.Response(
            body=SPEC_BYTES,
            content_type="application/json",
            headers={"Last-Modified": LAST_MODIFIED},
        )

    @routes.get("/flaky.json")
    async def flaky(request: web.Request) -> web.Response:
        if state.hits["/flaky.json"] <= 2:
            return web.Response(status=500)
        return web.Response(body=SPEC_BYTES, content_type="application/json")

    @routes.get("/broken.json")
    async def broken(request: web.Request) -> web.Response:
        return web.Response(status=500)

    @routes.get("/ratelimited.json")
    async def ratelimited(request: web.Request) -> web.Response:
        if state.hits["/ratelimited.json"] == 1:
            return web.Response(status=429, headers={"Retry-After": "1"})
        return web.Response(body=SPEC_BYTES, content_type="application/json")

    @routes.get("/hang.json")
    async def hang(request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.Response(body=SPEC_BYTES)

    @routes.get("/huge.json")
    async def huge(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()  # chunked: no Content-Length to reject early
        await response.prepare(request)
        chunk = b"x" * CHUNK_SIZE
        try:
            while state.huge_sent < HUGE_BODY:
                await response.write(chunk)
                state.huge_sent += len(chunk)
        except (ConnectionError, asyncio.CancelledError):
            pass  # the client hung up, as it should
        finally:
            state.huge_done.set()
        return response

    @routes.get("/declared-big.json")
    async def declared_big(request: web.Request) -> web.Response:
        return web.Response(body=b"x" * 5000, content_type="application/json")

    @routes.get("/redirect")
    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound("/spec.json")

    @routes.get("/loop")
    async def loop(request: web.Request) -> web.Response:
        raise web.HTTPFound("/loop")

    @routes.get("/slow/{n}")
    async def slow(request: web.Request) -> web.Response:
        state.in_flight += 1
        state.max_in_flight = max(state.max_in_flight, state.in_flight)
        try:
            await asyncio.sleep(0.05)
        finally:
            state.in_flight -= 1
        return web.Response(body=SPEC_BYTES, content_type="application/json")

    @routes.get("/apis/list.json")
    async def index(request: web.Request) -> web.Response:
        absolute_yaml = str(request.url.with_path("/spec.yaml").with_query(None))
        listing = {
            "example.com:pets": _listed(
                "1.0", {"swaggerUrl": "specs/pets.json"}, ["ecommerce", "animals"]
            ),
            "example.com:weather": _listed("2", {"swaggerYamlUrl": absolute_yaml}, ["open_data"]),
            "example.com:gone": _listed("3", {"swaggerUrl": "/gone.json"}, ["cloud"]),
        }
        return web.json_response(listing)

    @routes.get("/internal/list.json")
    async def internal_index(request: web.Request) -> web.Response:
        # an index that points back into the machine's own network
        port = request.url.port
        listing = {
            "local:same-server": _listed("1", {"swaggerUrl": "/spec.json"}, ["local"]),
            "local:named": _listed("1", {"swaggerYamlUrl": f"http://specs.internal:{port}/spec.yaml"}, []),
            "cloud:metadata": _listed("1", {"swaggerUrl": f"http://{METADATA}/latest/meta-data/"}, []),
            "cloud:metadata-v6": _listed("1", {"swaggerUrl": f"http://[::ffff:{METADATA}]/"}, []),
        }
        return web.json_response(listing)

    @routes.get("/to/{where}")
    async def redirect_elsewhere(request: web.Request) -> web.Response:
        raise web.HTTPFound(REDIRECT_TARGETS[request.match_info["where"]].format(port=request.url.port))

    @routes.get("/apis/specs/pets.json")
    async def pets(request: web.Request) -> web.Response:
        return web.Response(body=SPEC_BYTES, content_type="application/json")

    app = web.Application(middlewares=[record])
    app.add_routes(routes)
    return app


def _listed(version: str, urls: dict[str, str], categories: list[str]) -> dict[str, object]:
    return {
        "added": "2020-01-01T00:00:00.000Z",
        "preferred": version,
        "versions": {
            version: {
                "added": "2020-01-01T00:00:00.000Z",
                "updated": "2024-05-06T07:08:09.000Z",
                "info": {"title": f"API {version}", "x-apisguru-categories": categories},
                **urls,
            }
        },
    }


@pytest_asyncio.fixture
async def server() -> AsyncIterator[Server]:
    state = ServerState()
    test_server = TestServer(_app(state), host="127.0.0.1")
    await test_server.start_server(shutdown_timeout=0.5)
    try:
        yield Server(str(test_server.make_url("")).rstrip("/"), state)
    finally:
        await test_server.close()


def _options(tmp_path: Path, **overrides: object) -> FetchOptions:
    """Fast options: tiny backoff, a cache in the test's folder, the local test server trusted
    (the host policy's own tests below say otherwise)."""
    values: dict[str, object] = {
        "cache_dir": tmp_path / "cache",
        "backoff_base_s": 0.01,
        "timeout_s": 2,
        "trusted_hosts": ["127.0.0.1"],
    }
    values.update(overrides)
    return FetchOptions.model_validate(values)


async def _fetch_one(url: str, options: FetchOptions) -> FetchResult:
    [result] = await fetch_urls([url], options)
    return result


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ------------------------------------------------------------------------------- success


@pytest.mark.asyncio
async def test_json_and_yaml_bodies_are_written_to_disk_with_their_metadata(
    server: Server, tmp_path: Path
) -> None:
    json_url, yaml_url = server.url("/spec.json"), server.url("/spec.yaml")

    json_result, yaml_result = await fetch_urls([json_url, yaml_url], _options(tmp_path))

    assert json_result.ok and yaml_result.ok
    assert json_result.url == json_url and json_result.final_url == json_url
    assert json_result.status == 200 and json_result.error is None
    assert json_result.path is not None and json_result.path.read_bytes() == SPEC_BYTES
    assert json_result.path.parent == tmp_path / "cache"
    assert json_result.content_type == "application/json"
    assert json_result.size == len(SPEC_BYTES)
    assert len(json_result.sha256 or "") == 64
    assert json_result.attempts == 1 and not json_result.not_modified
    assert yaml_result.path is not None and yaml_result.path.read_bytes() == SPEC_YAML
    assert yaml_result.content_type == "application/yaml"  # parameters such as charset dropped


@pytest.mark.asyncio
async def test_requests_carry_the_toolgen_user_agent(server: Server, tmp_path: Path) -> None:
    [result] = await fetch_urls([server.url("/spec.json")], _options(tmp_path))

    assert result.ok
    assert server.state.user_agents == [f"toolgen/{__version__}"]


@pytest.mark.asyncio
async def test_without_cache_dir_bodies_go_to_a_temporary_folder(server: Server) -> None:
    options = FetchOptions(cache_dir=None, trusted_hosts=["127.0.0.1"])

    result = await _fetch_one(server.url("/spec.json"), options)

    assert result.ok and result.path is not None
    try:
        assert result.path.read_bytes() == SPEC_BYTES
        assert not list(result.path.parent.glob("*.json"))  # no cache metadata kept
    finally:
        shutil.rmtree(result.path.parent)


@pytest.mark.asyncio
async def test_results_keep_input_order_and_a_repeated_url_is_fetched_once(
    server: Server, tmp_path: Path
) -> None:
    urls = [server.url("/spec.yaml"), server.url("/spec.json"), server.url("/spec.yaml")]
    seen: list[FetchResult] = []

    results = await fetch_urls(urls, _options(tmp_path), on_result=seen.append)

    assert [r.url for r in results] == urls
    assert server.state.hits["/spec.yaml"] == 1
    assert len(seen) == 3  # one progress call per input URL


# ------------------------------------------------------------------- conditional requests


@pytest.mark.asyncio
async def test_etag_revalidation_reuses_the_cached_body_on_304(
    server: Server, tmp_path: Path
) -> None:
    url, options = server.url("/etag.json"), _options(tmp_path)

    first = await _fetch_one(url, options)
    second = await _fetch_one(url, options)

    assert first.ok and not first.not_modified and not first.from_cache
    assert second.ok and second.not_modified and second.from_cache
    assert second.status == 304
    assert second.path == first.path and second.path is not None and second.path.exists()
    assert orjson.loads(second.path.read_bytes())["x-version"] == 1
    assert second.sha256 == first.sha256 and second.size == first.size
    assert server.state.conditional["/etag.json"] == 1
    assert server.state.hits["/etag.json"] == 2


@pytest.mark.asyncio
async def test_a_changed_resource_is_downloaded_again(server: Server, tmp_path: Path) -> None:
    url, options = server.url("/etag.json"), _options(tmp_path)
    first = await _fetch_one(url, options)

    server.state.etag_version = 2
    second = await _fetch_one(url, options)
    third = await _fetch_one(url, options)

    assert second.ok and not second.not_modified and second.sha256 != first.sha256
    assert second.path is not None and orjson.loads(second.path.read_bytes())["x-version"] == 2
    assert third.not_modified  # the new ETag was stored


@pytest.mark.asyncio
async def test_last_modified_revalidation_reuses_the_cached_body_on_304(
    server: Server, tmp_path: Path
) -> None:
    url, options = server.url("/lastmod.json"), _options(tmp_path)

    first = await _fetch_one(url, options)
    second = await _fetch_one(url, options)

    assert first.ok and not first.not_modified
    assert second.ok and second.not_modified
    assert second.path is not None and second.path.read_bytes() == SPEC_BYTES
    assert server.state.conditional["/lastmod.json"] == 1


@pytest.mark.asyncio
async def test_a_fresh_entry_within_max_age_is_used_without_asking_the_server(
    server: Server, tmp_path: Path
) -> None:
    url = server.url("/etag.json")
    await _fetch_one(url, _options(tmp_path))

    again = await _fetch_one(url, _options(tmp_path, max_age_s=3600))

    assert again.ok and again.from_cache and not again.not_modified
    assert again.attempts == 0
    assert server.state.hits["/etag.json"] == 1


def _garble_metadata(cache: Path) -> None:
    [meta] = cache.glob("*.json")
    meta.write_bytes(b'{"url": "trunc')


def _delete_body(cache: Path) -> None:
    [body] = cache.glob("*.body")
    body.unlink()


def _truncate_body(cache: Path) -> None:
    [body] = cache.glob("*.body")
    body.write_bytes(body.read_bytes()[:10])


@pytest.mark.asyncio
@pytest.mark.parametrize("damage", [_garble_metadata, _delete_body, _truncate_body])
async def test_a_damaged_cache_entry_is_a_miss_and_gets_repaired(
    server: Server, tmp_path: Path, damage
) -> None:  # type: ignore[no-untyped-def]
    url, options = server.url("/etag.json"), _options(tmp_path)
    await _fetch_one(url, options)

    damage(tmp_path / "cache")
    refetched = await _fetch_one(url, options)
    revalidated = await _fetch_one(url, options)

    assert refetched.ok and not refetched.not_modified
    assert refetched.path is not None
    assert orjson.loads(refetched.path.read_bytes())["x-version"] == 1
    assert revalidated.not_modified
    assert server.state.conditional["/etag.json"] == 1  # only the request after the repair


# -------------------------------------------------------------------- failures and retries


@pytest.mark.asyncio
async def test_404_is_recorded_not_raised_and_not_retried(server: Server, tmp_path: Path) -> None:
    url = server.url("/nope.json")

    result = await _fetch_one(url, _options(tmp_path))

    assert not result.ok and result.status == 404 and result.path is None
    assert result.error == f"{url}: HTTP 404 Not Found"
    assert result.attempts == 1


@pytest.mark.asyncio
async def test_server_errors_are_retried_until_success(server: Server, tmp_path: Path) -> None:
    result = await _fetch_one(server.url("/flaky.json"), _options(tmp_path, retries=3))

    assert result.ok and result.status == 200
    assert result.attempts == 3
    assert server.state.hits["/flaky.json"] == 3


@pytest.mark.asyncio
async def test_retries_give_up_after_the_configured_number(server: Server, tmp_path: Path) -> None:
    result = await _fetch_one(server.url("/broken.json"), _options(tmp_path, retries=2))

    assert not result.ok and result.status == 500
    assert result.error is not None and "HTTP 500 Internal Server Error" in result.error
    assert result.attempts == 3


@pytest.mark.asyncio
async def test_retry_after_on_429_is_honoured(server: Server, tmp_path: Path) -> None:
    result = await _fetch_one(server.url("/ratelimited.json"), _options(tmp_path))

    assert result.ok and result.attempts == 2
    first, second = server.state.hit_times["/ratelimited.json"]
    assert second - first >= 0.95
    assert result.elapsed_s >= 0.95


@pytest.mark.asyncio
async def test_retry_after_is_capped_by_max_retry_after(server: Server, tmp_path: Path) -> None:
    options = _options(tmp_path, max_retry_after_s=0.05)

    result = await _fetch_one(server.url("/ratelimited.json"), options)

    assert result.ok and result.attempts == 2
    assert result.elapsed_s < 0.5


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    now = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)

    in_30_s = format_datetime(now + timedelta(seconds=30), usegmt=True)
    a_minute_ago = format_datetime(now - timedelta(seconds=60), usegmt=True)

    assert parse_retry_after("120", now=now) == 120
    assert parse_retry_after(in_30_s, now=now) == 30
    assert parse_retry_after(a_minute_ago, now=now) == 0
    assert parse_retry_after("soon", now=now) is None
    assert parse_retry_after(None, now=now) is None


@pytest.mark.asyncio
async def test_a_hanging_server_times_out(server: Server, tmp_path: Path) -> None:
    url = server.url("/hang.json")

    result = await _fetch_one(url, _options(tmp_path, timeout_s=0.3, retries=0))

    assert not result.ok and result.status is None
    assert result.error == f"{url}: timed out after 0.3 s"
    assert result.elapsed_s < 2


@pytest.mark.asyncio
async def test_a_streamed_body_over_the_cap_is_aborted(server: Server, tmp_path: Path) -> None:
    cap = 200_000
    options = _options(tmp_path, max_bytes=cap)

    result = await _fetch_one(server.url("/huge.json"), options)

    assert not result.ok and result.path is None
    assert result.error is not None and f"exceeds size cap of {cap} bytes" in result.error
    assert result.size is not None and cap < result.size <= cap + CHUNK_SIZE
    assert not any(p.is_file() for p in (tmp_path / "cache").rglob("*"))  # partial file removed
    await asyncio.wait_for(server.state.huge_done.wait(), 5)
    assert server.state.huge_sent < HUGE_BODY  # the server was cut off, not read to the end


@pytest.mark.asyncio
async def test_a_content_length_over_the_cap_is_refused_before_reading(
    server: Server, tmp_path: Path
) -> None:
    result = await _fetch_one(server.url("/declared-big.json"), _options(tmp_path, max_bytes=1000))

    assert not result.ok and result.status == 200
    assert result.error is not None
    assert "exceeds size cap of 1000 bytes (Content-Length 5000)" in result.error
    assert result.size == 0


@pytest.mark.asyncio
async def test_connection_refused_is_a_clear_error(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/spec.json"

    result = await _fetch_one(url, _options(tmp_path, retries=0))

    assert not result.ok and result.status is None
    assert result.error == f"{url}: connection refused"


@pytest.mark.asyncio
async def test_redirects_are_followed_and_the_final_url_recorded(
    server: Server, tmp_path: Path
) -> None:
    result = await _fetch_one(server.url("/redirect"), _options(tmp_path))

    assert result.ok
    assert result.url == server.url("/redirect")
    assert result.final_url == server.url("/spec.json")


@pytest.mark.asyncio
async def test_a_redirect_loop_stops(server: Server, tmp_path: Path) -> None:
    result = await _fetch_one(server.url("/loop"), _options(tmp_path, max_redirects=3))

    assert not result.ok
    assert result.error is not None and "too many redirects" in result.error


@pytest.mark.asyncio
@pytest.mark.parametrize("url", ["ftp://example.com/spec.json", "file:///etc/hosts", "spec.json"])
async def test_non_http_urls_are_rejected_without_a_request(url: str, tmp_path: Path) -> None:
    result = await _fetch_one(url, _options(tmp_path))

    assert not result.ok and result.attempts == 0
    assert result.error == f"{url}: not an http(s) URL"


@pytest.mark.asyncio
async def test_no_more_than_concurrency_requests_are_in_flight(
    server: Server, tmp_path: Path
) -> None:
    urls = [server.url(f"/slow/{n}") for n in range(10)]

    results = await fetch_urls(urls, _options(tmp_path, concurrency=2))

    assert all(r.ok for r in results)
    assert server.state.max_in_flight == 2


# ------------------------------------------------------------------------ APIs.guru index


@pytest.mark.asyncio
async def test_an_apisguru_index_expands_into_its_specs_with_categories(
    server: Server, tmp_path: Path
) -> None:
    index_url = server.url("/apis/list.json")
    plain_url = server.url("/spec.json")

    specs, errors = await expand_sources([index_url, plain_url], _options(tmp_path))

    assert [s.result.url for s in specs] == [
        server.url("/apis/specs/pets.json"),  # relative URL resolved against the index
        server.url("/spec.yaml"),  # the index offered YAML only
        plain_url,  # not an index: a spec in its own right
    ]
    pets, weather, plain = specs
    assert pets.entry is not None and pets.entry.key == "example.com:pets"
    assert pets.categories == ["ecommerce", "animals"]
    assert pets.entry.version == "1.0" and pets.entry.updated == "2024-05-06T07:08:09.000Z"
    assert pets.entry.index_url == index_url
    assert weather.categories == ["open_data"]
    assert weather.result.path is not None and weather.result.path.read_bytes() == SPEC_YAML
    assert plain.entry is None and plain.categories == []

    [gone] = errors
    assert gone.entry is not None and gone.entry.key == "example.com:gone"
    assert gone.categories == ["cloud"]
    assert gone.result.error == f"{server.url('/gone.json')}: HTTP 404 Not Found"


@pytest.mark.asyncio
async def test_a_failed_source_url_is_reported_among_the_errors(
    server: Server, tmp_path: Path
) -> None:
    specs, errors = await expand_sources([server.url("/nope.json")], _options(tmp_path))

    assert specs == []
    [error] = errors
    assert error.entry is None and error.result.status == 404


def test_parse_index_picks_the_preferred_version_and_prefers_json() -> None:
    data = {
        "acme.com:store": {
            "preferred": "2.0",
            "versions": {
                "1.0": {"swaggerUrl": "https://acme.com/v1.json"},
                "2.0": {
                    "swaggerUrl": "v2/swagger.json",
                    "swaggerYamlUrl": "v2/swagger.yaml",
                    "info": {"title": "Store"},
                },
            },
        }
    }

    [entry] = parse_apisguru_index(data, "https://api.apis.guru/v2/list.json") or []

    assert entry == IndexEntry(
        key="acme.com:store",
        version="2.0",
        spec_url="https://api.apis.guru/v2/v2/swagger.json",
        title="Store",
        categories=[],
        updated=None,
        index_url="https://api.apis.guru/v2/list.json",
    )


@pytest.mark.parametrize(
    "data",
    [
        SPEC,  # an OpenAPI document
        {},  # nothing listed
        [{"preferred": "1", "versions": {}}],  # not an object
        {"a:b": {"preferred": "1", "versions": {}}, "openapi": "3.0.0"},  # mixed values
    ],
)
def test_parse_index_returns_none_for_anything_else(data: object) -> None:
    assert parse_apisguru_index(data, "https://example.com/list.json") is None


def test_parse_index_skips_apis_without_a_usable_spec_url() -> None:
    data = {
        "a:missing-version": {"preferred": "9", "versions": {"1": {"swaggerUrl": "a.json"}}},
        "a:no-url": {"preferred": "1", "versions": {"1": {"info": {}}}},
        "a:good": {"preferred": "1", "versions": {"1": {"swaggerYamlUrl": "/good.yaml"}}},
    }

    entries = parse_apisguru_index(data, "https://example.com/v2/list.json")

    assert entries is not None
    assert [(e.key, e.spec_url) for e in entries] == [("a:good", "https://example.com/good.yaml")]


# ------------------------------------------------------------------------ the host policy
#
# The `_options` above trust the test server; these tests build their options with `_strict`,
# which trusts nothing unless told. The `connections` fixture sees every socket connect in the
# process and lets only 127.0.0.1 through, so a test fails (rather than reaching out) if a
# refusal ever came after a connection.

LOOPBACK_HINT = "add the host to collect.fetch.trusted_hosts (or --trust-host) to allow"


@pytest.fixture
def connections(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every address a socket in this process tried to connect to; only 127.0.0.1 may succeed."""
    seen: list[object] = []
    real_connect = socket.socket.connect

    def connect(self: socket.socket, address: object) -> None:
        seen.append(address)
        host = address[0] if isinstance(address, tuple) else address
        if host != "127.0.0.1":
            raise ConnectionRefusedError(f"test guard: no connections to {address!r}")
        real_connect(self, address)  # type: ignore[arg-type]

    monkeypatch.setattr(socket.socket, "connect", connect)
    return seen


def _hosts(seen: list[object]) -> set[str]:
    return {str(address[0]) if isinstance(address, tuple) else str(address) for address in seen}


def _strict(tmp_path: Path, **overrides: object) -> FetchOptions:
    overrides.setdefault("trusted_hosts", [])
    return _options(tmp_path, **overrides)


def _dns(*answers: tuple[str, list[str]]) -> Resolve:
    """A fake resolver: each name answers its addresses in turn (the last one repeats)."""
    table: dict[str, list[list[str]]] = {}
    for name, addresses in answers:
        table.setdefault(name, []).append(addresses)

    async def resolve(host: str) -> list[str]:
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        queue = table[host]
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return resolve


def _cached_bodies(tmp_path: Path) -> set[bytes]:
    return {path.read_bytes() for path in (tmp_path / "cache").glob("*.body")}


@pytest.mark.asyncio
async def test_an_index_cannot_send_collect_into_the_local_network(
    server: Server, tmp_path: Path, connections: list[object]
) -> None:
    index_url = server.url("/internal/list.json")
    port = server.port
    options = _strict(tmp_path)
    policy = fetch_policy(options, resolve=_dns(("specs.internal", ["127.0.0.1"])))

    specs, errors = await expand_sources([index_url], options, trust_sources=True, policy=policy)

    assert specs == []
    reasons = {error.entry.key: error.result.error for error in errors if error.entry is not None}
    assert reasons == {
        "local:same-server": f"{server.url('/spec.json')}: refused: 127.0.0.1 is a loopback address; "
        + LOOPBACK_HINT,
        "local:named": f"http://specs.internal:{port}/spec.yaml: refused: specs.internal resolves to "
        f"127.0.0.1, a loopback address; {LOOPBACK_HINT}",
        "cloud:metadata": f"http://{METADATA}/latest/meta-data/: refused: {METADATA} is a link-local "
        f"address (cloud metadata); {LOOPBACK_HINT}",
        "cloud:metadata-v6": f"http://[::ffff:{METADATA}]/: refused: ::ffff:a9fe:a9fe is the IPv6 form "
        f"of {METADATA}, a link-local address (cloud metadata); {LOOPBACK_HINT}",
    }
    assert all(error.result.refused and error.result.attempts == 0 for error in errors)
    # the index (a URL the user gave) was fetched; nothing it listed was asked for
    assert server.state.hits == Counter({"/internal/list.json": 1})
    assert _hosts(connections) == {"127.0.0.1"}
    assert len(list((tmp_path / "cache").glob("*.body"))) == 1  # the index's body only


@pytest.mark.asyncio
async def test_the_users_own_url_is_trusted_but_the_same_url_found_in_a_document_is_not(
    server: Server, tmp_path: Path, connections: list[object]
) -> None:
    url = server.url("/spec.json")

    [typed] = await fetch_urls([url], _strict(tmp_path), trusted=True)
    [found] = await fetch_urls([url], _strict(tmp_path))

    assert typed.ok
    assert not found.ok and found.refused and found.status is None
    assert found.error == f"{url}: refused: 127.0.0.1 is a loopback address; {LOOPBACK_HINT}"
    assert server.state.hits["/spec.json"] == 1
    # the refusal also removed the copy the trusted fetch had cached under that URL
    assert _cached_bodies(tmp_path) == set()


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("where", "refusal"),
    [
        ("metadata", f"refused: {METADATA} is a link-local address (cloud metadata)"),
        ("private", "refused: 10.0.0.7 is a private address"),
        ("metadata-name", f"refused: metadata.test resolves to {METADATA}, a link-local address (cloud metadata)"),
        ("gopher", "refused: gopher:// URLs cannot be called (only http and https)"),
    ],
)
async def test_a_redirect_from_an_allowed_host_into_private_space_is_refused(
    server: Server, tmp_path: Path, connections: list[object], where: str, refusal: str
) -> None:
    port = server.port
    options = _strict(tmp_path, trusted_hosts=[f"127.0.0.1:{port}"])  # the server itself is allowed
    policy = fetch_policy(options, resolve=_dns(("metadata.test", [METADATA])))
    url = server.url(f"/to/{where}")
    target = REDIRECT_TARGETS[where].format(port=port)

    [result] = await fetch_urls([url], options, policy=policy, trusted=True)

    assert not result.ok and result.refused and result.status == 302
    assert result.error is not None and result.error.startswith(f"{url}: not following the redirect to {target}: ")
    assert result.error.endswith(refusal if where == "gopher" else f"{refusal}; {LOOPBACK_HINT}")
    assert result.attempts == 1  # a refusal is not retried
    assert _hosts(connections) == {"127.0.0.1"}
    assert _cached_bodies(tmp_path) == set()


@pytest.mark.asyncio
async def test_a_redirect_from_the_users_own_url_is_not_trusted_even_to_the_same_server(
    server: Server, tmp_path: Path, connections: list[object]
) -> None:
    [result] = await fetch_urls([server.url("/redirect")], _strict(tmp_path), trusted=True)

    assert not result.ok and result.refused
    assert result.error == (
        f"{server.url('/redirect')}: not following the redirect to {server.url('/spec.json')}: "
        f"refused: 127.0.0.1 is a loopback address; {LOOPBACK_HINT}"
    )
    assert server.state.hits["/spec.json"] == 0


@pytest.mark.asyncio
async def test_a_name_that_rebinds_to_cloud_metadata_is_refused_at_connect_time(
    tmp_path: Path, connections: list[object]
) -> None:
    # public when checked before the request, the metadata service when the connection resolves it
    dns = _dns(("rebind.test", ["93.184.215.14"]), ("rebind.test", [METADATA]))
    options = _strict(tmp_path, retries=0)
    uncached = HostPolicy(["*"], allow_private=False, wording=FETCH_WORDING, resolve=dns, cache_ttl_s=0)

    [result] = await fetch_urls(["http://rebind.test/spec.json"], options, policy=uncached)

    assert not result.ok and result.refused
    assert result.error == (
        f"http://rebind.test/spec.json: refused: rebind.test resolves to {METADATA}, a link-local address "
        f"(cloud metadata); {LOOPBACK_HINT}"
    )
    assert connections == []


@pytest.mark.asyncio
async def test_hosts_trusted_by_configuration_are_fetched_and_metadata_still_is_not(
    server: Server, tmp_path: Path, connections: list[object]
) -> None:
    index_url = server.url("/internal/list.json")
    port = server.port
    options = _strict(tmp_path, trusted_hosts=[f"127.0.0.1:{port}", "specs.internal"])
    policy = fetch_policy(options, resolve=_dns(("specs.internal", ["127.0.0.1"])))

    specs, errors = await expand_sources([index_url], options, policy=policy)

    assert [spec.entry.key for spec in specs if spec.entry is not None] == ["local:same-server", "local:named"]
    assert [spec.result.path.read_bytes() for spec in specs if spec.result.path is not None] == [
        SPEC_BYTES, SPEC_YAML
    ]
    assert sorted(error.entry.key for error in errors if error.entry is not None) == [
        "cloud:metadata", "cloud:metadata-v6"
    ]
    assert all(error.result.refused for error in errors)
    assert _hosts(connections) == {"127.0.0.1"}


@pytest.mark.asyncio
async def test_a_redirect_to_a_trusted_host_by_name_is_followed(
    server: Server, tmp_path: Path, connections: list[object]
) -> None:
    options = _strict(tmp_path, trusted_hosts=["specs.internal"])
    policy = fetch_policy(options, resolve=_dns(("specs.internal", ["127.0.0.1"])))
    port = server.port

    [result] = await fetch_urls([server.url("/to/named-server")], options, policy=policy, trusted=True)

    assert result.ok and result.final_url == f"http://specs.internal:{port}/spec.json"
    assert result.path is not None and result.path.read_bytes() == SPEC_BYTES


@pytest.mark.asyncio
async def test_only_hosts_on_the_allow_list_are_fetched_from_documents(
    server: Server, tmp_path: Path, connections: list[object]
) -> None:
    port = server.port
    options = _strict(tmp_path, allowed_hosts=["*.example.com"], trusted_hosts=[])

    [result] = await fetch_urls([server.url("/spec.json")], options)

    assert result.refused
    assert result.error == f"{server.url('/spec.json')}: host 127.0.0.1:{port} is not in collect.fetch.allowed_hosts"
    assert connections == []


@pytest.mark.asyncio
async def test_a_fresh_cached_body_that_came_through_a_now_refused_redirect_is_not_served(
    server: Server, tmp_path: Path, connections: list[object]
) -> None:
    url = server.url("/redirect")
    trusting = _options(tmp_path, max_age_s=3600)
    [first] = await fetch_urls([url], trusting)
    assert first.ok and first.final_url == server.url("/spec.json")

    [again] = await fetch_urls([url], _strict(tmp_path, max_age_s=3600), trusted=True)

    assert not again.ok and again.refused and not again.from_cache
    assert again.error is not None and "not following the redirect to" in again.error
    assert _cached_bodies(tmp_path) == set()


@pytest.mark.asyncio
async def test_a_listed_url_the_user_also_gave_keeps_the_users_trust_and_its_body(
    server: Server, tmp_path: Path, connections: list[object]
) -> None:
    index_url, spec_url = server.url("/internal/list.json"), server.url("/spec.json")
    policy = fetch_policy(_strict(tmp_path), resolve=_dns(("specs.internal", ["127.0.0.1"])))

    specs, errors = await expand_sources([index_url, spec_url], _strict(tmp_path), trust_sources=True, policy=policy)

    listed = [spec for spec in specs if spec.entry is not None]
    assert [spec.entry.key for spec in listed if spec.entry is not None] == ["local:same-server"]
    assert [spec.result.url for spec in specs] == [spec_url, spec_url]
    assert all(spec.result.path is not None and spec.result.path.read_bytes() == SPEC_BYTES for spec in specs)
    assert server.state.hits["/spec.json"] == 1
    assert len(errors) == 3 and all(error.result.refused for error in errors)
