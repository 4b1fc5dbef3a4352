"""The sandbox tools, one module each, keyed by the slug of their spec file."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

from ..core import SandboxTool
from .geo import GeoTool
from .hotels import HotelsTool
from .weather import WeatherTool

TOOLS: Mapping[str, Callable[[int], SandboxTool]] = MappingProxyType(
    {
        "geo": GeoTool,
        "weather": WeatherTool,
        "hotels": HotelsTool,
    }
)


def build_tool(slug: str, seed: int) -> SandboxTool:
    """The tool behind ``api_specs/sandbox/<slug>.yaml``, with its data generated from ``seed``."""
    try:
        factory = TOOLS[slug]
    except KeyError:
        raise ValueError(f"no sandbox implementation for spec {slug!r}; known: {sorted(TOOLS)}") from None
    return factory(seed)
