"""StayFinder Hotels: hotel search by city, room offers for dates, reservations.

Hotels are generated per city (ids ``htl-<city_id>-NN``, NN from 01) and priced in the city's
local currency, so a chain can go geo → hotels → currency conversion.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, ClassVar

from ..core import Call, Counter, Handler, Reply, seeded
from ..errors import bad_request, conflict, not_found
from ..names import email_for, person_name, phone_number, street_address
from ..pagination import page_of
from ..world import CITIES, COUNTRIES, NOW_ISO, TODAY, City, currency_of, haversine_km, local_price
from .common import lookup_city

HOTELS_PER_CITY = 8
ADJECTIVES = (
    "Grand",
    "Royal",
    "Park",
    "Riverside",
    "Central",
    "Harbour",
    "Garden",
    "Old Town",
    "Skyline",
    "Metropole",
    "Majestic",
    "Atlas",
)
KINDS = ("Hotel", "Suites", "Inn", "Residence", "Palace", "Lodge", "Boutique Hotel")
AMENITIES = (
    "wifi",
    "breakfast",
    "pool",
    "gym",
    "spa",
    "parking",
    "restaurant",
    "bar",
    "airport_shuttle",
    "pet_friendly",
)
# room type -> (price multiplier, max guests, description)
ROOM_TYPES = {
    "standard": (1.0, 2, "Double room with a queen bed and a private bathroom."),
    "deluxe": (1.35, 2, "Larger room with a king bed, seating area and city view."),
    "family": (1.6, 4, "Two double beds, space for a cot, ideal for families."),
    "suite": (2.3, 4, "Separate living room and bedroom, bathtub and lounge access."),
}
MAX_NIGHTS = 30


@dataclass(frozen=True)
class Hotel:
    id: str
    name: str
    city: City
    stars: int
    rating: float
    review_count: int
    address: str
    phone: str
    lat: float
    lon: float
    amenities: tuple[str, ...]
    room_types: tuple[str, ...]
    nightly_usd: float

    @property
    def distance_km(self) -> float:
        return round(haversine_km(self.lat, self.lon, self.city.lat, self.city.lon), 1)


def generate_hotels(seed: int, city: City) -> list[Hotel]:
    rng = seeded(seed, "hotels", city.id)
    country = COUNTRIES[city.country_code]
    hotels, names = [], set()
    for number in range(1, HOTELS_PER_CITY + 1):
        name = ""
        while not name or name in names:
            adjective, kind = rng.choice(ADJECTIVES), rng.choice(KINDS)
            name = rng.choice(
                (f"{adjective} {kind} {city.name}", f"The {adjective} {city.name}", f"{adjective} {kind}")
            )
        names.add(name)
        stars = rng.choices((2, 3, 4, 5), weights=(2, 4, 4, 2))[0]
        extra_rooms = tuple(t for t in ("deluxe", "family", "suite") if rng.random() < 0.25 + 0.15 * stars)
        hotels.append(
            Hotel(
                id=f"htl-{city.id}-{number:02d}",
                name=name,
                city=city,
                stars=stars,
                rating=round(min(9.8, 5.6 + stars * 0.6 + rng.uniform(-0.6, 0.9)), 1),
                review_count=rng.randint(40, 4200),
                address=street_address(rng, country.languages[0]),
                phone=phone_number(rng, country.calling_code),
                lat=round(city.lat + rng.uniform(-0.04, 0.04), 5),
                lon=round(city.lon + rng.uniform(-0.05, 0.05), 5),
                amenities=tuple(a for a in AMENITIES if a == "wifi" or rng.random() < 0.12 * stars),
                room_types=("standard", *extra_rooms),
                nightly_usd=45 * 1.55 ** (stars - 2) * city.cost_index * rng.uniform(0.85, 1.25),
            )
        )
    return hotels


class HotelsTool:
    # what the handlers change: each client session works on its own copy (see sandbox/sessions.py)
    STATE: ClassVar[tuple[str, ...]] = ("reservations", "_ids")

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.hotels = {h.id: h for city in CITIES.values() for h in generate_hotels(seed, city)}
        self.reservations: dict[str, dict[str, Any]] = {}
        self._ids = Counter("HR-", 100001)
        self._seed_reservations()

    def handlers(self) -> Mapping[str, Handler]:
        return {
            "searchHotels": self.search_hotels,
            "getHotel": self.get_hotel,
            "getRoomOffers": self.get_room_offers,
            "createReservation": self.create_reservation,
            "getReservation": self.get_reservation,
            "cancelReservation": self.cancel_reservation,
        }

    def search_hotels(self, call: Call) -> Any:
        city = lookup_city(call["city_id"])
        found = [h for h in self.hotels.values() if h.city.id == city.id]
        if call.get("min_stars"):
            found = [h for h in found if h.stars >= call["min_stars"]]
        if call.get("max_price") is not None:
            found = [h for h in found if self._price_from(h) <= call["max_price"]]
        if call.get("amenities"):
            found = [h for h in found if set(call["amenities"]) <= set(h.amenities)]
        order = {
            "price": lambda h: self._price_from(h),
            "rating": lambda h: -h.rating,
            "stars": lambda h: (-h.stars, -h.rating),
            "distance": lambda h: h.distance_km,
            "recommended": lambda h: -(h.rating * 10 + h.review_count / 400 - h.distance_km),
        }[call["sort"]]
        return page_of([self._summary(h) for h in sorted(found, key=order)], call)

    def get_hotel(self, call: Call) -> Any:
        hotel = self._hotel(call["hotel_id"])
        currency = currency_of(hotel.city)
        return {
            **self._summary(hotel),
            "address": hotel.address,
            "phone": hotel.phone,
            "city": {"id": hotel.city.id, "name": hotel.city.name, "country_code": hotel.city.country_code},
            "description": (
                f"{hotel.stars}-star hotel {hotel.distance_km} km from the centre of {hotel.city.name}, "
                f"offering {', '.join(a.replace('_', ' ') for a in hotel.amenities)}."
            ),
            "check_in_time": "15:00",
            "check_out_time": "11:00",
            "room_types": [
                {
                    "type": kind,
                    "max_guests": ROOM_TYPES[kind][1],
                    "description": ROOM_TYPES[kind][2],
                    "price_from": local_price(hotel.nightly_usd * ROOM_TYPES[kind][0], currency),
                }
                for kind in hotel.room_types
            ],
        }

    def get_room_offers(self, call: Call) -> Any:
        hotel = self._hotel(call["hotel_id"])
        check_in, check_out = _stay(call["check_in"], call["check_out"])
        offers = [
            self._offer(hotel, kind, check_in, check_out)
            for kind in hotel.room_types
            if ROOM_TYPES[kind][1] >= call["guests"]
        ]
        return {
            "hotel_id": hotel.id,
            "check_in": check_in.isoformat(),
            "check_out": check_out.isoformat(),
            "nights": (check_out - check_in).days,
            "guests": call["guests"],
            "offers": offers,
        }

    def create_reservation(self, call: Call) -> Any:
        body = call.body
        hotel = self._hotel(body["hotel_id"], param="hotel_id")
        check_in, check_out = _stay(body["check_in"], body["check_out"])
        kind = body["room_type"]
        if kind not in hotel.room_types:
            raise conflict(
                f"{hotel.name} has no {kind} rooms; it offers {', '.join(hotel.room_types)}.",
                param="room_type",
            )
        if ROOM_TYPES[kind][1] < body["guests"]:
            raise conflict(f"A {kind} room sleeps at most {ROOM_TYPES[kind][1]} guests.", param="guests")
        offer = self._offer(hotel, kind, check_in, check_out)
        if not offer["available"]:
            raise conflict(f"No {kind} rooms are left at {hotel.name} for these dates.", param="room_type")
        reservation = self._reservation(self._ids.next_id(), hotel, kind, check_in, check_out, body)
        self.reservations[reservation["reservation_id"]] = reservation
        return Reply(reservation, status=201)

    def get_reservation(self, call: Call) -> Any:
        return self._existing(call["reservation_id"])

    def cancel_reservation(self, call: Call) -> Any:
        reservation = self._existing(call["reservation_id"])
        if reservation["status"] == "cancelled":
            raise conflict(
                f"Reservation {reservation['reservation_id']} is already cancelled.", param="reservation_id"
            )
        reservation["status"] = "cancelled"
        return reservation

    def _seed_reservations(self) -> None:
        """Two reservations that exist before any call, so lookups have something to find."""
        rng = seeded(self.seed, "hotel-reservations")
        for _ in range(2):
            hotel = self.hotels[f"htl-{rng.choice(list(CITIES))}-{rng.randint(1, HOTELS_PER_CITY):02d}"]
            check_in = TODAY + timedelta(days=rng.randint(10, 60))
            name = person_name(rng)
            details = {"guests": 2, "guest_name": name, "guest_email": email_for(name)}
            reservation = self._reservation(
                self._ids.next_id(),
                hotel,
                "standard",
                check_in,
                check_in + timedelta(days=rng.randint(1, 5)),
                details,
            )
            self.reservations[reservation["reservation_id"]] = reservation

    def _reservation(
        self,
        reservation_id: str,
        hotel: Hotel,
        kind: str,
        check_in: date,
        check_out: date,
        details: Mapping[str, Any],
    ) -> dict[str, Any]:
        offer = self._offer(hotel, kind, check_in, check_out)
        return {
            "reservation_id": reservation_id,
            "status": "confirmed",
            "hotel": {"id": hotel.id, "name": hotel.name, "city_id": hotel.city.id, "city": hotel.city.name},
            "room_type": kind,
            "check_in": check_in.isoformat(),
            "check_out": check_out.isoformat(),
            "nights": (check_out - check_in).days,
            "guests": details["guests"],
            "guest_name": details["guest_name"],
            "guest_email": details["guest_email"],
            "total_price": offer["total_price"],
            "currency": offer["currency"],
            "free_cancellation_until": (check_in - timedelta(days=2)).isoformat(),
            "created_at": NOW_ISO,
        }

    def _offer(self, hotel: Hotel, kind: str, check_in: date, check_out: date) -> dict[str, Any]:
        rng = seeded(self.seed, "rooms", hotel.id, kind, check_in.isoformat())
        currency = currency_of(hotel.city)
        nightly = hotel.nightly_usd * ROOM_TYPES[kind][0] * rng.uniform(0.92, 1.12)
        nights = [check_in + timedelta(days=i) for i in range((check_out - check_in).days)]
        # Friday and Saturday nights cost more in city hotels.
        total = sum(nightly * (1.15 if night.weekday() in (4, 5) else 1.0) for night in nights)
        rooms_left = rng.randint(1, 6) if kind == "standard" else rng.choice((0, 0, 1, 2, 3, 4))
        return {
            "room_type": kind,
            "max_guests": ROOM_TYPES[kind][1],
            "available": rooms_left > 0,
            "rooms_left": rooms_left,
            "nightly_price": local_price(nightly, currency),
            "total_price": local_price(total, currency),
            "currency": currency.code,
            "breakfast_included": "breakfast" in hotel.amenities,
            "refundable": rng.random() < 0.7,
        }

    def _price_from(self, hotel: Hotel) -> float:
        return local_price(hotel.nightly_usd, currency_of(hotel.city))

    def _summary(self, hotel: Hotel) -> dict[str, Any]:
        return {
            "id": hotel.id,
            "name": hotel.name,
            "stars": hotel.stars,
            "rating": hotel.rating,
            "review_count": hotel.review_count,
            "price_from": self._price_from(hotel),
            "currency": currency_of(hotel.city).code,
            "lat": hotel.lat,
            "lon": hotel.lon,
            "distance_to_center_km": hotel.distance_km,
            "amenities": list(hotel.amenities),
        }

    def _hotel(self, hotel_id: str, param: str = "hotel_id") -> Hotel:
        hotel = self.hotels.get(hotel_id)
        if hotel is None:
            raise not_found("hotel", hotel_id, param=param)
        return hotel

    def _existing(self, reservation_id: str) -> dict[str, Any]:
        reservation = self.reservations.get(reservation_id)
        if reservation is None:
            raise not_found("reservation", reservation_id, param="reservation_id")
        return reservation


def _stay(check_in_text: str, check_out_text: str) -> tuple[date, date]:
    check_in, check_out = date.fromisoformat(check_in_text), date.fromisoformat(check_out_text)
    if check_in < TODAY:
        raise bad_request(f"check_in {check_in} is in the past (today is {TODAY}).", param="check_in")
    if check_out <= check_in:
        raise bad_request("check_out must be after check_in.", param="check_out")
    if (check_out - check_in).days > MAX_NIGHTS:
        raise bad_request(f"A stay can last at most {MAX_NIGHTS} nights.", param="check_out")
    return check_in, check_out
