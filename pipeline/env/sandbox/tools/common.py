"""Lookups several tools share: resolving a city id and describing a city briefly."""

from __future__ import annotations

from typing import Any

from ..errors import not_found
from ..world import CITIES, City


def lookup_city(city_id: int, param: str = "city_id") -> City:
    city = CITIES.get(city_id)
    if city is None:
        raise not_found("city", city_id, param=param)
    return city


def city_summary(city: City) -> dict[str, Any]:
    return {
        "id": city.id,
        "name": city.name,
        "country_code": city.country_code,
        "lat": city.lat,
        "lon": city.lon,
        "population": city.population,
    }
