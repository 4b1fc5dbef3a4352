"""SkyRoute Flights: airports, flight search between IATA codes, bookings (API key required).

Flights are regenerated on demand from (seed, origin, destination, date): a flight id such as
``CDGJFK2025071402`` encodes its route, date and position, so it can be looked up and booked
without the server remembering searches.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, ClassVar

from ..core import Call, Handler, Reply, fold, seeded
from ..errors import bad_request, conflict, not_found
from ..names import email_for, person_name
from ..world import AIRPORTS, CITIES, NOW_ISO, TODAY, Airport, haversine_km
from .common import lookup_city

# code, name, home country, hub airport
AIRLINES = {
    r[0]: r
    for r in (
        ("AF", "Air France", "FR", "CDG"),
        ("BA", "British Airways", "GB", "LHR"),
        ("LH", "Lufthansa", "DE", "MUC"),
        ("IB", "Iberia", "ES", "MAD"),
        ("KL", "KLM", "NL", "AMS"),
        ("TP", "TAP Air Portugal", "PT", "LIS"),
        ("AZ", "ITA Airways", "IT", "FCO"),
        ("OS", "Austrian Airlines", "AT", "VIE"),
        ("TK", "Turkish Airlines", "TR", "IST"),
        ("EK", "Emirates", "AE", "DXB"),
        ("SQ", "Singapore Airlines", "SG", "SIN"),
        ("NH", "ANA", "JP", "HND"),
        ("KE", "Korean Air", "KR", "ICN"),
        ("AI", "Air India", "IN", "BOM"),
        ("MS", "EgyptAir", "EG", "CAI"),
        ("QF", "Qantas", "AU", "SYD"),
        ("AC", "Air Canada", "CA", "YYZ"),
        ("AM", "Aeromexico", "MX", "MEX"),
        ("LA", "LATAM", "BR", "GRU"),
        ("UA", "United Airlines", "US", "SFO"),
        ("DL", "Delta Air Lines", "US", "JFK"),
        ("AA", "American Airlines", "US", "ORD"),
    )
}
GLOBAL_CARRIERS = ("TK", "EK", "LH", "AF", "KL", "SQ", "UA", "BA")
CABINS = {"economy": 1.0, "premium_economy": 1.7, "business": 3.9, "first": 6.5}
FLIGHT_ID = re.compile(r"^([A-Z]{3})([A-Z]{3})(\d{8})(\d{2})$")
BOOKABLE_DAYS = 330


@dataclass(frozen=True)
class Flight:
    id: str
    airline: str
    flight_number: str
    origin: Airport
    destination: Airport
    via: Airport | None
    departure: datetime
    duration_minutes: int
    economy_usd: float
    seats_left: Mapping[str, int]

    @property
    def arrival(self) -> datetime:
        return self.departure + timedelta(minutes=self.duration_minutes)


def flights_on(seed: int, origin: Airport, destination: Airport, day: date) -> list[Flight]:
    rng = seeded(seed, "flights", origin.iata, destination.iata, day.isoformat())
    distance = haversine_km(origin.lat, origin.lon, destination.lat, destination.lon)
    home = [code for code, row in AIRLINES.items() if row[2] in (_country(origin), _country(destination))]

    def detour(code: str) -> float:
        hub = AIRPORTS[AIRLINES[code][3]]
        if hub.iata in (origin.iata, destination.iata) or distance < 1:
            return 1.0
        legs = haversine_km(origin.lat, origin.lon, hub.lat, hub.lon) + haversine_km(
            hub.lat, hub.lon, destination.lat, destination.lon
        )
        return legs / distance

    # Foreign carriers only sell connections through their hub, and only sensible ones.
    partners = [c for c in GLOBAL_CARRIERS if c not in home and detour(c) <= 1.3 and distance >= 600]
    carriers = home + partners
    flights = []
    for number in range(1, rng.randint(4, 7) + 1):
        airline = rng.choice(carriers)
        hub = AIRPORTS[AIRLINES[airline][3]]
        connects = (
            hub.iata not in (origin.iata, destination.iata) and detour(airline) <= 1.3 and distance >= 600
        )
        if airline in home:
            connects = connects and rng.random() < 0.3
        via = hub if connects else None
        legs = distance * detour(airline) if via else distance
        layover = 0 if via is None else rng.randrange(55, 240, 5)
        duration = int(legs / 820 * 60 + 35 + layover)
        departure = datetime.combine(day, time(rng.randint(6, 22), rng.randrange(0, 60, 5)), tzinfo=UTC)
        flights.append(
            Flight(
                id=f"{origin.iata}{destination.iata}{day:%Y%m%d}{number:02d}",
                airline=airline,
                flight_number=f"{airline}{rng.randint(100, 2999)}",
                origin=origin,
                destination=destination,
                via=via,
                departure=departure,
                duration_minutes=duration,
                economy_usd=(55 + legs * 0.075) * rng.uniform(0.75, 1.4) * (0.85 if via else 1.0),
                seats_left={
                    cabin: rng.choice((0, 2, 4, 7, 9, 9)) if cabin != "economy" else rng.randint(3, 9)
                    for cabin in CABINS
                },
            )
        )
    return sorted(flights, key=lambda f: f.departure)


def _country(airport: Airport) -> str:
    return CITIES[airport.city_id].country_code


class FlightsTool:
    # what the handlers change: each client session works on its own copy (see sandbox/sessions.py)
    STATE: ClassVar[tuple[str, ...]] = ("bookings", "_booking_count")

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.bookings: dict[str, dict[str, Any]] = {}
        self._booking_count = 0
        self._seed_bookings()

    def handlers(self) -> Mapping[str, Handler]:
        return {
            "searchAirports": self.search_airports,
            "getAirport": self.get_airport,
            "searchFlights": self.search_flights,
            "getFlight": self.get_flight,
            "bookFlight": self.book_flight,
            "getFlightBooking": self.get_booking,
            "cancelFlightBooking": self.cancel_booking,
        }

    def search_airports(self, call: Call) -> Any:
        found = list(AIRPORTS.values())
        if call.get("city_id") is not None:
            city = lookup_city(call["city_id"])
            found = [a for a in found if a.city_id == city.id]
        if call.get("q"):
            needle = fold(call["q"])
            found = [
                a
                for a in found
                if needle in fold(a.name) or needle == fold(a.iata) or needle in fold(CITIES[a.city_id].name)
            ]
        return {"results": [_airport(a) for a in found], "total": len(found)}

    def get_airport(self, call: Call) -> Any:
        return _airport(self._airport(call["iata_code"], "iata_code"))

    def search_flights(self, call: Call) -> Any:
        origin = self._airport(call["origin"], "origin")
        destination = self._airport(call["destination"], "destination")
        if origin.city_id == destination.city_id:
            raise bad_request("origin and destination must be in different cities.", param="destination")
        day = _travel_date(call["date"])
        cabin, passengers = call["cabin"], call["passengers"]
        flights = [
            f for f in flights_on(self.seed, origin, destination, day) if f.seats_left[cabin] >= passengers
        ]
        if call.get("max_stops") is not None:
            flights = [f for f in flights if (f.via is not None) <= call["max_stops"]]
        order = {
            "price": lambda f: f.economy_usd,
            "duration": lambda f: f.duration_minutes,
            "departure": lambda f: f.departure,
        }[call["sort"]]
        return {
            "origin": origin.iata,
            "destination": destination.iata,
            "date": day.isoformat(),
            "cabin": cabin,
            "passengers": passengers,
            "results": [self._flight_json(f, cabin, passengers) for f in sorted(flights, key=order)],
        }

    def get_flight(self, call: Call) -> Any:
        flight = self._flight(call["flight_id"], "flight_id")
        return {
            **self._flight_json(flight, "economy", 1),
            "seats_left": dict(flight.seats_left),
            "fares": {cabin: self._fare(flight, cabin) for cabin in CABINS},
        }

    def book_flight(self, call: Call) -> Any:
        body = call.body
        flight = self._flight(body["flight_id"], "flight_id")
        cabin, passengers = body["cabin"], body["passengers"]
        if flight.departure.date() < TODAY:
            raise conflict(
                f"Flight {flight.flight_number} on {flight.departure.date()} has already departed.",
                param="flight_id",
            )
        if flight.seats_left[cabin] < len(passengers):
            raise conflict(
                f"Only {flight.seats_left[cabin]} {cabin.replace('_', ' ')} seats are left "
                f"on {flight.flight_number}.",
                param="passengers",
            )
        booking = self._booking(flight, cabin, passengers, body["contact_email"])
        self.bookings[booking["booking_ref"]] = booking
        return Reply(booking, status=201)

    def get_booking(self, call: Call) -> Any:
        return self._existing(call["booking_ref"])

    def cancel_booking(self, call: Call) -> Any:
        booking = self._existing(call["booking_ref"])
        if booking["status"] == "cancelled":
            raise conflict(f"Booking {booking['booking_ref']} is already cancelled.", param="booking_ref")
        booking["status"] = "cancelled"
        booking["refund_amount"] = round(booking["total_price"] * 0.8, 2)
        return booking

    def _seed_bookings(self) -> None:
        """Bookings that exist before any call (the documented examples ZK4M2Q and HT7W9B)."""
        rng = seeded(self.seed, "flight-bookings")
        for ref, origin, destination in (("ZK4M2Q", "LHR", "JFK"), ("HT7W9B", "MAD", "FCO")):
            day = TODAY + timedelta(days=rng.randint(14, 90))
            flight = flights_on(self.seed, AIRPORTS[origin], AIRPORTS[destination], day)[0]
            name = person_name(rng)
            first, last = name.split(" ", 1)
            booking = self._booking(
                flight, "economy", [{"first_name": first, "last_name": last}], email_for(name), ref=ref
            )
            self.bookings[ref] = booking

    def _booking(
        self, flight: Flight, cabin: str, passengers: list[dict[str, Any]], email: str, ref: str | None = None
    ) -> dict[str, Any]:
        if ref is None:
            self._booking_count += 1
            rng = seeded(self.seed, "pnr", self._booking_count)
            ref = "".join(rng.choice(string.ascii_uppercase + "23456789") for _ in range(6))
        seats = seeded(self.seed, "seats", ref)
        row = {"first": 1, "business": seats.randint(2, 7), "premium_economy": seats.randint(8, 12)}.get(
            cabin, seats.randint(14, 38)
        )
        fare = self._fare(flight, cabin)
        return {
            "booking_ref": ref,
            "status": "confirmed",
            "flight": self._flight_json(flight, cabin, len(passengers)),
            "cabin": cabin,
            "passengers": [
                {
                    "first_name": p["first_name"],
                    "last_name": p["last_name"],
                    "seat": f"{row + i // 3}{'ABC'[i % 3]}",
                }
                for i, p in enumerate(passengers)
            ],
            "contact_email": email,
            "total_price": round(fare * len(passengers), 2),
            "currency": "USD",
            "created_at": NOW_ISO,
        }

    def _fare(self, flight: Flight, cabin: str) -> float:
        return round(flight.economy_usd * CABINS[cabin], 2)

    def _flight_json(self, flight: Flight, cabin: str, passengers: int) -> dict[str, Any]:
        fare = self._fare(flight, cabin)
        return {
            "flight_id": flight.id,
            "airline": {"code": flight.airline, "name": AIRLINES[flight.airline][1]},
            "flight_number": flight.flight_number,
            "origin": flight.origin.iata,
            "destination": flight.destination.iata,
            "departure_time": _iso(flight.departure),
            "arrival_time": _iso(flight.arrival),
            "duration_minutes": flight.duration_minutes,
            "stops": 0 if flight.via is None else 1,
            "via": [] if flight.via is None else [flight.via.iata],
            "cabin": cabin,
            "price_per_passenger": fare,
            "total_price": round(fare * passengers, 2),
            "currency": "USD",
        }

    def _airport(self, code: str, param: str) -> Airport:
        airport = AIRPORTS.get(code.upper())
        if airport is None:
            raise not_found("airport", code, param=param, key="IATA code")
        return airport

    def _flight(self, flight_id: str, param: str) -> Flight:
        match = FLIGHT_ID.match(flight_id)
        if match and match[1] in AIRPORTS and match[2] in AIRPORTS:
            try:
                day = date.fromisoformat(f"{match[3][:4]}-{match[3][4:6]}-{match[3][6:]}")
            except ValueError:
                day = None
            if day is not None:
                for flight in flights_on(self.seed, AIRPORTS[match[1]], AIRPORTS[match[2]], day):
                    if flight.id == flight_id:
                        return flight
        raise not_found("flight", flight_id, param=param)

    def _existing(self, ref: str) -> dict[str, Any]:
        booking = self.bookings.get(ref.upper())
        if booking is None:
            raise not_found("booking", ref, param="booking_ref", key="reference")
        return booking


def _airport(airport: Airport) -> dict[str, Any]:
    city = CITIES[airport.city_id]
    return {
        "iata": airport.iata,
        "name": airport.name,
        "city_id": city.id,
        "city": city.name,
        "country_code": city.country_code,
        "lat": airport.lat,
        "lon": airport.lon,
        "timezone": city.timezone,
    }


def _travel_date(text: str) -> date:
    day = date.fromisoformat(text)
    if day < TODAY:
        raise bad_request(f"date {day} is in the past (today is {TODAY}).", param="date")
    if day > TODAY + timedelta(days=BOOKABLE_DAYS):
        raise bad_request(f"Flights can be searched at most {BOOKABLE_DAYS} days ahead.", param="date")
    return day


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
