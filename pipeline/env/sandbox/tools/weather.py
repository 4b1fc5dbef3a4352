"""SkyCast Weather: current conditions, daily forecasts, air quality and alerts by coordinates.

Weather is a pure function of (seed, place, date): a latitude-and-season climate model plus
seeded day-to-day variation. Current conditions, forecasts and alerts are all derived from
the same daily values, so they never contradict each other.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from ..core import Call, Handler, seeded
from ..world import NOW_ISO, TODAY, nearest_city

CONDITIONS = {
    "clear": "Clear sky",
    "partly_cloudy": "Partly cloudy",
    "cloudy": "Overcast",
    "drizzle": "Light drizzle",
    "rain": "Moderate rain",
    "thunderstorm": "Thunderstorms",
    "snow": "Snow showers",
    "fog": "Fog",
}
# (upper bound of PM2.5 in µg/m³, upper bound of the US AQI band, category)
AQI_BANDS = (
    (12.0, 50, "good"),
    (35.4, 100, "moderate"),
    (55.4, 150, "unhealthy_for_sensitive_groups"),
    (150.4, 200, "unhealthy"),
    (250.4, 300, "very_unhealthy"),
    (500.4, 500, "hazardous"),
)
AQI_ADVICE = {
    "good": "Air quality is satisfactory; enjoy outdoor activities.",
    "moderate": "Unusually sensitive people should consider limiting prolonged outdoor exertion.",
    "unhealthy_for_sensitive_groups": "Children, older adults and people with lung disease should reduce outdoor exertion.",
    "unhealthy": "Everyone should reduce prolonged or heavy exertion outdoors.",
    "very_unhealthy": "Avoid outdoor exertion; keep windows closed.",
    "hazardous": "Stay indoors and keep activity levels low.",
}


@dataclass(frozen=True)
class Day:
    date: date
    temp_min: float  # °C
    temp_max: float
    condition: str
    precipitation_probability: int
    precipitation_mm: float
    wind_kph: float
    wind_direction: int
    humidity: int
    uv_index: int


class WeatherTool:
    def __init__(self, seed: int) -> None:
        self.seed = seed

    def handlers(self) -> Mapping[str, Handler]:
        return {
            "getCurrentWeather": self.current,
            "getForecast": self.forecast,
            "getAirQuality": self.air_quality,
            "getWeatherAlerts": self.alerts,
        }

    def day(self, lat: float, lon: float, when: date) -> Day:
        rng = seeded(self.seed, "weather", round(lat, 1), round(lon, 1), when.isoformat())
        mean = _climate_mean(lat, when) + rng.uniform(-3.0, 3.0)
        spread = rng.uniform(3.5, 7.0)
        wet = rng.random()
        if 22 <= abs(lat) <= 33:  # the subtropical desert belt (Dubai, Cairo): hot and dry
            wet *= 0.55
            mean += 4.0
        if wet < 0.45:
            condition = "clear" if rng.random() < 0.6 else "partly_cloudy"
        elif wet < 0.65:
            condition = "cloudy" if rng.random() < 0.8 else "fog"
        elif wet < 0.8:
            condition = "drizzle"
        elif wet < 0.94:
            condition = "rain"
        else:
            condition = "thunderstorm" if mean > 12 else "rain"
        if condition in ("rain", "drizzle") and mean + spread < 2:
            condition = "snow"
        rain = {
            "drizzle": rng.uniform(0.2, 3),
            "rain": rng.uniform(3, 24),
            "thunderstorm": rng.uniform(8, 45),
            "snow": rng.uniform(1, 12),
        }
        wind = rng.uniform(4, 28) + (rng.uniform(15, 40) if condition == "thunderstorm" else 0)
        return Day(
            date=when,
            temp_min=round(mean - spread, 1),
            temp_max=round(mean + spread, 1),
            condition=condition,
            precipitation_probability=min(100, int(wet * 100) if condition in rain else int(wet * 30)),
            precipitation_mm=round(rain.get(condition, 0.0), 1),
            wind_kph=round(wind, 1),
            wind_direction=rng.randrange(0, 360, 10),
            humidity=int(min(98, 35 + wet * 60)),
            uv_index=max(0, min(11, round((mean - 2) / 3 * (0.4 if condition in rain else 1.0)))),
        )

    def current(self, call: Call) -> Any:
        lat, lon, units = call["lat"], call["lon"], call["units"]
        day = self.day(lat, lon, TODAY)
        rng = seeded(self.seed, "weather-now", round(lat, 1), round(lon, 1))
        temperature = day.temp_min + 0.35 * (day.temp_max - day.temp_min)
        wind = day.wind_kph * rng.uniform(0.6, 1.0)
        return {
            "location": _location(lat, lon),
            "observed_at": NOW_ISO,
            "units": units,
            "temperature": _temperature(temperature, units),
            "feels_like": _temperature(temperature - wind / 12 + (day.humidity - 50) / 25, units),
            "humidity": day.humidity,
            "pressure_hpa": round(1013 + rng.uniform(-12, 12) - day.precipitation_mm / 2),
            "wind_speed": _speed(wind, units),
            "wind_direction_deg": day.wind_direction,
            "condition": day.condition,
            "description": CONDITIONS[day.condition],
            "uv_index": max(0, day.uv_index - 2),
            "visibility_km": 0.8
            if day.condition == "fog"
            else round(rng.uniform(8, 10) - day.precipitation_mm / 6, 1),
        }

    def forecast(self, call: Call) -> Any:
        lat, lon, units = call["lat"], call["lon"], call["units"]
        days = [self.day(lat, lon, TODAY + timedelta(days=i)) for i in range(call["days"])]
        return {"location": _location(lat, lon), "units": units, "days": [_day_json(d, units) for d in days]}

    def air_quality(self, call: Call) -> Any:
        lat, lon = call["lat"], call["lon"]
        city, distance = nearest_city(lat, lon)
        rng = seeded(self.seed, "air", round(lat, 1), round(lon, 1))
        urban = city.population / 1e6 if distance < 60 else 0.3
        pm25 = round(max(2.0, 4 + urban * rng.uniform(1.5, 4.5) + rng.uniform(-2, 6)), 1)
        aqi, category = _us_aqi(pm25)
        pollutants = {
            "pm2_5": pm25,
            "pm10": round(pm25 * rng.uniform(1.4, 2.2), 1),
            "o3": round(rng.uniform(20, 110), 1),
            "no2": round(urban * rng.uniform(4, 9) + 5, 1),
        }
        return {
            "location": _location(lat, lon),
            "measured_at": NOW_ISO,
            "aqi": aqi,
            "category": category,
            "dominant_pollutant": "pm2_5" if pollutants["pm2_5"] * 2 > pollutants["o3"] / 2 else "o3",
            "pollutants": pollutants,
            "advice": AQI_ADVICE[category],
        }

    def alerts(self, call: Call) -> Any:
        lat, lon = call["lat"], call["lon"]
        alerts = []
        for i in range(call["days"]):
            day = self.day(lat, lon, TODAY + timedelta(days=i))
            alerts.extend(_alerts_for(day))
        return {"location": _location(lat, lon), "alerts": alerts}


def _climate_mean(lat: float, when: date) -> float:
    """Daily mean temperature: warmer towards the equator, seasons mirrored across it."""
    peak = 200 if lat >= 0 else 17  # warmest day of the year in each hemisphere
    season = math.cos(2 * math.pi * (when.timetuple().tm_yday - peak) / 365.25)
    return 29.5 - 0.4 * abs(lat) + 0.3 * abs(lat) * season


def _alerts_for(day: Day) -> list[dict[str, Any]]:
    found = []
    start, end = f"{day.date.isoformat()}T06:00:00Z", f"{day.date.isoformat()}T22:00:00Z"
    if day.temp_max >= 32:
        severity = "severe" if day.temp_max >= 38 else "moderate"
        found.append(
            (
                "heat",
                severity,
                "Heat advisory",
                f"Temperatures up to {day.temp_max:.0f} °C expected; stay hydrated and avoid the midday sun.",
            )
        )
    if day.condition == "thunderstorm":
        found.append(
            (
                "thunderstorm",
                "moderate",
                "Severe thunderstorm watch",
                "Thunderstorms with gusty winds and local hail are possible.",
            )
        )
    if day.precipitation_mm >= 20:
        found.append(
            (
                "flood",
                "moderate",
                "Flood watch",
                f"Up to {day.precipitation_mm:.0f} mm of rain may cause local flooding.",
            )
        )
    if day.wind_kph >= 45:
        found.append(
            ("wind", "minor", "Wind advisory", f"Gusts around {day.wind_kph:.0f} km/h; secure loose objects.")
        )
    return [
        {
            "type": kind,
            "severity": severity,
            "title": title,
            "description": text,
            "starts": start,
            "ends": end,
        }
        for kind, severity, title, text in found
    ]


def _location(lat: float, lon: float) -> dict[str, Any]:
    city, distance = nearest_city(lat, lon)
    return {
        "lat": lat,
        "lon": lon,
        "nearest_city": {
            "id": city.id,
            "name": city.name,
            "country_code": city.country_code,
            "distance_km": round(distance, 1),
        },
    }


def _day_json(day: Day, units: str) -> dict[str, Any]:
    return {
        "date": day.date.isoformat(),
        "temp_min": _temperature(day.temp_min, units),
        "temp_max": _temperature(day.temp_max, units),
        "condition": day.condition,
        "description": CONDITIONS[day.condition],
        "precipitation_probability": day.precipitation_probability,
        "precipitation_mm": day.precipitation_mm,
        "wind_speed": _speed(day.wind_kph, units),
        "humidity": day.humidity,
        "uv_index": day.uv_index,
    }


def _temperature(celsius: float, units: str) -> float:
    return round(celsius * 9 / 5 + 32, 1) if units == "imperial" else round(celsius, 1)


def _speed(kph: float, units: str) -> float:
    return round(kph / 1.609344, 1) if units == "imperial" else round(kph, 1)


def _us_aqi(pm25: float) -> tuple[int, str]:
    low_c, low_i = 0.0, 0
    for high_c, high_i, category in AQI_BANDS:
        if pm25 <= high_c:
            return round(low_i + (high_i - low_i) * (pm25 - low_c) / (high_c - low_c)), category
        low_c, low_i = high_c + 0.1, high_i + 1
    return 500, "hazardous"
