"""CineTix Showtimes: cinemas by city, showtimes of ReelBase movies, seat maps, ticket bookings.

Showtimes are published for today and the next 13 days. A showtime id
(``sht-<city_id>-<cinema>-<yyyymmdd>-<movie_id>-<hhmm>``) encodes what it refers to, so it is
resolved by regenerating that cinema's programme. Halls fill up as the date approaches; the
most popular current release (movie 1001) always has an evening showing at 19:30.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, ClassVar

from ..core import Call, Counter, Handler, Reply, seeded
from ..errors import bad_request, conflict, not_found
from ..names import email_for, person_name, street_address
from ..world import CITIES, COUNTRIES, NOW_ISO, TODAY, City, currency_of, local_price
from .common import lookup_city
from .movie_catalog import FIRST_MOVIE_ID, Movie, build_catalog

CINEMAS_PER_CITY = 3
PROGRAMME_DAYS = 14
ROWS = "ABCDEFGHIJKL"
SEATS_PER_ROW = 14
SLOTS = ("10:30", "13:15", "16:00", "18:45", "21:30", "22:15")
FEATURED_SLOT = "19:30"
CINEMA_NAMES = (
    "CineStar {city}",
    "Odeon {city} Central",
    "Lumière Cinema",
    "Majestic Multiplex",
    "Picturehouse {city}",
    "Electric Cinema",
    "Grand Palace Cinema",
    "Regal Riverside",
)
FORMAT_SURCHARGE_USD = {"2D": 0.0, "3D": 3.0, "IMAX": 6.5}
SHOWTIME_ID = re.compile(r"^sht-(\d+)-(\d)-(\d{8})-(\d+)-(\d{4})$")


@dataclass(frozen=True)
class Cinema:
    id: str
    name: str
    city: City
    address: str
    screens: int
    formats: tuple[str, ...]
    lat: float
    lon: float
    movie_ids: tuple[int, ...]


@dataclass(frozen=True)
class Showtime:
    id: str
    cinema: Cinema
    movie: Movie
    day: date
    time: str
    format: str


def generate_cinemas(seed: int, city: City, now_playing: list[int]) -> list[Cinema]:
    rng = seeded(seed, "cinemas", city.id)
    language = COUNTRIES[city.country_code].languages[0]
    names = rng.sample(CINEMA_NAMES, CINEMAS_PER_CITY)
    cinemas = []
    for number, pattern in enumerate(names, start=1):
        others = [m for m in now_playing if m != FIRST_MOVIE_ID]
        cinemas.append(
            Cinema(
                id=f"cin-{city.id}-{number}",
                name=pattern.format(city=city.name),
                city=city,
                address=street_address(rng, language),
                screens=rng.randint(4, 14),
                formats=("2D", "3D", "IMAX") if rng.random() < 0.4 else ("2D", "3D"),
                lat=round(city.lat + rng.uniform(-0.04, 0.04), 5),
                lon=round(city.lon + rng.uniform(-0.05, 0.05), 5),
                movie_ids=(FIRST_MOVIE_ID, *sorted(rng.sample(others, 6))),
            )
        )
    return cinemas


class CinemasTool:
    # what the handlers change: each client session works on its own copy (see sandbox/sessions.py)
    STATE: ClassVar[tuple[str, ...]] = ("bookings", "sold", "_ids")

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.catalog = build_catalog(seed)
        now_playing = [m.id for m in self.catalog.movies.values() if m.now_playing]
        self.cinemas = {
            c.id: c for city in CITIES.values() for c in generate_cinemas(seed, city, now_playing)
        }
        self.bookings: dict[str, dict[str, Any]] = {}
        self.sold: dict[str, set[str]] = {}  # showtime id -> seats sold through this API
        self._ids = Counter("CB-", 300001)
        self._seed_bookings()

    def handlers(self) -> Mapping[str, Handler]:
        return {
            "listCinemas": self.list_cinemas,
            "listShowtimes": self.list_showtimes,
            "getSeatMap": self.get_seat_map,
            "createTicketBooking": self.create_booking,
            "getTicketBooking": self.get_booking,
            "cancelTicketBooking": self.cancel_booking,
        }

    def list_cinemas(self, call: Call) -> Any:
        city = lookup_city(call["city_id"])
        cinemas = [c for c in self.cinemas.values() if c.city.id == city.id]
        return {"city_id": city.id, "results": [self._cinema_json(c) for c in cinemas], "total": len(cinemas)}

    def list_showtimes(self, call: Call) -> Any:
        city = lookup_city(call["city_id"])
        day = _programme_day(call["date"])
        cinemas = [c for c in self.cinemas.values() if c.city.id == city.id]
        if call.get("cinema_id"):
            cinemas = [c for c in cinemas if c.id == call["cinema_id"]]
            if not cinemas:
                raise not_found(f"cinema in {city.name}", call["cinema_id"], param="cinema_id")
        if call.get("movie_id") is not None and call["movie_id"] not in self.catalog.movies:
            raise not_found("movie", call["movie_id"], param="movie_id")
        showtimes = [
            s
            for c in cinemas
            for s in self._programme(c, day)
            if (call.get("movie_id") is None or s.movie.id == call["movie_id"])
            and (not call.get("format") or s.format == call["format"])
        ]
        showtimes.sort(key=lambda s: (s.time, s.cinema.id))
        return {
            "city_id": city.id,
            "date": day.isoformat(),
            "results": [self._showtime_json(s) for s in showtimes],
            "total": len(showtimes),
        }

    def get_seat_map(self, call: Call) -> Any:
        showtime = self._showtime(call["showtime_id"])
        taken = self._taken(showtime)
        return {
            "showtime_id": showtime.id,
            "screen": seeded(self.seed, "screen", showtime.id).randint(1, showtime.cinema.screens),
            "seats_available": len(ROWS) * SEATS_PER_ROW - len(taken),
            "rows": [
                {
                    "row": row,
                    "available": [n for n in range(1, SEATS_PER_ROW + 1) if f"{row}{n}" not in taken],
                }
                for row in ROWS
            ],
        }

    def create_booking(self, call: Call) -> Any:
        body = call.body
        showtime = self._showtime(body["showtime_id"])
        seats = [seat.upper() for seat in body["seats"]]
        if len(set(seats)) != len(seats):
            raise bad_request("seats contains the same seat twice.", param="seats")
        unavailable = [seat for seat in seats if seat in self._taken(showtime)]
        if unavailable:
            raise conflict(
                f"Seats already taken: {', '.join(unavailable)}. Check getSeatMap for free seats.",
                param="seats",
            )
        booking = self._booking(
            self._ids.next_id(), showtime, seats, body["customer_name"], body["customer_email"]
        )
        return Reply(booking, status=201)

    def get_booking(self, call: Call) -> Any:
        return self._existing(call["booking_id"])

    def cancel_booking(self, call: Call) -> Any:
        booking = self._existing(call["booking_id"])
        if booking["status"] == "cancelled":
            raise conflict(f"Booking {booking['booking_id']} is already cancelled.", param="booking_id")
        booking["status"] = "cancelled"
        self.sold[booking["showtime"]["showtime_id"]].difference_update(booking["seats"])
        return booking

    def _seed_bookings(self) -> None:
        rng = seeded(self.seed, "ticket-bookings")
        for _ in range(2):
            cinema = self.cinemas[f"cin-{rng.choice(list(CITIES))}-{rng.randint(1, CINEMAS_PER_CITY)}"]
            showtime = rng.choice(self._programme(cinema, TODAY + timedelta(days=rng.randint(1, 5))))
            free = [
                f"{row}{n}"
                for row in ROWS[4:]
                for n in range(1, SEATS_PER_ROW + 1)
                if f"{row}{n}" not in self._taken(showtime)
            ]
            start = rng.randrange(0, len(free) - 2)
            name = person_name(rng)
            self._booking(self._ids.next_id(), showtime, free[start : start + 2], name, email_for(name))

    def _booking(
        self, booking_id: str, showtime: Showtime, seats: list[str], name: str, email: str
    ) -> dict[str, Any]:
        price = self._price(showtime)
        booking = {
            "booking_id": booking_id,
            "status": "confirmed",
            "showtime": self._showtime_json(showtime),
            "seats": seats,
            "customer_name": name,
            "customer_email": email,
            "total_price": round(price * len(seats), 2),
            "currency": currency_of(showtime.cinema.city).code,
            "created_at": NOW_ISO,
        }
        self.bookings[booking_id] = booking
        self.sold.setdefault(showtime.id, set()).update(seats)
        return booking

    def _programme(self, cinema: Cinema, day: date) -> list[Showtime]:
        showtimes = []
        for movie_id in cinema.movie_ids:
            rng = seeded(self.seed, "programme", cinema.id, day.isoformat(), movie_id)
            slots = set(rng.sample(SLOTS, rng.randint(2, 3)))
            if movie_id == FIRST_MOVIE_ID:
                slots.add(FEATURED_SLOT)
            for slot in sorted(slots):
                showtime_format = rng.choice(cinema.formats) if rng.random() < 0.4 else "2D"
                showtime_id = (
                    f"sht-{cinema.id.removeprefix('cin-')}-{day:%Y%m%d}-{movie_id}-{slot.replace(':', '')}"
                )
                showtimes.append(
                    Showtime(showtime_id, cinema, self.catalog.movies[movie_id], day, slot, showtime_format)
                )
        return showtimes

    def _taken(self, showtime: Showtime) -> set[str]:
        days_ahead = (showtime.day - TODAY).days
        # Halls fill up as the date approaches; two weeks out they are still empty.
        share = max(0.0, 0.6 - 0.05 * days_ahead) * (
            1.3 if showtime.time in ("18:45", FEATURED_SLOT, "21:30") else 0.8
        )
        rng = seeded(self.seed, "seats", showtime.id)
        seats = [f"{row}{n}" for row in ROWS for n in range(1, SEATS_PER_ROW + 1)]
        return set(rng.sample(seats, int(len(seats) * min(share, 0.95)))) | self.sold.get(showtime.id, set())

    def _price(self, showtime: Showtime) -> float:
        usd = 13.0 * showtime.cinema.city.cost_index + FORMAT_SURCHARGE_USD[showtime.format]
        return local_price(usd, currency_of(showtime.cinema.city))

    def _showtime(self, showtime_id: str) -> Showtime:
        match = SHOWTIME_ID.match(showtime_id)
        if match:
            cinema = self.cinemas.get(f"cin-{match[1]}-{match[2]}")
            try:
                day = date.fromisoformat(f"{match[3][:4]}-{match[3][4:6]}-{match[3][6:]}")
            except ValueError:
                day = None
            if cinema is not None and day is not None:
                for showtime in self._programme(cinema, day):
                    if showtime.id == showtime_id:
                        return showtime
        raise not_found("showtime", showtime_id, param="showtime_id")

    def _existing(self, booking_id: str) -> dict[str, Any]:
        booking = self.bookings.get(booking_id)
        if booking is None:
            raise not_found("ticket booking", booking_id, param="booking_id")
        return booking

    def _cinema_json(self, cinema: Cinema) -> dict[str, Any]:
        return {
            "id": cinema.id,
            "name": cinema.name,
            "address": cinema.address,
            "screens": cinema.screens,
            "formats": list(cinema.formats),
            "lat": cinema.lat,
            "lon": cinema.lon,
        }

    def _showtime_json(self, showtime: Showtime) -> dict[str, Any]:
        return {
            "showtime_id": showtime.id,
            "movie_id": showtime.movie.id,
            "movie_title": showtime.movie.title,
            "cinema_id": showtime.cinema.id,
            "cinema_name": showtime.cinema.name,
            "date": showtime.day.isoformat(),
            "time": showtime.time,
            "format": showtime.format,
            "price": self._price(showtime),
            "currency": currency_of(showtime.cinema.city).code,
        }


def _programme_day(text: str) -> date:
    day = date.fromisoformat(text)
    last = TODAY + timedelta(days=PROGRAMME_DAYS - 1)
    if not TODAY <= day <= last:
        raise bad_request(
            f"Showtimes are published from {TODAY} to {last}; date {day} is outside that range.", param="date"
        )
    return day
