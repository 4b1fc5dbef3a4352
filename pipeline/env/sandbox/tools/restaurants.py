"""TableTime Restaurants: restaurant search by city, menus, reviews, table reservations.

Each city has ``RESTAURANTS_PER_CITY`` restaurants (ids ``rst-<city_id>-NN``). Menus come from
per-cuisine dish lists priced in the local currency, and reviews talk about dishes that are
actually on the menu.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, time, timedelta
from typing import Any, ClassVar

from ..core import Call, Counter, Handler, Reply, seeded
from ..errors import bad_request, conflict, not_found
from ..names import person_name, phone_number, street_address
from ..pagination import page_of, slice_of
from ..world import CITIES, COUNTRIES, NOW_ISO, TODAY, City, currency_of, haversine_km, local_price
from .common import lookup_city
from .reviews import generate_reviews, sort_reviews

RESTAURANTS_PER_CITY = 10
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
FEATURES = (
    "outdoor_seating",
    "vegetarian_options",
    "takeaway",
    "wheelchair_accessible",
    "live_music",
    "wine_list",
)
# cuisine -> (restaurant names, dishes as "course|name|vegetarian|price in USD")
CUISINES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "italian": (
        (
            "Trattoria Da Marco",
            "Osteria Bella Vita",
            "Pizzeria Il Forno",
            "La Dolce Tavola",
            "Ristorante Sole",
        ),
        (
            "starter|Burrata with heirloom tomatoes|y|12",
            "starter|Beef carpaccio|n|14",
            "main|Spaghetti carbonara|n|18",
            "main|Margherita pizza|y|14",
            "main|Mushroom risotto|y|19",
            "dessert|Tiramisu|y|8",
        ),
    ),
    "french": (
        ("Le Petit Bistro", "Chez Margaux", "Brasserie Lumière", "La Table d'Anne", "Café des Arts"),
        (
            "starter|French onion soup|y|11",
            "starter|Escargots de Bourgogne|n|15",
            "main|Steak frites|n|28",
            "main|Duck confit|n|27",
            "main|Ratatouille|y|19",
            "dessert|Crème brûlée|y|9",
        ),
    ),
    "japanese": (
        ("Sakura Sushi", "Ramen Kaito", "Izakaya Tanuki", "Tempura Hana", "Yakitori Ren"),
        (
            "starter|Edamame|y|5",
            "starter|Gyoza|n|8",
            "main|Tonkotsu ramen|n|16",
            "main|Salmon nigiri set|n|24",
            "main|Vegetable tempura|y|15",
            "dessert|Matcha ice cream|y|6",
        ),
    ),
    "mexican": (
        ("La Cantina Roja", "Taquería El Sol", "Casa Oaxaca", "Mezcal y Maíz", "Cocina Frida"),
        (
            "starter|Guacamole with totopos|y|9",
            "starter|Elote|y|7",
            "main|Tacos al pastor|n|14",
            "main|Chicken mole poblano|n|19",
            "main|Mushroom quesadillas|y|12",
            "dessert|Churros with chocolate|y|7",
        ),
    ),
    "indian": (
        ("Spice Route", "Tandoor House", "Masala Garden", "Curry Leaf", "Bombay Kitchen"),
        (
            "starter|Vegetable samosas|y|7",
            "starter|Chicken tikka|n|10",
            "main|Butter chicken|n|18",
            "main|Palak paneer|y|15",
            "main|Lamb rogan josh|n|20",
            "dessert|Gulab jamun|y|6",
        ),
    ),
    "chinese": (
        ("Golden Dragon", "Jade Garden", "Dim Sum Palace", "Red Lantern", "Sichuan House"),
        (
            "starter|Pork dumplings|n|9",
            "starter|Spring rolls|y|7",
            "main|Kung pao chicken|n|16",
            "main|Mapo tofu|y|14",
            "main|Peking duck|n|32",
            "dessert|Mango pudding|y|6",
        ),
    ),
    "thai": (
        ("Bangkok Street", "Thai Orchid", "Lemongrass", "Siam Kitchen", "Baan Thai"),
        (
            "starter|Chicken satay|n|9",
            "starter|Papaya salad|y|8",
            "main|Pad thai|n|15",
            "main|Green curry with tofu|y|15",
            "main|Massaman beef curry|n|18",
            "dessert|Mango sticky rice|y|7",
        ),
    ),
    "american": (
        ("Liberty Burger", "Smokehouse BBQ", "The Corner Diner", "Brooklyn Grill", "Prime Steakhouse"),
        (
            "starter|Buffalo wings|n|11",
            "starter|Mac and cheese bites|y|9",
            "main|Classic cheeseburger|n|17",
            "main|Smoked brisket plate|n|26",
            "main|Black bean burger|y|16",
            "dessert|New York cheesecake|y|9",
        ),
    ),
    "spanish": (
        ("Tapas La Rambla", "El Rincón", "Casa Paella", "Bodega Sevilla", "Taberna del Mar"),
        (
            "starter|Patatas bravas|y|8",
            "starter|Jamón ibérico|n|18",
            "main|Seafood paella|n|26",
            "main|Tortilla española|y|12",
            "main|Gambas al ajillo|n|16",
            "dessert|Churros con chocolate|y|7",
        ),
    ),
    "middle_eastern": (
        ("Beirut Nights", "Falafel & Co", "Cedar Grill", "Sultan's Table", "Olive & Za'atar"),
        (
            "starter|Hummus with warm pita|y|8",
            "starter|Fattoush salad|y|9",
            "main|Lamb shawarma plate|n|18",
            "main|Falafel platter|y|14",
            "main|Mixed grill|n|24",
            "dessert|Baklava|y|7",
        ),
    ),
}
PRAISE = (
    "The {subject} was outstanding and the staff were lovely.",
    "Great atmosphere; we shared the {subject} and would come back for it.",
    "Generous portions and the {subject} tasted just like on holiday.",
    "Booked for a birthday - the {subject} was the highlight of the evening.",
)
CRITICISM = (
    "The {subject} was fine but the service was slow on a busy night.",
    "Pricey for what it is; the {subject} was a bit bland.",
    "We waited 40 minutes for a table despite the reservation, though the {subject} was good.",
)


@dataclass(frozen=True)
class Restaurant:
    id: str
    name: str
    cuisine: str
    city: City
    price_level: int
    rating: float
    review_count: int
    address: str
    phone: str
    lat: float
    lon: float
    opens: time
    closes: time
    closed_on: str | None
    features: tuple[str, ...]


def generate_restaurants(seed: int, city: City) -> list[Restaurant]:
    rng = seeded(seed, "restaurants", city.id)
    country = COUNTRIES[city.country_code]
    pairs = [(cuisine, name) for cuisine, (names, _) in CUISINES.items() for name in names]
    chosen = rng.sample(pairs, RESTAURANTS_PER_CITY)
    return [
        Restaurant(
            id=f"rst-{city.id}-{number:02d}",
            name=name,
            cuisine=cuisine,
            city=city,
            price_level=rng.choices((1, 2, 3, 4), weights=(3, 5, 3, 1))[0],
            rating=round(rng.uniform(3.4, 4.9), 1),
            review_count=rng.randint(25, 2600),
            address=street_address(rng, country.languages[0]),
            phone=phone_number(rng, country.calling_code),
            lat=round(city.lat + rng.uniform(-0.03, 0.03), 5),
            lon=round(city.lon + rng.uniform(-0.04, 0.04), 5),
            opens=rng.choice((time(11, 30), time(12, 0), time(17, 0))),
            closes=rng.choice((time(22, 0), time(23, 0), time(23, 30))),
            closed_on=rng.choice((None, "monday", "tuesday", "sunday")),
            features=tuple(f for f in FEATURES if rng.random() < 0.45),
        )
        for number, (cuisine, name) in enumerate(chosen, start=1)
    ]


class RestaurantsTool:
    # what the handlers change: each client session works on its own copy (see sandbox/sessions.py)
    STATE: ClassVar[tuple[str, ...]] = ("reservations", "_ids")

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.restaurants = {r.id: r for city in CITIES.values() for r in generate_restaurants(seed, city)}
        self.reservations: dict[str, dict[str, Any]] = {}
        self._ids = Counter("TR-", 200001)
        self._seed_reservation()

    def handlers(self) -> Mapping[str, Handler]:
        return {
            "searchRestaurants": self.search,
            "getRestaurant": self.get_restaurant,
            "getMenu": self.get_menu,
            "listRestaurantReviews": self.list_reviews,
            "createTableReservation": self.create_reservation,
            "getTableReservation": self.get_reservation,
        }

    def search(self, call: Call) -> Any:
        city = lookup_city(call["city_id"])
        lat, lon = call.get("lat", city.lat), call.get("lon", city.lon)
        found = [r for r in self.restaurants.values() if r.city.id == city.id]
        if call.get("cuisine"):
            found = [r for r in found if r.cuisine == call["cuisine"]]
        if call.get("max_price_level"):
            found = [r for r in found if r.price_level <= call["max_price_level"]]
        if call.get("min_rating") is not None:
            found = [r for r in found if r.rating >= call["min_rating"]]
        distance = {r.id: round(haversine_km(lat, lon, r.lat, r.lon), 2) for r in found}
        sort_keys: dict[str, Callable[[Restaurant], tuple[float, ...]]] = {
            "rating": lambda r: (-r.rating, -r.review_count),
            "distance": lambda r: (distance[r.id],),
            "price": lambda r: (r.price_level, -r.rating),
        }
        order = sort_keys[call["sort"]]
        results = [{**self._summary(r), "distance_km": distance[r.id]} for r in sorted(found, key=order)]
        return slice_of(results, call)

    def get_restaurant(self, call: Call) -> Any:
        restaurant = self._restaurant(call["restaurant_id"])
        hours = f"{restaurant.opens:%H:%M}-{restaurant.closes:%H:%M}"
        return {
            **self._summary(restaurant),
            "address": restaurant.address,
            "phone": restaurant.phone,
            "city": {
                "id": restaurant.city.id,
                "name": restaurant.city.name,
                "country_code": restaurant.city.country_code,
            },
            "opening_hours": {day: ("closed" if day == restaurant.closed_on else hours) for day in WEEKDAYS},
            "features": list(restaurant.features),
            "description": _describe(restaurant),
        }

    def get_menu(self, call: Call) -> Any:
        restaurant = self._restaurant(call["restaurant_id"])
        currency = currency_of(restaurant.city)
        rng = seeded(self.seed, "menu", restaurant.id)
        factor = restaurant.city.cost_index * (0.7 + 0.25 * restaurant.price_level)
        sections: dict[str, list[dict[str, Any]]] = {"starter": [], "main": [], "dessert": []}
        for course, name, vegetarian, usd in (d.split("|") for d in CUISINES[restaurant.cuisine][1]):
            price = local_price(float(usd) * factor * rng.uniform(0.9, 1.15), currency)
            sections[course].append({"name": name, "vegetarian": vegetarian == "y", "price": price})
        titles = {"starter": "Starters", "main": "Mains", "dessert": "Desserts"}
        return {
            "restaurant_id": restaurant.id,
            "currency": currency.code,
            "sections": [{"name": titles[course], "items": items} for course, items in sections.items()],
        }

    def list_reviews(self, call: Call) -> Any:
        restaurant = self._restaurant(call["restaurant_id"])
        reviews = generate_reviews(
            seeded(self.seed, "reviews", restaurant.id),
            id_prefix=restaurant.id,
            count=min(restaurant.review_count, 24),
            mean_rating=restaurant.rating,
            praise=PRAISE,
            criticism=CRITICISM,
            subjects=[d.split("|")[1].lower() for d in CUISINES[restaurant.cuisine][1]],
        )
        return {"restaurant_id": restaurant.id, **page_of(sort_reviews(reviews, call["sort"]), call)}

    def create_reservation(self, call: Call) -> Any:
        body = call.body
        restaurant = self._restaurant(body["restaurant_id"])
        day = date.fromisoformat(body["date"])
        at = time.fromisoformat(body["time"])
        if day < TODAY or day > TODAY + timedelta(days=90):
            raise bad_request(f"date must be between {TODAY} and {TODAY + timedelta(days=90)}.", param="date")
        if WEEKDAYS[day.weekday()] == restaurant.closed_on:
            raise conflict(
                f"{restaurant.name} is closed on {restaurant.closed_on.capitalize()}s.", param="date"
            )
        last_seating = time(restaurant.closes.hour - 1, restaurant.closes.minute)
        if not restaurant.opens <= at <= last_seating:
            raise conflict(
                f"{restaurant.name} seats guests between {restaurant.opens:%H:%M} and {last_seating:%H:%M}.",
                param="time",
            )
        reservation = self._reservation(self._ids.next_id(), restaurant, day, at, body)
        self.reservations[reservation["reservation_id"]] = reservation
        return Reply(reservation, status=201)

    def get_reservation(self, call: Call) -> Any:
        reservation = self.reservations.get(call["reservation_id"])
        if reservation is None:
            raise not_found("table reservation", call["reservation_id"], param="reservation_id")
        return reservation

    def _seed_reservation(self) -> None:
        rng = seeded(self.seed, "table-reservations")
        restaurant = self.restaurants[
            f"rst-{rng.choice(list(CITIES))}-{rng.randint(1, RESTAURANTS_PER_CITY):02d}"
        ]
        day = TODAY + timedelta(days=rng.randint(3, 20))
        details = {"party_size": rng.randint(2, 6), "name": person_name(rng)}
        reservation = self._reservation(
            self._ids.next_id(), restaurant, day, time(restaurant.opens.hour + 1, 30), details
        )
        self.reservations[reservation["reservation_id"]] = reservation

    def _reservation(
        self, reservation_id: str, restaurant: Restaurant, day: date, at: time, details: Mapping[str, Any]
    ) -> dict[str, Any]:
        return {
            "reservation_id": reservation_id,
            "status": "confirmed",
            "restaurant": {
                "id": restaurant.id,
                "name": restaurant.name,
                "address": restaurant.address,
                "phone": restaurant.phone,
            },
            "date": day.isoformat(),
            "time": f"{at:%H:%M}",
            "party_size": details["party_size"],
            "name": details["name"],
            "notes": details.get("notes", ""),
            "created_at": NOW_ISO,
        }

    def _summary(self, restaurant: Restaurant) -> dict[str, Any]:
        return {
            "id": restaurant.id,
            "name": restaurant.name,
            "cuisine": restaurant.cuisine,
            "price_level": restaurant.price_level,
            "rating": restaurant.rating,
            "review_count": restaurant.review_count,
            "lat": restaurant.lat,
            "lon": restaurant.lon,
        }

    def _restaurant(self, restaurant_id: str) -> Restaurant:
        restaurant = self.restaurants.get(restaurant_id)
        if restaurant is None:
            raise not_found("restaurant", restaurant_id, param="restaurant_id")
        return restaurant


def _describe(restaurant: Restaurant) -> str:
    cuisine = restaurant.cuisine.replace("_", " ")
    closed = "" if restaurant.closed_on is None else f", closed on {restaurant.closed_on.capitalize()}s"
    return f"{restaurant.name} serves {cuisine} food in {restaurant.city.name}{closed}."
