"""Real HTTP tool calls: against the bundled sandbox and against small local apps that misbehave
on purpose (rate limits, 500s, hangs, huge bodies, HTML pages, redirects).

Every server listens on 127.0.0.1 and is started by the test; the private-address refusals use
IP literals and a fake resolver, and are refused before any connection is attempted.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestServer

from pipeline.env.credentials import CredentialResolver
from pipeline.env.http import HttpExecutor, RequestError, build_request, make_session, rewrite_url
from pipeline.env.observation import Observation
from pipeline.env.sandbox import (
    CLIENT_HEADER,
    SANDBOX_API_KEY,
    SandboxServer,
    sandbox_spec_dir,
    start_sandbox,
)
from pipeline.hosts import HostPolicy
from pipeline.models import Api, Auth, Param, SourceRef, Tool
from pipeline.settings import Credential, EnvSettings
from pipeline.specs.openapi import ReadOptions
from pipeline.specs.read import SourceTask, read_source

SPEC_BASE = "http://127.0.0.1:8750"
FAST = {"backoff_base_s": 0.01, "timeout_s": 2.0}


# --------------------------------------------------------------------------------------------
# Helpers


@cache
def _sandbox_tool_json(slug: str) -> str:
    path = sandbox_spec_dir() / f"{slug}.yaml"
    outcome = read_source(SourceTask(path=path, location=str(path)), ReadOptions())
    assert outcome.error is None, outcome.error
    tool = Tool.model_validate(outcome.tools[0]).model_copy(update={"id": slug})
    return tool.model_dump_json(by_alias=True)


def sandbox_tool(slug: str) -> Tool:
    return Tool.model_validate_json(_sandbox_tool_json(slug))


def api_named(tool: Tool, name: str) -> Api:
    return next(api for api in tool.api_list if api.name == name)


def local_tool(base_url: str, *apis: Api, auth: list[Auth] | None = None, tool_id: str = "local") -> Tool:
    return Tool(
        id=tool_id,
        tool_name="Local",
        base_url=base_url,
        auth=auth or [],
        source=SourceRef(kind="file", location="tests", format="openapi-3.0"),
        api_list=list(apis),
    )


def get(path: str, *params: Param, method: str = "GET", **fields: Any) -> Api:
    return Api(
        name=path.strip("/").replace("/", "_") or "root",
        url=path,
        method=method,
        required_parameters=[p for p in params if p.required],
        optional_parameters=[p for p in params if not p.required],
        **fields,
    )


def param(name: str, location: str = "query", schema_type: str = "string", **fields: Any) -> Param:
    return Param(name=name, location=location, schema={"type": schema_type}, **fields)


@dataclass
class Env:
    """An executor wired like the pipeline wires it, plus what the tests look at."""

    executor: HttpExecutor
    session: aiohttp.ClientSession
    policy: HostPolicy


@pytest_asyncio.fixture
async def make_env() -> AsyncIterator[Callable[..., Env]]:
    sessions: list[aiohttp.ClientSession] = []

    def build(
        *,
        allowed: list[str] | None = None,
        always: list[str] | None = None,
        allow_private: bool = True,
        credentials: dict[str, Credential] | None = None,
        environ: dict[str, str] | None = None,
        rewrites: dict[str, str] | None = None,
        policy: HostPolicy | None = None,
        **settings: Any,
    ) -> Env:
        env_settings = EnvSettings.model_validate({**FAST, **settings})
        policy = policy or HostPolicy(
            ["*"] if allowed is None else allowed, allow_private=allow_private, always_allowed=always or ()
        )
        session = make_session(env_settings, policy)
        sessions.append(session)
        resolver = CredentialResolver(credentials or {}, environ=environ or {})
        executor = HttpExecutor(
            env_settings,
            session=session,
            policy=policy,
            credentials=resolver,
            url_rewrites=rewrites,
            rng=random.Random(0),
        )
        return Env(executor, session, policy)

    yield build
    for session in sessions:
        await session.close()


@pytest_asyncio.fixture
async def sandbox() -> AsyncIterator[SandboxServer]:
    server = await start_sandbox(rate_limit_per_minute=None)
    try:
        yield server
    finally:
        await server.close()


def sandbox_env(make_env: Callable[..., Env], sandbox: SandboxServer, **options: Any) -> Env:
    """The pipeline's set-up: nothing allowed but the sandbox, which is reached by rewriting."""
    options.setdefault("allowed", [])
    options.setdefault("allow_private", False)
    return make_env(
        always=[f"{sandbox.host}:{sandbox.port}"], rewrites={SPEC_BASE: sandbox.base_url}, **options
    )


@dataclass
class Recorder:
    """What the local test app saw."""

    hits: Counter[str] = field(default_factory=Counter)
    times: dict[str, list[float]] = field(default_factory=dict)
    in_flight: int = 0
    max_in_flight: int = 0
    big_bytes_sent: int = 0
    big_finished: bool = False
    requests: list[dict[str, Any]] = field(default_factory=list)


def _local_app(rec: Recorder) -> web.Application:
    routes = web.RouteTableDef()

    @web.middleware
    async def record(request: web.Request, handler: Any) -> web.StreamResponse:
        rec.hits[request.path] += 1
        rec.times.setdefault(request.path, []).append(time.monotonic())
        return await handler(request)

    @routes.get("/rate-limited")
    async def rate_limited(request: web.Request) -> web.Response:
        if rec.hits[request.path] == 1:
            return web.json_response(
                {"message": "slow down"}, status=429, headers={"Retry-After": request.query.get("after", "1")}
            )
        return web.json_response({"ok": True})

    @routes.route("*", "/flaky")
    async def flaky(request: web.Request) -> web.Response:
        if rec.hits[request.path] == 1:
            return web.json_response({"error": "boom"}, status=500)
        return web.json_response({"ok": True, "attempt": rec.hits[request.path]})

    @routes.get("/always-503")
    async def always_503(request: web.Request) -> web.Response:
        return web.json_response({"detail": "maintenance"}, status=503)

    @routes.get("/hang")
    async def hang(request: web.Request) -> web.Response:
        await asyncio.sleep(30)
        return web.json_response({"late": True})

    @routes.get("/big")
    async def big(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        chunk = b"x" * (64 * 1024)
        try:
            for _ in range(50 * 1024 * 1024 // len(chunk)):
                await response.write(chunk)
                rec.big_bytes_sent += len(chunk)
            rec.big_finished = True
        except (ConnectionResetError, ConnectionError, RuntimeError):
            pass
        return response

    @routes.get("/html")
    async def page(request: web.Request) -> web.Response:
        text = (
            "<!DOCTYPE html><html><head><title>Welcome to nginx!</title><style>body{}</style></head>"
            "<body><h1>Welcome to nginx!</h1><p>If you see this page, the server works.</p></body></html>"
        )
        return web.Response(text=text, content_type="text/html")

    @routes.get("/gateway")
    async def gateway(request: web.Request) -> web.Response:
        text = "<html><body><h1>502 Bad Gateway</h1></body></html>"
        return web.Response(text=text, status=404, content_type="text/html")

    @routes.get("/plain")
    async def plain(request: web.Request) -> web.Response:
        return web.Response(text="just words", content_type="text/plain")

    @routes.get("/slow")
    async def slow(request: web.Request) -> web.Response:
        rec.in_flight += 1
        rec.max_in_flight = max(rec.max_in_flight, rec.in_flight)
        try:
            await asyncio.sleep(0.1)
        finally:
            rec.in_flight -= 1
        return web.json_response({"ok": True})

    @routes.route("*", "/echo/{rest:.*}")
    async def echo(request: web.Request) -> web.Response:
        body = await request.read()
        seen = {
            "method": request.method,
            "raw_path": request.raw_path,
            "query": [[k, v] for k, v in request.query.items()],
            "headers": dict(request.headers),
            "body": body.decode("utf-8", "replace"),
        }
        rec.requests.append(seen)
        return web.json_response(seen)

    @routes.get("/leaky")
    async def leaky(request: web.Request) -> web.Response:
        key = request.query.get("api_key", "")
        return web.json_response({"error": f"key {key} has no quota left"}, status=403)

    @routes.get("/redirect")
    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound(request.query["to"])

    app = web.Application(middlewares=[record])
    app.add_routes(routes)
    return app


@dataclass
class Local:
    base_url: str
    rec: Recorder
    port: int


@pytest_asyncio.fixture
async def local() -> AsyncIterator[Local]:
    rec = Recorder()
    server = TestServer(_local_app(rec), host="127.0.0.1")
    await server.start_server(shutdown_timeout=0.2, access_log=None)
    try:
        yield Local(str(server.make_url("")).rstrip("/"), rec, int(server.port or 0))
    finally:
        await server.close()


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --------------------------------------------------------------------------------------------
# Against the sandbox


async def test_get_with_path_and_query_parameters_returns_the_sandbox_json(
    make_env: Callable[..., Env], sandbox: SandboxServer
) -> None:
    env = sandbox_env(make_env, sandbox)
    hotels = sandbox_tool("hotels")

    observation = await env.executor.execute(
        hotels,
        api_named(hotels, "getRoomOffers"),
        {"hotel_id": "htl-2988507-01", "check_in": "2025-07-10", "check_out": "2025-07-13", "guests": 2},
    )

    assert observation.ok, observation.error
    assert observation.status == 200 and observation.mode == "real"
    assert observation.response["hotel_id"] == "htl-2988507-01"
    assert observation.response["nights"] == 3
    assert observation.elapsed_ms > 0


async def test_a_cart_flow_posts_json_bodies(make_env: Callable[..., Env], sandbox: SandboxServer) -> None:
    env = sandbox_env(make_env, sandbox)
    shop = sandbox_tool("shop")

    created = await env.executor.execute(
        shop, api_named(shop, "createCart"), {"customer_email": "maya@example.com"}
    )
    cart_id = created.response["cart_id"]
    added = await env.executor.execute(
        shop, api_named(shop, "addCartItem"), {"cart_id": cart_id, "product_id": 10003, "quantity": 2}
    )
    cart = await env.executor.execute(shop, api_named(shop, "getCart"), {"cart_id": cart_id})

    assert created.status == 201 and created.response["customer_email"] == "maya@example.com"
    assert added.ok, added.error
    assert cart.ok and cart.response["item_count"] == 2
    assert [item["product_id"] for item in cart.response["items"]] == [10003]


async def test_a_404_becomes_an_error_observation_with_the_sandbox_message(
    make_env: Callable[..., Env], sandbox: SandboxServer
) -> None:
    env = sandbox_env(make_env, sandbox)
    geo = sandbox_tool("geo")

    observation = await env.executor.execute(geo, api_named(geo, "getCity"), {"city_id": 1})

    assert observation.error == "HTTP 404: No city with id 1."
    assert observation.status == 404
    assert observation.response["error"] == "not_found"  # the parsed body is kept


async def test_a_header_key_is_sent_only_when_its_variable_is_set(
    make_env: Callable[..., Env], sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    flights = sandbox_tool("flights")  # declares apiKey in the X-Api-Key header
    airport = api_named(flights, "getAirport")
    credentials = {"flights": Credential(value_env="FLIGHTS_KEY")}

    no_key = sandbox_env(make_env, sandbox, credentials=credentials, environ={})
    without = await no_key.executor.execute(flights, airport, {"iata_code": "JFK"})
    monkeypatch.setenv("FLIGHTS_KEY", SANDBOX_API_KEY)
    keyed = sandbox_env(make_env, sandbox, credentials=credentials, environ=os.environ)
    with_key = await keyed.executor.execute(flights, airport, {"iata_code": "JFK"})

    assert without.status == 401 and without.error.startswith("HTTP 401: Missing API key")
    assert with_key.ok, with_key.error
    assert with_key.response["iata"] == "JFK"


async def test_a_query_key_authenticates_and_never_reaches_a_log_record(
    make_env: Callable[..., Env],
    sandbox: SandboxServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    stocks = sandbox_tool("stocks")  # declares apiKey in the api_key query parameter
    monkeypatch.setenv("STOCKS_KEY", SANDBOX_API_KEY)

    env = sandbox_env(
        make_env,
        sandbox,
        credentials={"stocks": Credential(kind="query", name="api_key", value_env="STOCKS_KEY")},
        environ=os.environ,
    )
    quote = await env.executor.execute(stocks, api_named(stocks, "getQuote"), {"symbol": "NWRB"})
    missing = await env.executor.execute(stocks, api_named(stocks, "getQuote"), {"symbol": "NOPE"})

    assert quote.ok, quote.error
    assert quote.response["symbol"] == "NWRB"
    assert missing.status == 404
    assert caplog.records, "the executor logs its calls at debug level"
    assert all(SANDBOX_API_KEY not in record.getMessage() for record in caplog.records)


async def test_the_client_id_header_gives_each_client_its_own_rate_limit(
    make_env: Callable[..., Env],
) -> None:
    server = await start_sandbox(rate_limit_per_minute=1)
    try:
        env = sandbox_env(make_env, server, retries=0)
        geo = sandbox_tool("geo")
        get_city = api_named(geo, "getCity")

        first = await env.executor.execute(geo, get_city, {"city_id": 2988507}, client_id="a")
        second = await env.executor.execute(geo, get_city, {"city_id": 2988507}, client_id="a")
        other = await env.executor.execute(geo, get_city, {"city_id": 2988507}, client_id="b")
    finally:
        await server.close()

    assert first.ok and other.ok
    assert second.status == 429 and second.error.startswith("HTTP 429: Rate limit of 1 requests per minute")


async def test_the_sandbox_is_reachable_through_always_allowed_but_not_otherwise(
    make_env: Callable[..., Env], sandbox: SandboxServer
) -> None:
    geo = sandbox_tool("geo")
    get_city = api_named(geo, "getCity")

    allowed = await sandbox_env(make_env, sandbox).executor.execute(geo, get_city, {"city_id": 2988507})
    not_always = make_env(allowed=[], allow_private=False, rewrites={SPEC_BASE: sandbox.base_url})
    refused = await not_always.executor.execute(geo, get_city, {"city_id": 2988507})

    assert allowed.ok
    assert refused.mode == "rejected"
    assert refused.error == f"host 127.0.0.1:{sandbox.port} is not in env.allowed_hosts"


# --------------------------------------------------------------------------------------------
# Retries, timeouts, caps


async def test_a_429_is_retried_after_the_retry_after_the_server_asked_for(
    make_env: Callable[..., Env], local: Local
) -> None:
    tool = local_tool(local.base_url, get("/rate-limited"))

    observation = await make_env(max_retry_after_s=5).executor.execute(tool, tool.api_list[0], {})

    first, second = local.rec.times["/rate-limited"]
    assert observation.ok and observation.response == {"ok": True}
    assert 0.95 <= second - first < 2.0


async def test_retry_after_is_capped_by_max_retry_after(make_env: Callable[..., Env], local: Local) -> None:
    tool = local_tool(local.base_url, get("/rate-limited", param("after")))

    env = make_env(max_retry_after_s=0.2)

    observation = await env.executor.execute(tool, tool.api_list[0], {"after": "30"})

    first, second = local.rec.times["/rate-limited"]
    assert observation.ok
    assert 0.15 <= second - first < 1.0


async def test_a_500_then_200_is_retried_for_a_get_but_not_for_a_post(
    make_env: Callable[..., Env], local: Local
) -> None:
    env = make_env()
    get_tool = local_tool(local.base_url, get("/flaky"))

    retried = await env.executor.execute(get_tool, get_tool.api_list[0], {})
    local.rec.hits.clear()
    post_tool = local_tool(local.base_url, get("/flaky", method="POST"))
    posted = await env.executor.execute(post_tool, post_tool.api_list[0], {})

    assert retried.ok and retried.response == {"ok": True, "attempt": 2}
    assert posted.error == "HTTP 500: boom"  # a POST may have booked something: not repeated
    assert local.rec.hits["/flaky"] == 1


async def test_retries_stop_after_the_configured_number(make_env: Callable[..., Env], local: Local) -> None:
    tool = local_tool(local.base_url, get("/always-503"))

    observation = await make_env(retries=2).executor.execute(tool, tool.api_list[0], {})

    assert observation.error == "HTTP 503: maintenance"
    assert local.rec.hits["/always-503"] == 3


async def test_a_hang_times_out_on_time(make_env: Callable[..., Env], local: Local) -> None:
    tool = local_tool(local.base_url, get("/hang"))

    started = time.monotonic()
    observation = await make_env(timeout_s=0.5, retries=0).executor.execute(tool, tool.api_list[0], {})
    elapsed = time.monotonic() - started

    assert observation.error == "timed out after 0.5 s"
    assert observation.status is None and observation.mode == "real"
    assert 0.45 <= elapsed < 1.5


async def test_a_timeout_is_retried_at_most_once(make_env: Callable[..., Env], local: Local) -> None:
    tool = local_tool(local.base_url, get("/hang"))

    observation = await make_env(timeout_s=0.3, retries=5).executor.execute(tool, tool.api_list[0], {})

    assert observation.error == "timed out after 0.3 s"
    assert local.rec.hits["/hang"] == 2


async def test_a_50_mb_body_is_cut_at_the_cap_and_the_download_stops(
    make_env: Callable[..., Env], local: Local
) -> None:
    tool = local_tool(local.base_url, get("/big"))
    cap = 256 * 1024

    started = time.monotonic()
    observation = await make_env(max_response_bytes=cap).executor.execute(tool, tool.api_list[0], {})
    elapsed = time.monotonic() - started
    await asyncio.sleep(0.2)  # let the server notice the closed connection

    assert observation.truncated
    assert observation.error == f"response larger than {cap} bytes; cut"
    assert observation.response == "x" * cap  # the prefix, as text
    assert not local.rec.big_finished
    assert local.rec.big_bytes_sent < 20 * 1024 * 1024
    assert elapsed < 2.0


async def test_an_html_page_is_an_error_with_a_short_excerpt(
    make_env: Callable[..., Env], local: Local
) -> None:
    tool = local_tool(local.base_url, get("/html"), get("/gateway"))

    page = await make_env().executor.execute(tool, tool.api_list[0], {})
    not_found = await make_env().executor.execute(tool, tool.api_list[1], {})

    assert page.error == "the API answered with an HTML page, not data (HTTP 200, text/html)"
    assert page.status == 200
    assert page.response.startswith("Welcome to nginx!")
    assert "<" not in page.response and "body{}" not in page.response
    assert not_found.error == "HTTP 404: 502 Bad Gateway"


async def test_a_text_body_is_kept_as_text(make_env: Callable[..., Env], local: Local) -> None:
    tool = local_tool(local.base_url, get("/plain"))

    observation = await make_env().executor.execute(tool, tool.api_list[0], {})

    assert observation.ok and observation.response == "just words"


async def test_connection_refused_is_a_clear_error(make_env: Callable[..., Env]) -> None:
    port = _closed_port()
    tool = local_tool(f"http://127.0.0.1:{port}", get("/x"))

    observation = await make_env(retries=1).executor.execute(tool, tool.api_list[0], {})

    assert observation.error == f"connection refused by 127.0.0.1:{port}"
    assert observation.mode == "real" and observation.status is None


async def test_an_unresolvable_host_is_a_clear_error(make_env: Callable[..., Env]) -> None:
    async def no_such_host(host: str) -> list[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    policy = HostPolicy(["*"], allow_private=False, resolve=no_such_host)
    tool = local_tool("http://api.invalid", get("/x"))

    observation = await make_env(policy=policy).executor.execute(tool, tool.api_list[0], {})

    assert observation.error == "could not resolve host api.invalid (Name or service not known)"


async def test_an_invalid_url_is_a_clear_error(make_env: Callable[..., Env]) -> None:
    tool = local_tool("", get("/x"))

    observation = await make_env().executor.execute(tool, tool.api_list[0], {})

    assert observation.error == "API 'x' has no absolute URL and its tool no base URL"


# --------------------------------------------------------------------------------------------
# The host policy in front of the network


async def test_a_host_off_the_allow_list_never_gets_a_request(
    make_env: Callable[..., Env], local: Local
) -> None:
    tool = local_tool(local.base_url, get("/echo/x"))
    echo = tool.api_list[0]

    off_list = await make_env(allowed=["api.example.com"]).executor.execute(tool, echo, {})
    private = await make_env(allowed=["127.0.0.1:*"], allow_private=False).executor.execute(tool, echo, {})
    always = make_env(allowed=[], allow_private=False, always=[f"127.0.0.1:{local.port}"])
    exact = await always.executor.execute(tool, echo, {})

    assert off_list.error == f"host 127.0.0.1:{local.port} is not in env.allowed_hosts"
    assert off_list.mode == "rejected"
    assert private.error == (
        "refused: 127.0.0.1 is a loopback address; set env.allow_private_networks to allow"
    )
    assert exact.ok
    assert local.rec.hits["/echo/x"] == 1  # only the always-allowed call arrived


@pytest.mark.parametrize(
    ("base_url", "reason"),
    [
        ("http://169.254.169.254", "169.254.169.254 is a link-local address (cloud metadata)"),
        ("http://10.0.0.1:8080", "10.0.0.1 is a private address"),
        ("http://[::1]:9", "::1 is a loopback address"),
        ("http://localhost:9", "localhost resolves to 127.0.0.1, a loopback address"),
    ],
)
async def test_private_addresses_are_refused_before_connecting(
    make_env: Callable[..., Env], base_url: str, reason: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def no_connections(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the policy must refuse before any connection")

    env = make_env(allowed=["*"], allow_private=False)
    monkeypatch.setattr(env.session, "_request", no_connections)
    tool = local_tool(base_url, get("/latest/meta-data"))

    observation = await env.executor.execute(tool, tool.api_list[0], {})

    assert observation.mode == "rejected"
    assert observation.error.startswith(f"refused: {reason}")
    assert observation.error.endswith("set env.allow_private_networks to allow")


async def test_a_name_that_rebinds_to_loopback_is_refused_at_connect_time(
    make_env: Callable[..., Env], local: Local
) -> None:
    answers = iter([["93.184.216.34"], ["127.0.0.1"]])

    async def rebinding(host: str) -> list[str]:
        return next(answers)

    policy = HostPolicy(["*"], allow_private=False, resolve=rebinding, cache_ttl_s=0)
    tool = local_tool(f"http://rebind.test:{local.port}", get("/echo/x"))

    observation = await make_env(policy=policy).executor.execute(tool, tool.api_list[0], {})

    assert observation.mode == "rejected"
    assert observation.error.startswith("refused: rebind.test resolves to 127.0.0.1, a loopback address")
    assert local.rec.hits["/echo/x"] == 0


async def test_a_redirect_to_the_metadata_service_is_not_followed(
    make_env: Callable[..., Env], local: Local
) -> None:
    tool = local_tool(local.base_url, get("/redirect", param("to")))
    env = make_env(allowed=["*"], allow_private=False, always=[f"127.0.0.1:{local.port}"])

    refused = await env.executor.execute(tool, tool.api_list[0], {"to": "http://169.254.169.254/latest"})
    followed = await env.executor.execute(tool, tool.api_list[0], {"to": "/echo/here"})

    assert refused.mode == "real"  # the first hop was a real call
    assert refused.error.startswith(
        "HTTP 302: not following the redirect: refused: 169.254.169.254 is a link-local"
    )
    assert followed.ok and followed.response["raw_path"] == "/echo/here"


async def test_per_host_concurrency_is_respected(make_env: Callable[..., Env], local: Local) -> None:
    tool = local_tool(local.base_url, get("/slow"))
    env = make_env(per_host_concurrency=2, concurrency=10)

    observations = await asyncio.gather(*(env.executor.execute(tool, tool.api_list[0], {}) for _ in range(8)))

    assert all(o.ok for o in observations)
    assert local.rec.max_in_flight == 2


async def test_global_concurrency_is_respected(make_env: Callable[..., Env], local: Local) -> None:
    tool = local_tool(local.base_url, get("/slow"))
    env = make_env(per_host_concurrency=10, concurrency=3)

    await asyncio.gather(*(env.executor.execute(tool, tool.api_list[0], {}) for _ in range(9)))

    assert local.rec.max_in_flight == 3


# --------------------------------------------------------------------------------------------
# Building the request


async def test_arguments_go_where_their_parameters_live(make_env: Callable[..., Env], local: Local) -> None:
    api = get(
        "/echo/items/{item_id}/:section",
        param("item_id", "path", required=True),
        param("section", "path", required=True),
        param("tags", "query", "array"),
        param("verbose", "query", "boolean"),
        param("X-Trace", "header"),
        param("session", "cookie"),
        param("title", "body"),
        param("count", "body", "integer"),
        method="POST",
        body_content_type="application/json",
    )
    tool = local_tool(local.base_url, api)

    observation = await make_env().executor.execute(
        tool,
        api,
        {
            "item_id": "a b/c",
            "section": "reviews",
            "tags": ["x", "y"],
            "verbose": True,
            "X-Trace": "t-1",
            "session": "s1",
            "title": "Hello",
            "count": 3,
        },
        client_id="worker-7",
    )

    seen = observation.response
    assert seen["raw_path"] == "/echo/items/a%20b%2Fc/reviews?tags=x&tags=y&verbose=true"
    assert seen["query"] == [["tags", "x"], ["tags", "y"], ["verbose", "true"]]
    assert seen["headers"]["X-Trace"] == "t-1"
    assert seen["headers"]["Cookie"] == "session=s1"
    assert seen["headers"][CLIENT_HEADER] == "worker-7"
    assert seen["headers"]["Content-Type"] == "application/json"
    assert seen["body"] == '{"title":"Hello","count":3}'


async def test_form_bodies_and_whole_bodies(make_env: Callable[..., Env], local: Local) -> None:
    form = get(
        "/echo/form",
        param("name", "formData"),
        param("tags", "formData", "array"),
        method="POST",
        body_content_type="application/x-www-form-urlencoded",
    )
    whole = get(
        "/echo/whole", param("body", "body", "array"), method="PUT", body_content_type="application/json"
    )
    tool = local_tool(local.base_url, form, whole)
    env = make_env()

    form_seen = (await env.executor.execute(tool, form, {"name": "Maya P", "tags": ["a", "b"]})).response
    whole_seen = (await env.executor.execute(tool, whole, {"body": [1, 2]})).response

    assert form_seen["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    assert form_seen["body"] == "name=Maya+P&tags=a&tags=b"
    assert whole_seen["method"] == "PUT" and whole_seen["body"] == "[1,2]"


async def test_multipart_forms_are_sent_as_multipart(make_env: Callable[..., Env], local: Local) -> None:
    upload = get(
        "/echo/upload",
        param("title", "formData"),
        param("count", "formData", "integer"),
        method="POST",
        body_content_type="multipart/form-data",
    )
    tool = local_tool(local.base_url, upload)

    seen = (await make_env().executor.execute(tool, upload, {"title": "Menu", "count": 2})).response

    assert seen["headers"]["Content-Type"].startswith("multipart/form-data; boundary=")
    assert 'name="title"' in seen["body"] and "Menu" in seen["body"]
    assert 'name="count"' in seen["body"]


def test_build_request_rewrites_the_spec_base_and_reports_missing_path_arguments() -> None:
    geo = sandbox_tool("geo")
    get_city = api_named(geo, "getCity")

    rewrites = {SPEC_BASE: "http://127.0.0.1:5"}

    request = build_request(geo, get_city, {"city_id": 2988507}, url_rewrites=rewrites)

    assert request.full_url() == "http://127.0.0.1:5/geo/cities/2988507"
    with pytest.raises(ValueError, match="missing path argument 'city_id'"):
        build_request(geo, get_city, {})


async def test_a_secret_echoed_by_the_api_is_scrubbed_from_the_observation(
    make_env: Callable[..., Env], local: Local, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "sk-live-0123456789abcdef"
    tool = local_tool(
        local.base_url,
        get("/leaky"),
        auth=[Auth(name="key", kind="apiKey", location="query", parameter="api_key")],
    )
    env = make_env(credentials={"local": Credential(value_env="LEAKY_KEY")}, environ={"LEAKY_KEY": secret})

    observation: Observation = await env.executor.execute(tool, tool.api_list[0], {})

    assert observation.status == 403
    assert observation.error == "HTTP 403: key *** has no quota left"
    assert secret not in observation.model_dump_json()
    assert all(secret not in record.getMessage() for record in caplog.records)


async def test_retry_logs_do_not_contain_the_query_secret(
    make_env: Callable[..., Env], local: Local, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "qs-9f8e7d6c5b4a"
    tool = local_tool(
        local.base_url,
        get("/always-503"),
        auth=[Auth(name="key", kind="apiKey", location="query", parameter="token")],
    )
    env = make_env(credentials={"local": Credential(value=secret)}, retries=1)

    await env.executor.execute(tool, tool.api_list[0], {})

    retry_lines = [r.getMessage() for r in caplog.records if "retry" in r.getMessage()]
    assert retry_lines and "token=***" in retry_lines[0]
    assert all(secret not in record.getMessage() for record in caplog.records)


def test_rewrites_match_whole_segments_and_the_longest_prefix() -> None:
    rewrites = {SPEC_BASE: "http://127.0.0.1:40001", f"{SPEC_BASE}/geo": "http://geo.test"}

    assert rewrite_url(f"{SPEC_BASE}/weather/current", rewrites) == "http://127.0.0.1:40001/weather/current"
    assert rewrite_url("http://127.0.0.1:8750/geo/cities", rewrites) == "http://geo.test/cities"
    assert rewrite_url("http://127.0.0.1:87501/x", rewrites) == "http://127.0.0.1:87501/x"


def test_path_values_cannot_climb_or_inject() -> None:
    api = get("/files/{name}", param("name", "path", required=True), param("X-Note", "header"))
    tool = local_tool("https://api.example.com/v1", api)

    climbing = build_request(tool, api, {"name": ".."})
    with pytest.raises(RequestError, match="header argument 'X-Note' contains a line break"):
        build_request(tool, api, {"name": "a", "X-Note": "ok\r\nX-Admin: 1"})

    assert climbing.full_url() == "https://api.example.com/v1/files/%2E%2E"


def test_colon_style_path_parameters_and_custom_verbs() -> None:
    user_id = param("user_id", "path", required=True, schema_type="integer")
    api = get("/users/:user_id/models/gemini:generate", user_id)
    tool = local_tool("https://api.example.com", api)

    request = build_request(tool, api, {"user_id": 42})

    assert request.full_url() == "https://api.example.com/users/42/models/gemini:generate"


def test_undeclared_arguments_go_to_the_query_or_the_json_body() -> None:
    search = get("/search", param("q"))
    create = get("/items", param("name", "body"), method="POST", body_content_type="application/json")
    tool = local_tool("https://api.example.com", search, create)

    in_query = build_request(tool, search, {"q": "rice", "limit": 5, "exact": False})
    in_body = build_request(tool, create, {"name": "rice", "colour": "white"})

    assert in_query.full_url() == "https://api.example.com/search?q=rice&limit=5&exact=false"
    assert in_body.body == b'{"name":"rice","colour":"white"}'
