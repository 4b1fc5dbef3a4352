"""How remote spec files are fetched: limits, timeouts, retries and where bodies are kept.

Apart from :mod:`pipeline.specs.fetch` so that the configuration (:mod:`pipeline.settings`) can
name these options without importing aiohttp.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from pipeline import __version__


class FetchOptions(BaseModel):
    """How to fetch: limits, timeouts, retries and where bodies are kept."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    concurrency: int = Field(8, ge=1, description="downloads in flight at once")
    timeout_s: float = Field(30.0, gt=0, description="total time for one request, body included")
    connect_timeout_s: float = Field(10.0, gt=0, description="time to open the TCP/TLS connection")
    retries: int = Field(3, ge=0, description="extra attempts after a transient failure")
    backoff_base_s: float = Field(0.5, ge=0, description="first backoff; doubles per attempt")
    backoff_max_s: float = Field(30.0, ge=0, description="ceiling of one backoff wait")
    max_retry_after_s: float = Field(60.0, ge=0, description="ceiling on a server's Retry-After")
    max_bytes: int = Field(50 * 1024 * 1024, ge=0, description="largest body accepted")
    max_redirects: int = Field(10, ge=0)
    user_agent: str = f"toolgen/{__version__}"
    cache_dir: Path | None = Field(None, description="persistent HTTP cache; None = temp folder")
    max_age_s: float | None = Field(
        None,
        ge=0,
        description="reuse a cached body younger than this without asking the server at all",
    )
    allowed_hosts: list[str] = Field(
        default_factory=lambda: ["*"],
        description="host or host:port patterns (fnmatch) that URLs found in fetched documents "
        "and redirects may reach; public addresses only",
    )
    trusted_hosts: list[str] = Field(
        default_factory=list,
        description="host or host:port patterns that may be reached even at loopback, private or "
        "link-local addresses (an internal spec server); the URLs you give are trusted themselves",
    )
