"""The environment as the pipeline uses it: one place where every tool call runs.

Over the collected sandbox catalog (the sandbox is started by ``open_environment``) and over
small OpenAPI specs that point at local servers which misbehave on purpose (hang, answer HTML,
stream 2 GB, refuse connections). Every server listens on 127.0.0.1 and is started here.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import textwrap
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestServer
from jsonschema import Draft202012Validator

import pipeline.env.environment as environment_module
import pipeline.env.sandbox as sandbox_package
from pipeline.env.environment import Environment, open_environment
from pipeline.env.probe import documented_arguments
from pipeline.env.sandbox import SandboxServer, create_app
from pipeline.models import Api, SourceRef, Tool
from pipeline.settings import Settings, load_settings
from pipeline.specs.catalog import iter_tools
from pipeline.specs.collect import collect_catalog

REPO = Path(__file__).resolve().parents[2]
SANDBOX_SPECS = REPO / "api_specs" / "sandbox"
FORMATS = Draft202012Validator.FORMAT_CHECKER
GEO, HOTELS = "city_atlas_geo", "stay_finder_hotels"
PARIS = 2988507
STAY = {"check_in": "2025-07-10", "check_out": "2025-07-12", "guests": 2}
GUEST = {"guest_name": "Maya Patel", "guest_email": "maya.patel@example.com"}


# --------------------------------------------------------------------------------------------
# Helpers


def settings_for(run_dir: Path, **env: Any) -> Settings:
    return load_settings(run_dir=run_dir, collect={"workers": 0}, env=env)


async def collect_tools(sources: list[Path], run_dir: Path) -> list[Tool]:
    """The tools a run's collect stage writes for ``sources``."""
    await collect_catalog([str(s) for s in sources], settings_for(run_dir), run_dir=run_dir)
    return list(iter_tools(run_dir))


@pytest.fixture(scope="module")
def sandbox_tools(tmp_path_factory: pytest.TempPathFactory) -> list[Tool]:
    """The bundled sandbox specs, collected the way a run collects them (once per module)."""
    run_dir = tmp_path_factory.mktemp("environment") / "catalog-run"
    tools = asyncio.run(collect_tools([SANDBOX_SPECS], run_dir))
    assert sum(len(tool.api_list) for tool in tools) == 84
    return tools


@dataclass
class CountedSandbox:
    """A sandbox started by the test, recording every request it answers."""

    url: str
    requests: list[str] = field(default_factory=list)


@pytest_asyncio.fixture
async def counted_sandbox() -> AsyncIterator[CountedSandbox]:
    app = create_app(rate_limit_per_minute=None)
    sandbox = CountedSandbox("")

    async def record(request: web.Request, response: web.StreamResponse) -> None:
        sandbox.requests.append(f"{request.method} {request.path}")

    app.on_response_prepare.append(record)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    sandbox.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield sandbox
    finally:
        await runner.cleanup()


@pytest.fixture
def started_sandboxes(monkeypatch: pytest.MonkeyPatch) -> list[SandboxServer]:
    """Every sandbox ``open_environment`` starts, in order."""
    started: list[SandboxServer] = []
    start = sandbox_package.start_sandbox

    async def recorded_start(*args: Any, **kwargs: Any) -> SandboxServer:
        started.append(await start(*args, **kwargs))
        return started[-1]

    monkeypatch.setattr(sandbox_package, "start_sandbox", recorded_start)
    return started


def _accepts_connections(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _api_at(tool: Tool, path: str) -> Api:
    return next(api for api in tool.api_list if api.path == path)


# --------------------------------------------------------------------------------------------
# Over the sandbox catalog


async def test_the_sandbox_is_started_for_its_tools_every_one_is_real_and_it_stops_after(
    sandbox_tools: list[Tool], tmp_path: Path, started_sandboxes: list[SandboxServer]
) -> None:
    async with open_environment(sandbox_tools, settings_for(tmp_path), run_dir=tmp_path) as env:
        paris = await env.call(GEO, "get_city", {"city_id": PARIS})
        stats = env.stats()
        [sandbox] = started_sandboxes
        listening = _accepts_connections(sandbox.port)

    assert sandbox.port != 8750  # a free port; the specs' URL is rewritten to it
    assert listening and not _accepts_connections(sandbox.port)
    assert set(env.modes.values()) == {"real"} and len(env.modes) == 15
    assert stats["modes"] == {"real": 15}
    assert paris.ok, paris.error
    assert (paris.mode, paris.status, paris.cached) == ("real", 200, False)
    assert paris.response["name"] == "Paris" and paris.response["country_code"] == "FR"


async def test_a_chain_of_calls_feeds_each_answer_into_the_next(
    sandbox_tools: list[Tool], tmp_path: Path
) -> None:
    async with open_environment(sandbox_tools, settings_for(tmp_path), run_dir=tmp_path) as env:
        cities = await env.call(GEO, "search_cities", {"q": "Paris", "country_code": "FR"})
        city_id = cities.response["results"][0]["id"]
        hotels = await env.call(HOTELS, "search_hotels", {"city_id": city_id, "sort": "price"})
        hotel_id = hotels.response["results"][0]["id"]
        offers = await env.call(HOTELS, "get_room_offers", {"hotel_id": hotel_id, **STAY})
        room = next(offer for offer in offers.response["offers"] if offer["available"])
        booked = await env.call(
            HOTELS,
            "create_reservation",
            {"hotel_id": hotel_id, "room_type": room["room_type"], **STAY, **GUEST},
        )
        # arguments may come as the JSON text a model writes
        fetched = await env.call(
            HOTELS, "get_reservation", f'{{"reservation_id": "{booked.response["reservation_id"]}"}}'
        )

    assert all(o.ok for o in (cities, hotels, offers, booked, fetched))
    assert city_id == PARIS
    assert booked.status == 201
    assert booked.response["hotel"]["id"] == hotel_id and booked.response["hotel"]["city_id"] == PARIS
    assert booked.response["total_price"] == room["total_price"]
    assert fetched.response["reservation_id"] == booked.response["reservation_id"]
    assert fetched.response["guest_name"] == "Maya Patel"


async def test_a_repeated_get_is_replayed_from_the_cache_but_a_post_is_sent_every_time(
    sandbox_tools: list[Tool], tmp_path: Path, counted_sandbox: CountedSandbox
) -> None:
    booking = {"hotel_id": f"htl-{PARIS}-01", "room_type": "standard", **STAY, **GUEST}
    async with open_environment(
        sandbox_tools, settings_for(tmp_path), run_dir=tmp_path, sandbox_url=counted_sandbox.url
    ) as env:
        first = await env.call(GEO, "get_city", {"city_id": PARIS})
        again = await env.call(GEO, "get_city", {"city_id": str(PARIS)})  # coerced: the same call
        bookings = [await env.call(HOTELS, "create_reservation", booking) for _ in range(2)]
        stats = env.stats()

    assert (first.cached, again.cached) == (False, True)
    assert again.response == first.response and again.status == 200
    assert [b.cached for b in bookings] == [False, False]
    assert bookings[0].response["reservation_id"] != bookings[1].response["reservation_id"]
    assert counted_sandbox.requests == [
        f"GET /geo/cities/{PARIS}",
        "POST /hotels/reservations",
        "POST /hotels/reservations",
    ]
    assert stats["cache_hits"] == 1 and stats["real"] == 3
    assert stats["cache"] == {"hits": 1, "misses": 1, "writes": 1}


async def test_unknown_tools_and_apis_get_error_observations_naming_what_exists(
    sandbox_tools: list[Tool], tmp_path: Path, counted_sandbox: CountedSandbox
) -> None:
    async with open_environment(
        sandbox_tools, settings_for(tmp_path), run_dir=tmp_path, sandbox_url=counted_sandbox.url
    ) as env:
        no_tool = await env.call("city_atlas", "get_city", {"city_id": PARIS})
        no_api = await env.call(GEO, "get_town", {"city_id": PARIS})
        stats = env.stats()

    assert no_tool.error.startswith("unknown tool 'city_atlas' (known: ")
    assert GEO in no_tool.error and HOTELS in no_tool.error
    assert no_api.error == (
        f"tool '{GEO}' has no API 'get_town' "
        "(available: get_city, get_country, get_distance, reverse_geocode, search_cities)"
    )
    assert {no_tool.mode, no_api.mode} == {"rejected"}
    assert stats["rejected"] == 2 and counted_sandbox.requests == []


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({}, "missing required argument 'city_id'"),
        ({"city_id": "Paris"}, "argument 'city_id' must be integer, got 'Paris'"),
        ({"city_id": PARIS, "country": "FR"}, "unexpected argument 'country' (accepted: city_id)"),
        ("city_id=2988507", "arguments must be a JSON object, got a string that is not JSON"),
    ],
    ids=["missing-required", "wrong-type", "unexpected", "not-json"],
)
async def test_bad_arguments_get_a_400_observation_and_make_no_request(
    sandbox_tools: list[Tool],
    tmp_path: Path,
    counted_sandbox: CountedSandbox,
    arguments: Any,
    message: str,
) -> None:
    async with open_environment(
        sandbox_tools, settings_for(tmp_path), run_dir=tmp_path, sandbox_url=counted_sandbox.url
    ) as env:
        observation = await env.call(GEO, "get_city", arguments)
        stats = env.stats()

    assert message in observation.error
    assert (observation.status, observation.mode, observation.response) == (400, "rejected", None)
    assert counted_sandbox.requests == []
    assert stats["rejected"] == 1 and "real" not in stats and "cache_misses" not in stats


async def test_without_the_sandbox_its_private_host_is_refused_and_answers_are_simulated_to_schema(
    sandbox_tools: list[Tool], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="pipeline.env.environment")
    settings = settings_for(tmp_path, sandbox={"enabled": False}, allowed_hosts=["*"])
    checked = 0
    async with open_environment(sandbox_tools, settings, run_dir=tmp_path) as env:
        for tool in sandbox_tools:
            for api in tool.api_list:
                arguments = documented_arguments(api)
                assert isinstance(arguments, dict), arguments
                observation = await env.call(tool.id, api.id, arguments)
                assert observation.ok, (tool.id, api.id, observation.error)
                assert observation.mode == "simulated" and observation.status is None
                assert api.response_schema is not None
                validator = Draft202012Validator(api.response_schema, format_checker=FORMATS)
                errors = [e.message for e in validator.iter_errors(observation.response)]
                assert not errors, (tool.id, api.id, errors[:3])
                checked += 1

    assert set(env.modes.values()) == {"simulated"}
    assert checked == 84
    assert "refused: 127.0.0.1 is a loopback address" in caplog.text


async def test_mode_simulated_and_per_tool_modes_are_honoured(
    sandbox_tools: list[Tool], tmp_path: Path, started_sandboxes: list[SandboxServer]
) -> None:
    async with open_environment(
        sandbox_tools, settings_for(tmp_path / "a", mode="simulated"), run_dir=tmp_path / "a"
    ) as env:
        all_simulated = dict(env.modes)
        simulated = await env.call(GEO, "get_city", {"city_id": PARIS})
    only_geo_real = settings_for(tmp_path / "b", mode="simulated", tool_modes={GEO: "real"})
    async with open_environment(sandbox_tools, only_geo_real, run_dir=tmp_path / "b") as env:
        geo_real = dict(env.modes)
        real = await env.call(GEO, "get_city", {"city_id": PARIS})
    hotels_simulated = settings_for(tmp_path / "c", tool_modes={HOTELS: "simulated"})
    async with open_environment(sandbox_tools, hotels_simulated, run_dir=tmp_path / "c") as env:
        auto = dict(env.modes)
        hotels = await env.call(HOTELS, "search_hotels", {"city_id": PARIS})

    assert set(all_simulated.values()) == {"simulated"} and simulated.mode == "simulated"
    assert len(started_sandboxes) == 2  # not for the session where every tool is simulated
    assert geo_real.pop(GEO) == "real" and set(geo_real.values()) == {"simulated"}
    assert real.mode == "real" and real.response["country_code"] == "FR"  # the sandbox was started
    assert auto.pop(HOTELS) == "simulated" and set(auto.values()) == {"real"}
    assert hotels.ok and hotels.mode == "simulated"


async def test_the_cache_outlives_the_session_on_the_same_run_folder(
    sandbox_tools: list[Tool], tmp_path: Path, counted_sandbox: CountedSandbox
) -> None:
    settings = settings_for(tmp_path)
    answers = []
    for _ in range(2):
        async with open_environment(
            sandbox_tools, settings, run_dir=tmp_path, sandbox_url=counted_sandbox.url
        ) as env:
            answers.append(await env.call(GEO, "search_cities", {"q": "Paris"}))

    assert [a.cached for a in answers] == [False, True]
    assert answers[1].response == answers[0].response
    assert counted_sandbox.requests == ["GET /geo/cities"]
    assert (tmp_path / "env" / "responses.sqlite").is_file()


async def test_error_answers_are_not_cached(
    sandbox_tools: list[Tool], tmp_path: Path, counted_sandbox: CountedSandbox
) -> None:
    async with open_environment(
        sandbox_tools, settings_for(tmp_path), run_dir=tmp_path, sandbox_url=counted_sandbox.url
    ) as env:
        answers = [await env.call(GEO, "get_city", {"city_id": 1}) for _ in range(2)]
        stats = env.stats()

    assert [(a.status, a.cached) for a in answers] == [(404, False), (404, False)]
    assert answers[1].error == "HTTP 404: No city with id 1."
    assert counted_sandbox.requests == ["GET /geo/cities/1"] * 2
    assert stats["errors"] == 2 and stats["cache"]["writes"] == 0


async def test_a_simulated_answer_is_not_replayed_once_the_tool_is_real(
    sandbox_tools: list[Tool], tmp_path: Path
) -> None:
    offline = settings_for(tmp_path, sandbox={"enabled": False})
    async with open_environment(sandbox_tools, offline, run_dir=tmp_path) as env:
        simulated = await env.call(GEO, "get_city", {"city_id": PARIS})
    online = settings_for(tmp_path)
    async with open_environment(sandbox_tools, online, run_dir=tmp_path) as env:
        real = await env.call(GEO, "get_city", {"city_id": PARIS})
        replayed = await env.call(GEO, "get_city", {"city_id": PARIS})

    assert simulated.mode == "simulated"
    assert (real.mode, real.cached) == ("real", False)
    assert real.response["lat"] == pytest.approx(48.8566)
    assert (replayed.mode, replayed.cached) == ("real", True)  # the real answer replaced it


async def test_the_observation_shown_to_the_model_is_cut_to_the_configured_length(
    sandbox_tools: list[Tool], tmp_path: Path
) -> None:
    settings = settings_for(tmp_path, observation_max_chars=200)
    async with open_environment(sandbox_tools, settings, run_dir=tmp_path) as env:
        observation = await env.call(GEO, "search_cities", {"limit": 10})

    shown = observation.for_model(settings.env.observation_max_chars)
    assert len(observation.for_model(100_000)) > 200
    assert len(shown) <= 200
    cut = json.loads(shown)["response"]["results"]  # still JSON: cut structurally
    assert cut[-1].endswith("more items)") and len(cut) > 1
    for kept, whole in zip(cut[:-1], observation.response["results"], strict=False):  # the first ones, in order
        assert {key: value for key, value in kept.items() if key != "..."}.items() <= whole.items()
    assert len(observation.response["results"]) == 10  # the trajectory keeps the whole answer


async def test_reachability_is_checked_concurrently_once_per_host(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checks: list[tuple[str, int]] = []
    in_flight = [0, 0]  # now, most

    async def slow_silent_host(host: str, port: int, timeout_s: float) -> bool:
        checks.append((host, port))
        in_flight[0] += 1
        in_flight[1] = max(in_flight)
        await asyncio.sleep(0.2)
        in_flight[0] -= 1
        return False

    monkeypatch.setattr(environment_module, "_answers", slow_silent_host)
    source = SourceRef(kind="file", location="tests", format="openapi-3.0")
    tools = [
        Tool(
            id=f"t{i}",
            tool_name=f"T{i}",
            base_url=f"http://10.1.0.{i // 2}:8000/v{i}",
            source=source,
            api_list=[Api(name="ping", id="ping", url="/ping")],
        )
        for i in range(40)
    ]
    settings = settings_for(tmp_path, allowed_hosts=["*"], allow_private_networks=True)
    started = time.perf_counter()
    async with open_environment(tools, settings, run_dir=tmp_path) as env:
        elapsed = time.perf_counter() - started

    assert set(env.modes.values()) == {"simulated"}
    assert sorted(checks) == sorted({(f"10.1.0.{i}", 8000) for i in range(20)})  # two tools per host
    assert in_flight[1] == 20
    assert elapsed < 2.0  # one after another: 20 × 0.2 s = 4 s


# --------------------------------------------------------------------------------------------
# Over local servers that misbehave

FLAKY_SPEC = """
openapi: 3.0.3
info: {{title: {title}, version: "1", description: Local test service.}}
servers: [{{url: "{url}"}}]
paths:
  /ok:
    get:
      operationId: getOk
      summary: A call that works
      parameters: [{{name: q, in: query, schema: {{type: string}}, example: hello}}]
      responses: {{"200": {{description: ok, content: {{application/json: {{schema: {{type: object}}}}}}}}}}
  /hang:
    get:
      operationId: getHang
      summary: A call that never answers
      responses: {{"200": {{description: ok, content: {{application/json: {{schema: {{type: object}}}}}}}}}}
  /html:
    get:
      operationId: getHtml
      summary: A call answered by a web page
      responses: {{"200": {{description: ok, content: {{application/json: {{schema: {{type: object}}}}}}}}}}
  /huge:
    get:
      operationId: getHuge
      summary: A call answered with two gigabytes
      responses: {{"200": {{description: ok, content: {{application/json: {{schema: {{type: array}}}}}}}}}}
"""
HUGE_BYTES = 2 * 1024**3


@dataclass
class Misbehaving:
    """What the local server did."""

    hits: dict[str, int] = field(default_factory=dict)
    huge_sent: int = 0
    huge_stopped: asyncio.Event = field(default_factory=asyncio.Event)


def _misbehaving_app(seen: Misbehaving) -> web.Application:
    routes = web.RouteTableDef()

    @web.middleware
    async def count(request: web.Request, handler: Any) -> web.StreamResponse:
        seen.hits[request.path] = seen.hits.get(request.path, 0) + 1
        return await handler(request)

    @routes.get("/ok")
    async def ok(request: web.Request) -> web.Response:
        return web.json_response({"echo": request.query.get("q")})

    @routes.get("/hang")
    async def hang(request: web.Request) -> web.Response:
        await asyncio.sleep(30)
        return web.json_response({"late": True})

    @routes.get("/html")
    async def html(request: web.Request) -> web.Response:
        page = "<!DOCTYPE html><html><head><title>Login required</title></head><body><h1>Sign in</h1></body></html>"
        return web.Response(text=page, content_type="text/html")

    @routes.get("/huge")
    async def huge(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.content_length = HUGE_BYTES
        await response.prepare(request)
        chunk = b"[" + b"1," * (32 * 1024 - 1)
        try:
            while seen.huge_sent < HUGE_BYTES:
                await response.write(chunk)
                seen.huge_sent += len(chunk)
        except (ConnectionError, RuntimeError):
            pass  # the client hung up: what the test wants
        finally:
            seen.huge_stopped.set()
        return response

    app = web.Application(middlewares=[count])
    app.add_routes(routes)
    return app


@dataclass
class LocalApis:
    env: Environment
    seen: Misbehaving
    flaky: Tool
    gone: Tool


@pytest_asyncio.fixture
async def local_apis(tmp_path: Path) -> AsyncIterator[LocalApis]:
    """An environment over two collected specs: a live misbehaving server and a closed port
    (forced real, so calls to it are really attempted)."""
    seen = Misbehaving()
    server = TestServer(_misbehaving_app(seen), host="127.0.0.1")
    await server.start_server(shutdown_timeout=0.2, access_log=None)
    specs = tmp_path / "specs"
    specs.mkdir()
    live = str(server.make_url("")).rstrip("/")
    (specs / "flaky.yaml").write_text(textwrap.dedent(FLAKY_SPEC.format(title="Flaky Service", url=live)))
    closed = f"http://127.0.0.1:{_closed_port()}"
    (specs / "gone.yaml").write_text(textwrap.dedent(FLAKY_SPEC.format(title="Gone Service", url=closed)))
    run_dir = tmp_path / "run"
    tools = {tool.tool_name: tool for tool in await collect_tools([specs], run_dir)}
    flaky, gone = tools["Flaky Service"], tools["Gone Service"]
    settings = settings_for(
        run_dir,
        allowed_hosts=["127.0.0.1:*"],
        allow_private_networks=True,
        timeout_s=0.3,
        retries=1,
        backoff_base_s=0.01,
        max_response_bytes=256 * 1024,
        tool_modes={gone.id: "real"},
    )
    try:
        async with open_environment(tools.values(), settings, run_dir=run_dir) as env:
            assert env.modes == {flaky.id: "real", gone.id: "real"}
            yield LocalApis(env, seen, flaky, gone)
    finally:
        await server.close()


async def _call(apis: LocalApis, tool: Tool, path: str, arguments: dict[str, Any] | None = None) -> Any:
    return await apis.env.call(tool.id, _api_at(tool, path).id, arguments or {})


async def test_a_server_that_hangs_gives_a_timeout_observation_and_the_run_goes_on(
    local_apis: LocalApis,
) -> None:
    started = time.perf_counter()
    hung = await _call(local_apis, local_apis.flaky, "/hang")
    elapsed = time.perf_counter() - started
    after = await _call(local_apis, local_apis.flaky, "/ok", {"q": "still here"})

    assert hung.error == "timed out after 0.3 s" and hung.mode == "real" and not hung.cached
    assert elapsed < 1.5  # at most one retry of a timed-out call
    assert after.ok and after.response == {"echo": "still here"}


async def test_a_server_answering_html_gives_an_error_observation_with_the_page_text(
    local_apis: LocalApis,
) -> None:
    page = await _call(local_apis, local_apis.flaky, "/html")
    again = await _call(local_apis, local_apis.flaky, "/html")

    assert page.error == "the API answered with an HTML page, not data (HTTP 200, text/html)"
    assert page.response == "Login required: Sign in"
    assert not again.cached and local_apis.seen.hits["/html"] == 2  # an error is never replayed


async def test_a_two_gigabyte_answer_is_cut_at_the_byte_cap_and_the_server_stops_early(
    local_apis: LocalApis,
) -> None:
    started = time.perf_counter()
    huge = await _call(local_apis, local_apis.flaky, "/huge")
    elapsed = time.perf_counter() - started
    await asyncio.wait_for(local_apis.seen.huge_stopped.wait(), 5)
    after = await _call(local_apis, local_apis.flaky, "/ok")

    assert huge.error == f"response larger than {256 * 1024} bytes; cut" and huge.truncated
    assert len(huge.response) == 256 * 1024
    assert len(huge.for_model(1024)) < 1100
    assert elapsed < 2.0
    assert local_apis.seen.huge_sent < 64 * 1024**2  # the client hung up long before 2 GB
    assert after.ok


async def test_a_server_that_refuses_connections_gives_a_clear_error_and_the_run_goes_on(
    local_apis: LocalApis,
) -> None:
    refused = await _call(local_apis, local_apis.gone, "/ok")
    port = refused.error.rsplit(":", 1)[-1]
    after = await _call(local_apis, local_apis.flaky, "/ok")
    stats = local_apis.env.stats()

    assert refused.error == f"connection refused by 127.0.0.1:{port}" and refused.mode == "real"
    assert local_apis.gone.base_url.endswith(f":{port}")
    assert after.ok
    assert stats["errors"] == 1 and stats["real"] == 2


async def test_an_allowed_host_that_does_not_answer_is_simulated(
    tmp_path: Path, local_apis: LocalApis
) -> None:
    tools = [local_apis.flaky, local_apis.gone]
    settings = settings_for(tmp_path, allowed_hosts=["127.0.0.1:*"], allow_private_networks=True)
    async with open_environment(tools, settings, run_dir=tmp_path) as env:
        gone = await env.call(local_apis.gone.id, _api_at(local_apis.gone, "/ok").id, {"q": "x"})

    assert env.modes == {local_apis.flaky.id: "real", local_apis.gone.id: "simulated"}
    assert gone.ok and gone.mode == "simulated" and isinstance(gone.response, dict)
