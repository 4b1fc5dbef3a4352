"""Multi-step tasks across tools work the way an agent would chain them: the output of one
call is the input of the next (city ids, coordinates, IATA codes, movie and showtime ids,
ingredients, currencies, fixture venues), and writes are visible to later reads."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from pipeline.env.sandbox import SANDBOX_API_KEY, SandboxServer, start_sandbox

FLIGHTS_AUTH = {"X-Api-Key": SANDBOX_API_KEY}


class Client:
    """Just enough of an HTTP client to keep the chains readable."""

    def __init__(self, server: SandboxServer, session: aiohttp.ClientSession) -> None:
        self.server, self.session = server, session

    async def get(self, slug: str, path: str, expect: int = 200, **kwargs: Any) -> Any:
        return await self.request("GET", slug, path, expect, **kwargs)

    async def post(self, slug: str, path: str, body: Any, expect: int = 201, **kwargs: Any) -> Any:
        return await self.request("POST", slug, path, expect, json=body, **kwargs)

    async def request(self, method: str, slug: str, path: str, expect: int, **kwargs: Any) -> Any:
        async with self.session.request(method, self.server.tool_url(slug) + path, **kwargs) as response:
            body = await response.json()
            assert response.status == expect, (method, path, response.status, body)
            return body


@pytest_asyncio.fixture
async def client():
    server = await start_sandbox(rate_limit_per_minute=None)
    async with server, aiohttp.ClientSession() as session:
        yield Client(server, session)


@pytest.mark.asyncio
async def test_trip_city_to_flight_hotel_weather_and_budget_in_another_currency(client: Client) -> None:
    city = (await client.get("geo", "/cities", params={"q": "lisbon"}))["results"][0]
    details = await client.get("geo", f"/cities/{city['id']}")
    destination = details["airports"][0]["iata"]

    flights = await client.get(
        "flights",
        "/flights",
        headers=FLIGHTS_AUTH,
        params={"origin": "CDG", "destination": destination, "date": "2025-07-14", "passengers": "2"},
    )
    flight = flights["results"][0]
    passengers = [{"first_name": "Maya", "last_name": "Patel"}, {"first_name": "Liam", "last_name": "Patel"}]
    booking = await client.post(
        "flights",
        "/bookings",
        headers=FLIGHTS_AUTH,
        body={
            "flight_id": flight["flight_id"],
            "cabin": "economy",
            "passengers": passengers,
            "contact_email": "maya.patel@example.com",
        },
    )
    assert (await client.get("flights", f"/bookings/{booking['booking_ref']}", headers=FLIGHTS_AUTH))[
        "flight"
    ] == booking["flight"]
    assert booking["total_price"] == flight["total_price"]

    hotel = (await client.get("hotels", "/hotels", params={"city_id": city["id"], "sort": "rating"}))[
        "results"
    ][0]
    offers = await client.get(
        "hotels", f"/hotels/{hotel['id']}/rooms", params={"check_in": "2025-07-14", "check_out": "2025-07-17"}
    )
    offer = next(o for o in offers["offers"] if o["available"])
    reservation = await client.post(
        "hotels",
        "/reservations",
        body={
            "hotel_id": hotel["id"],
            "room_type": offer["room_type"],
            "check_in": "2025-07-14",
            "check_out": "2025-07-17",
            "guests": 2,
            "guest_name": "Maya Patel",
            "guest_email": "maya.patel@example.com",
        },
    )
    assert (
        reservation["total_price"] == offer["total_price"]
        and reservation["currency"] == details["currency_code"] == "EUR"
    )

    forecast = await client.get(
        "weather", "/forecast", params={"lat": city["lat"], "lon": city["lon"], "days": "3"}
    )
    assert forecast["location"]["nearest_city"]["id"] == city["id"] and len(forecast["days"]) == 3

    converted = await client.get(
        "currency",
        "/convert",
        params={"from": reservation["currency"], "to": "USD", "amount": reservation["total_price"]},
    )
    assert converted["result"] == pytest.approx(reservation["total_price"] * converted["rate"], abs=0.01)


@pytest.mark.asyncio
async def test_movie_night_from_now_playing_to_seats_and_cancellation(client: Client) -> None:
    movie = (await client.get("movies", "/now-playing"))["results"][0]
    london = (await client.get("geo", "/cities", params={"q": "London"}))["results"][0]
    showtimes = await client.get(
        "cinemas",
        "/showtimes",
        params={"city_id": london["id"], "date": "2025-06-06", "movie_id": movie["id"]},
    )
    showtime = showtimes["results"][0]
    assert showtime["movie_title"] == movie["title"]

    seat_map = await client.get("cinemas", f"/showtimes/{showtime['showtime_id']}/seats")
    row = next(r for r in seat_map["rows"] if len(r["available"]) >= 2)
    seats = [f"{row['row']}{n}" for n in row["available"][:2]]
    request = {
        "showtime_id": showtime["showtime_id"],
        "seats": seats,
        "customer_name": "Sam Lee",
        "customer_email": "sam.lee@example.com",
    }
    booking = await client.post("cinemas", "/bookings", body=request)
    assert booking["total_price"] == pytest.approx(2 * showtime["price"])

    again = await client.post("cinemas", "/bookings", body=request, expect=409)
    assert seats[0] in again["message"]
    after = await client.get("cinemas", f"/showtimes/{showtime['showtime_id']}/seats")
    assert after["seats_available"] == seat_map["seats_available"] - 2

    await client.request("DELETE", "cinemas", f"/bookings/{booking['booking_id']}", 200)
    await client.request("DELETE", "cinemas", f"/bookings/{booking['booking_id']}", 409)
    assert (await client.get("cinemas", f"/showtimes/{showtime['showtime_id']}/seats"))[
        "seats_available"
    ] == seat_map["seats_available"]


@pytest.mark.asyncio
async def test_recipe_ingredients_become_a_shopping_order(client: Client) -> None:
    recipe_id = (await client.get("recipes", "/recipes", params={"ingredient": "chickpeas"}))["results"][0][
        "id"
    ]
    recipe = await client.get("recipes", f"/recipes/{recipe_id}")
    nutrition = await client.get("recipes", f"/recipes/{recipe_id}/nutrition", params={"servings": "2"})
    assert nutrition["total"]["calories"] == pytest.approx(2 * nutrition["per_serving"]["calories"])

    cart = await client.post("shop", "/carts", body={})
    added = 0
    for ingredient in recipe["ingredients"]:
        found = (
            await client.get(
                "shop",
                "/products",
                params={"q": ingredient["name"], "category": "grocery", "in_stock_only": "true"},
            )
        )["results"]
        if found:
            await client.post(
                "shop",
                f"/carts/{cart['cart_id']}/items",
                body={"product_id": found[0]["id"], "quantity": 1},
                expect=200,
            )
            added += 1
    assert added >= 3

    order = await client.post(
        "shop",
        f"/carts/{cart['cart_id']}/checkout",
        body={
            "shipping_address": {
                "name": "Maya Patel",
                "line1": "18 Rue de la Paix",
                "city": "Paris",
                "postal_code": "75002",
                "country_code": "FR",
            },
            "shipping_method": "standard",
            "payment_method": "card",
        },
    )
    assert len(order["items"]) == added
    assert order["total"] == pytest.approx(order["subtotal"] + order["shipping"] + order["tax"])
    assert await client.get("shop", f"/orders/{order['order_id']}") == order
    closed = await client.post(
        "shop", f"/carts/{cart['cart_id']}/items", body={"product_id": 10001, "quantity": 1}, expect=409
    )
    assert "checked out" in closed["message"]


@pytest.mark.asyncio
async def test_stock_price_is_converted_with_the_quote_currency(client: Client) -> None:
    key = {"api_key": SANDBOX_API_KEY}
    symbol = (await client.get("stocks", "/search", params={"q": "luxury", **key}))["results"][0]["symbol"]
    quote = await client.get("stocks", f"/quote/{symbol}", params=key)
    assert quote["currency"] == "EUR"
    converted = await client.get(
        "currency", "/convert", params={"from": quote["currency"], "to": "JPY", "amount": quote["price"]}
    )
    assert converted["result"] == round(quote["price"] * converted["rate"])


@pytest.mark.asyncio
async def test_league_leader_next_match_venue_feeds_geo_and_weather(client: Client) -> None:
    standings = await client.get("sports", "/leagues/1/standings")
    leader = standings["table"][0]
    team = await client.get("sports", f"/teams/{leader['team_id']}")
    fixture = await client.get("sports", f"/fixtures/{team['next_fixture_id']}")
    assert fixture["status"] == "scheduled" and leader["team_id"] in (
        fixture["home_team"]["id"],
        fixture["away_team"]["id"],
    )
    venue = await client.get("geo", f"/cities/{fixture['venue']['city_id']}")
    weather = await client.get(
        "weather", "/forecast", params={"lat": venue["lat"], "lon": venue["lon"], "days": "10"}
    )
    assert weather["location"]["nearest_city"]["name"] == venue["name"]

    played = await client.get(
        "sports", "/fixtures", params={"team_id": leader["team_id"], "status": "finished", "per_page": "50"}
    )
    assert played["total"] == leader["played"]


@pytest.mark.asyncio
async def test_calendar_slot_and_email_invitation_are_recorded(client: Client) -> None:
    slots = await client.get(
        "calendar", "/free-slots", params={"date": "2025-06-04", "duration_minutes": "60"}
    )
    slot = slots["slots"][0]
    event = await client.post(
        "calendar",
        "/events",
        body={"title": "Planning with Liam", "start": slot["start"], "end": slot["end"]},
    )
    listed = await client.get(
        "calendar", "/events", params={"start_date": "2025-06-04", "end_date": "2025-06-04"}
    )
    assert event["id"] in [e["id"] for e in listed["results"]]
    later = await client.get(
        "calendar", "/free-slots", params={"date": "2025-06-04", "duration_minutes": "60"}
    )
    assert slot not in later["slots"]

    contact = (await client.get("mail", "/contacts", params={"limit": "1"}))["results"][0]
    sent = await client.post(
        "mail",
        "/messages",
        body={"to": [contact["email"]], "subject": event["title"], "body": f"See you at {event['start']}."},
    )
    outbox = await client.get("mail", "/messages", params={"folder": "sent"})
    assert sent["status"] == "sent" and outbox["results"][0]["id"] == sent["id"]


@pytest.mark.asyncio
async def test_following_next_links_walks_every_page_once(client: Client) -> None:
    seen, path, total = [], "/geo/cities?limit=4", None
    while path:
        async with client.session.get(client.server.base_url + path) as response:
            page = await response.json()
        seen += [city["id"] for city in page["results"]]
        total, path = page["total"], page["next"]
    assert len(seen) == len(set(seen)) == total
