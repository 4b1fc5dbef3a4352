"""The sandbox fails like a real API: 400s that name the argument, 404s for unknown ids,
401 without the key, 429 with Retry-After past the quota, JSON errors for unknown routes,
and injected latency."""

from __future__ import annotations

import time
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from pipeline.env.sandbox import SANDBOX_API_KEY, load_tool_specs, start_sandbox
from pipeline.env.sandbox.ratelimit import RateLimiter
from pipeline.env.sandbox.schemas import SchemaSet

SPECS = {spec.slug: spec for spec in load_tool_specs()}


async def _get(session: aiohttp.ClientSession, url: str, **kwargs: Any) -> tuple[int, Any, Any]:
    async with session.get(url, **kwargs) as response:
        return response.status, await response.json(), response.headers


def _assert_error_body(slug: str, body: Any) -> None:
    validator = SchemaSet(SPECS[slug].document).validator({"$ref": "#/components/schemas/Error"})
    assert not list(validator.iter_errors(body)), body


@pytest_asyncio.fixture
async def sandbox():
    server = await start_sandbox(specs=list(SPECS.values()), rate_limit_per_minute=None)
    async with server, aiohttp.ClientSession() as session:
        yield server, session


@pytest.mark.asyncio
async def test_missing_required_parameter_is_a_400_naming_it(sandbox) -> None:
    server, session = sandbox
    status, body, _ = await _get(session, server.tool_url("geo") + "/reverse", params={"lat": "48.8"})
    assert status == 400
    assert body["error"] == "missing_parameter" and body["param"] == "lon"
    assert "'lon'" in body["message"]
    _assert_error_body("geo", body)


@pytest.mark.asyncio
async def test_wrong_type_is_a_400_naming_the_parameter_and_the_expected_type(sandbox) -> None:
    server, session = sandbox
    status, body, _ = await _get(session, server.tool_url("hotels") + "/hotels", params={"city_id": "paris"})
    assert status == 400
    assert body["param"] == "city_id" and "integer" in body["message"]
    status, body, _ = await _get(
        session, server.tool_url("weather") + "/current", params={"lat": "north", "lon": "2"}
    )
    assert status == 400 and body["param"] == "lat" and "number" in body["message"]


@pytest.mark.asyncio
async def test_out_of_range_and_bad_enum_values_are_400s_listing_what_is_allowed(sandbox) -> None:
    server, session = sandbox
    status, body, _ = await _get(
        session,
        server.tool_url("weather") + "/current",
        params={"lat": "48.8", "lon": "2.3", "units": "kelvin"},
    )
    assert status == 400 and body["param"] == "units"
    assert "metric" in body["message"] and "imperial" in body["message"]
    status, body, _ = await _get(
        session, server.tool_url("weather") + "/forecast", params={"lat": "48.8", "lon": "2.3", "days": "30"}
    )
    assert status == 400 and body["param"] == "days" and "maximum" in body["message"]
    status, body, _ = await _get(
        session, server.tool_url("currency") + "/convert", params={"from": "USD", "to": "XYZ", "amount": "5"}
    )
    assert status == 400 and body["param"] == "to"


@pytest.mark.asyncio
async def test_unknown_query_parameters_are_rejected_with_the_accepted_ones(sandbox) -> None:
    server, session = sandbox
    status, body, _ = await _get(session, server.tool_url("geo") + "/cities", params={"city": "Paris"})
    assert status == 400 and body["param"] == "city"
    assert "q" in body["message"] and "country_code" in body["message"]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("slug", "path"),
    [
        ("geo", "/cities/1"),
        ("hotels", "/hotels/htl-1-01"),
        ("movies", "/movies/99999"),
        ("cinemas", "/bookings/CB-999999"),
        ("shop", "/orders/ORD-999999"),
        ("sports", "/fixtures/99999"),
        ("calendar", "/events/evt-9999"),
    ],
)
async def test_unknown_ids_are_404s_with_the_error_schema(sandbox, slug: str, path: str) -> None:
    server, session = sandbox
    status, body, _ = await _get(session, server.tool_url(slug) + path)
    assert status == 404 and body["error"] == "not_found"
    _assert_error_body(slug, body)


@pytest.mark.asyncio
async def test_invalid_request_bodies_are_400s_naming_the_field(sandbox) -> None:
    server, session = sandbox
    url = server.tool_url("hotels") + "/reservations"
    payload = {
        "hotel_id": "htl-2988507-01",
        "room_type": "standard",
        "check_in": "2025-07-10",
        "check_out": "2025-07-13",
        "guests": 2,
        "guest_name": "Maya Patel",
    }
    async with session.post(url, json=payload) as response:
        body = await response.json()
        assert response.status == 400 and body["param"] == "guest_email" and "guest_email" in body["message"]
    async with session.post(
        url, json={**payload, "guest_email": "maya@example.com", "guests": "two"}
    ) as response:
        body = await response.json()
        assert response.status == 400 and body["param"] == "guests"
    async with session.post(url, data=b"{not json", headers={"Content-Type": "application/json"}) as response:
        assert response.status == 400 and (await response.json())["error"] == "invalid_body"
    async with session.post(url) as response:
        assert response.status == 400 and "required" in (await response.json())["message"]


@pytest.mark.asyncio
async def test_domain_rules_are_checked_with_clear_messages(sandbox) -> None:
    server, session = sandbox
    status, body, _ = await _get(
        session,
        server.tool_url("hotels") + "/hotels/htl-2988507-01/rooms",
        params={"check_in": "2025-07-13", "check_out": "2025-07-10"},
    )
    assert status == 400 and body["param"] == "check_out"
    status, body, _ = await _get(
        session,
        server.tool_url("cinemas") + "/showtimes",
        params={"city_id": "2988507", "date": "2025-09-01"},
    )
    assert status == 400 and body["param"] == "date" and "2025-06-14" in body["message"]


@pytest.mark.asyncio
async def test_unknown_routes_and_methods_answer_json_errors(sandbox) -> None:
    server, session = sandbox
    status, body, _ = await _get(session, server.tool_url("geo") + "/nowhere")
    assert status == 404 and body["error"] == "not_found"
    async with session.delete(server.tool_url("geo") + "/cities") as response:
        assert response.status == 405 and (await response.json())["error"] == "method_not_allowed"


@pytest.mark.asyncio
async def test_api_key_is_required_where_the_spec_declares_it(sandbox) -> None:
    server, session = sandbox
    flights = server.tool_url("flights") + "/airports/JFK"
    status, body, _ = await _get(session, flights)
    assert status == 401 and body["error"] == "unauthorized" and "X-Api-Key" in body["message"]
    status, body, _ = await _get(session, flights, headers={"X-Api-Key": "wrong"})
    assert status == 401 and body["message"].startswith("Invalid API key")
    status, _, _ = await _get(session, flights, headers={"X-Api-Key": SANDBOX_API_KEY})
    assert status == 200

    quote = server.tool_url("stocks") + "/quote/NWRB"
    status, body, _ = await _get(session, quote)
    assert status == 401 and "api_key" in body["message"]
    status, _, _ = await _get(session, quote, params={"api_key": SANDBOX_API_KEY})
    assert status == 200


@pytest.mark.asyncio
async def test_rate_limit_answers_429_with_retry_after_per_client() -> None:
    server = await start_sandbox(specs=[SPECS["geo"]], rate_limit_per_minute=3)
    async with server, aiohttp.ClientSession() as session:
        url = server.tool_url("geo") + "/cities/2988507"
        statuses = [(await _get(session, url, headers={"X-Client-Id": "agent-1"}))[0] for _ in range(3)]
        status, body, headers = await _get(session, url, headers={"X-Client-Id": "agent-1"})
        other, _, _ = await _get(session, url, headers={"X-Client-Id": "agent-2"})
    assert statuses == [200, 200, 200]
    assert status == 429 and body["error"] == "rate_limited"
    assert 1 <= int(headers["Retry-After"]) <= 60
    assert headers["X-RateLimit-Remaining"] == "0"
    assert other == 200


def test_rate_limiter_window_slides_rather_than_resetting() -> None:
    now = [0.0]
    limiter = RateLimiter(2, clock=lambda: now[0])
    assert limiter.check("a").allowed
    now[0] = 40.0
    assert limiter.check("a").allowed
    now[0] = 50.0
    refused = limiter.check("a")
    assert not refused.allowed and refused.retry_after == 10  # until the t=0 request leaves
    now[0] = 60.0
    assert limiter.check("a").allowed
    now[0] = 61.0
    assert limiter.check("a").retry_after == 39  # the t=40 request is still inside the window
    assert limiter.check("b").allowed  # quotas are per key


@pytest.mark.asyncio
async def test_injected_latency_delays_each_response() -> None:
    server = await start_sandbox(specs=[SPECS["geo"]], latency_ms=150, rate_limit_per_minute=None)
    async with server, aiohttp.ClientSession() as session:
        started = time.perf_counter()
        status, _, _ = await _get(session, server.tool_url("geo") + "/cities/2988507")
        elapsed = time.perf_counter() - started
    assert status == 200
    assert 0.15 <= elapsed < 1.0
