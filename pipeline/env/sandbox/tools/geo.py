"""CityAtlas Geo: city and country lookup, reverse geocoding and distances.

The entry point of most chains: city ids, coordinates, currencies and airport codes found here
are what the travel, weather, food, cinema and sports tools take as input.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..core import Call, Handler, fold
from ..errors import not_found
from ..pagination import slice_of
from ..world import CITIES, COUNTRIES, airports_of, haversine_km, initial_bearing, nearest_city
from .common import city_summary, lookup_city

KM_PER_MILE = 1.609344


class GeoTool:
    def __init__(self, seed: int) -> None:
        self.seed = seed  # the geography is real and does not vary with the seed

    def handlers(self) -> Mapping[str, Handler]:
        return {
            "searchCities": self.search_cities,
            "getCity": self.get_city,
            "reverseGeocode": self.reverse_geocode,
            "getCountry": self.get_country,
            "getDistance": self.get_distance,
        }

    def search_cities(self, call: Call) -> Any:
        cities = list(CITIES.values())
        if call.get("q"):
            needle = fold(call["q"])
            cities = [c for c in cities if needle in fold(c.name)]
        if call.get("country_code"):
            cities = [c for c in cities if c.country_code == call["country_code"].upper()]
        if call.get("min_population") is not None:
            cities = [c for c in cities if c.population >= call["min_population"]]
        if call["sort"] == "name":
            cities.sort(key=lambda c: fold(c.name))
        else:
            cities.sort(key=lambda c: -c.population)
        return slice_of([city_summary(c) for c in cities], call)

    def get_city(self, call: Call) -> Any:
        city = lookup_city(call["city_id"])
        country = COUNTRIES[city.country_code]
        return {
            **city_summary(city),
            "country": country.name,
            "timezone": city.timezone,
            "currency_code": country.currency,
            "languages": list(country.languages),
            "is_capital": country.capital == city.name,
            "airports": [{"iata": a.iata, "name": a.name} for a in airports_of(city.id)],
        }

    def reverse_geocode(self, call: Call) -> Any:
        city, distance = nearest_city(call["lat"], call["lon"])
        return {"city": city_summary(city), "distance_km": round(distance, 1)}

    def get_country(self, call: Call) -> Any:
        code = call["country_code"].upper()
        country = COUNTRIES.get(code)
        if country is None:
            raise not_found("country", code, param="country_code", key="code")
        cities = sorted((c for c in CITIES.values() if c.country_code == code), key=lambda c: -c.population)
        return {
            "code": country.code,
            "name": country.name,
            "continent": country.continent,
            "capital": country.capital,
            "currency_code": country.currency,
            "languages": list(country.languages),
            "calling_code": country.calling_code,
            "cities": [city_summary(c) for c in cities],
        }

    def get_distance(self, call: Call) -> Any:
        origin = lookup_city(call["from_city_id"], "from_city_id")
        target = lookup_city(call["to_city_id"], "to_city_id")
        km = haversine_km(origin.lat, origin.lon, target.lat, target.lon)
        distance = km / KM_PER_MILE if call["unit"] == "mi" else km
        return {
            "from": city_summary(origin),
            "to": city_summary(target),
            "distance": round(distance, 1),
            "unit": call["unit"],
            "bearing_degrees": round(initial_bearing(origin.lat, origin.lon, target.lat, target.lon), 1),
            # Cruise speed plus taxi, climb and descent: what a traveller would expect.
            "estimated_flight_hours": round(km / 830 + 0.6, 1) if km > 150 else 0.0,
        }
