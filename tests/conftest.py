"""Shared fixtures: small spec folders written per test, and a local HTTP server for them."""

from __future__ import annotations

import os
import tempfile

# Prefect reads these at import; the tests must never touch the user's ~/.prefect or phone home.
os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="toolgen-prefect-"))
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
# a stage's per-item guard lets unexpected exceptions through, so a bug fails its test
# (pipeline.failures); tests of the guard itself unset it
os.environ.setdefault("TOOLGEN_STRICT_ITEMS", "1")

import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest
from aiohttp import web

WEATHER_OPENAPI = textwrap.dedent(
    """
    openapi: 3.0.3
    info:
      title: Weather Now
      version: "2.1"
      description: Current weather and forecasts for any city.
      x-apisguru-categories: [weather]
    servers: [{url: "https://api.weather.example/v2"}]
    paths:
      /current:
        get:
          operationId: getCurrentWeather
          summary: Current weather for a city
          parameters:
            - {name: city, in: query, required: true, schema: {type: string}, example: Paris}
            - {name: units, in: query, schema: {type: string, enum: [metric, imperial], default: metric}}
          responses:
            "200":
              content:
                application/json:
                  schema: {$ref: "#/components/schemas/Weather"}
      /forecast/{city}:
        get:
          operationId: getForecast
          summary: Five-day forecast for a city
          parameters:
            - {name: city, in: path, required: true, schema: {type: string}}
            - {name: days, in: query, schema: {type: integer, minimum: 1, maximum: 5}}
          responses:
            "200":
              content:
                application/json:
                  schema: {type: array, items: {$ref: "#/components/schemas/Weather"}}
    components:
      schemas:
        Weather:
          type: object
          properties:
            city: {type: string}
            temperature: {type: number}
            conditions: {type: string}
    """
)

HOTELS_SWAGGER = {
    "swagger": "2.0",
    "info": {"title": "Hotel Finder", "version": "1", "description": "Find and book hotels."},
    "host": "hotels.example.com",
    "basePath": "/api",
    "schemes": ["https"],
    "tags": [{"name": "Travel"}],
    "paths": {
        "/hotels": {
            "get": {
                "operationId": "searchHotels",
                "summary": "Search hotels in a city",
                "parameters": [
                    {"name": "city", "in": "query", "type": "string", "required": True},
                    {"name": "max_price", "in": "query", "type": "number"},
                ],
                "responses": {"200": {"description": "ok", "schema": {"$ref": "#/definitions/HotelList"}}},
            }
        },
        "/bookings": {
            "post": {
                "operationId": "bookHotel",
                "summary": "Book a hotel room",
                "parameters": [
                    {
                        "name": "booking",
                        "in": "body",
                        "required": True,
                        "schema": {
                            "type": "object",
                            "required": ["hotel_id"],
                            "properties": {"hotel_id": {"type": "string"}, "nights": {"type": "integer"}},
                        },
                    }
                ],
                "responses": {"201": {"description": "booked"}},
            }
        },
    },
    "definitions": {
        "HotelList": {
            "type": "array",
            "items": {"type": "object", "properties": {"id": {"type": "string"}, "name": {"type": "string"}}},
        }
    },
}

STOCKS_TOOLBENCH = {
    "tool_name": "Stock Quotes",
    "tool_description": "Real-time stock quotes.",
    "title": "Stock Quotes",
    "standardized_name": "stock_quotes",
    "api_list": [
        {
            "name": "Quote",
            "url": "https://stock-quotes.p.rapidapi.com/quote/{symbol}",
            "method": "GET",
            "description": "Latest quote for a ticker symbol",
            "required_parameters": [
                {"name": "symbol", "type": "STRING", "description": "Ticker", "default": "AAPL"}
            ],
            "optional_parameters": [],
            "template_response": {"symbol": "str", "price": "float"},
        }
    ],
}


def write_spec_folder(root: Path) -> Path:
    """A folder with one spec of each kind, a ToolBench category folder and a broken file."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "weather.yaml").write_text(WEATHER_OPENAPI)
    (root / "hotels.json").write_bytes(orjson.dumps(HOTELS_SWAGGER))
    (root / "Finance").mkdir(exist_ok=True)
    (root / "Finance" / "stock_quotes.json").write_bytes(orjson.dumps(STOCKS_TOOLBENCH))
    (root / "broken.yaml").write_text("openapi: 3.0.0\ninfo: {title: [unclosed\n")
    return root


@pytest.fixture
def spec_folder(tmp_path: Path) -> Path:
    return write_spec_folder(tmp_path / "specs")


class SpecServer:
    """A static file server for a spec folder, with request counting (ETag/304 via aiohttp)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.requests: list[tuple[str, int]] = []
        self.base_url = ""
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        async def count(request: web.Request, response: web.StreamResponse) -> None:
            # recorded at prepare time: a static file response settles on 304 only then
            self.requests.append((request.path, response.status))

        app = web.Application()
        app.on_response_prepare.append(count)
        app.router.add_static("/", self.folder)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}"

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@pytest.fixture
async def spec_server(spec_folder: Path) -> AsyncIterator[SpecServer]:
    server = SpecServer(spec_folder)
    await server.start()
    yield server
    await server.close()


def sandbox_queries_run(run_dir: Path, per_group: dict[str, int], instructions_per_set: int) -> Path:
    """A run folder with the bundled sandbox's catalog and offline-written queries (collect and
    generate run for real), for the stage tests that start from queries."""
    import asyncio

    from pipeline.generate.stage import generate_queries
    from pipeline.settings import load_settings
    from pipeline.specs.collect import collect_catalog

    sandbox = Path(__file__).resolve().parents[1] / "api_specs" / "sandbox"
    settings = load_settings(run_dir=run_dir, collect={"workers": 0, "sources": [str(sandbox)]},
                             generate={"per_group": per_group, "instructions_per_set": instructions_per_set})
    asyncio.run(collect_catalog(None, settings))
    asyncio.run(generate_queries(settings))
    return run_dir
