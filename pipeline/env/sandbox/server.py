"""Running the sandbox: in-process on a free port (tests, the pipeline) or as a blocking CLI."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Self

from aiohttp import web

from .app import create_app

logger = logging.getLogger(__name__)


@dataclass
class SandboxServer:
    """A running sandbox; ``base_url`` + ``/<slug>`` is a tool's server URL."""

    host: str
    port: int
    _runner: web.AppRunner

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def tool_url(self, slug: str) -> str:
        return f"{self.base_url}/{slug}"

    async def close(self) -> None:
        await self._runner.cleanup()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


async def start_sandbox(host: str = "127.0.0.1", port: int = 0, **app_options: Any) -> SandboxServer:
    """Start the sandbox on ``host:port`` (port 0 picks a free one); ``app_options`` go to ``create_app``."""
    runner = web.AppRunner(create_app(**app_options), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    bound_port = int(runner.addresses[0][1])
    logger.info("sandbox listening on http://%s:%d", host, bound_port)
    return SandboxServer(host=host, port=bound_port, _runner=runner)


def run_sandbox(
    host: str, port: int, seed: int, latency_ms: float, rate_limit_per_minute: int | None
) -> None:
    """Serve the sandbox until interrupted (``toolgen sandbox serve``)."""
    app = create_app(seed=seed, latency_ms=latency_ms, rate_limit_per_minute=rate_limit_per_minute)
    web.run_app(app, host=host, port=port, print=logger.info, access_log=None)
