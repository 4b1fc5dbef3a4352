"""The sandbox tools, one module each, keyed by the slug of their spec file."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

from ..core import SandboxTool
from .agenda import CalendarTool
from .cinemas import CinemasTool
from .currency import CurrencyTool
from .flights import FlightsTool
from .geo import GeoTool
from .hotels import HotelsTool
from .language import LanguageTool
from .mail import MailTool
from .movies import MoviesTool
from .recipes import RecipesTool
from .restaurants import RestaurantsTool
from .shop import ShopTool
from .sports import SportsTool
from .stocks import StocksTool
from .weather import WeatherTool

TOOLS: Mapping[str, Callable[[int], SandboxTool]] = MappingProxyType(
    {
        "geo": GeoTool,
        "weather": WeatherTool,
        "hotels": HotelsTool,
        "flights": FlightsTool,
        "restaurants": RestaurantsTool,
        "recipes": RecipesTool,
        "movies": MoviesTool,
        "cinemas": CinemasTool,
        "stocks": StocksTool,
        "currency": CurrencyTool,
        "shop": ShopTool,
        "sports": SportsTool,
        "language": LanguageTool,
        "mail": MailTool,
        "calendar": CalendarTool,
    }
)


def build_tool(slug: str, seed: int) -> SandboxTool:
    """The tool behind ``api_specs/sandbox/<slug>.yaml``, with its data generated from ``seed``."""
    try:
        factory = TOOLS[slug]
    except KeyError:
        raise ValueError(f"no sandbox implementation for spec {slug!r}; known: {sorted(TOOLS)}") from None
    return factory(seed)
