"""Small HTTP helpers shared by the spec fetcher and the tool-call environment.

Both talk to servers they do not control over aiohttp and must read ``Retry-After``, back off
with jitter, recognise a refused connection and compare media types the same way.
"""

from __future__ import annotations

import email.utils
import errno
import random
from datetime import UTC, datetime

from yarl import URL


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date), or None."""
    if value is None:
        return None
    value = value.strip()
    try:  # delta-seconds; some servers send fractions ("0.5")
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if seconds == seconds and seconds != float("inf") else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; obsolete forms may omit the zone
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def backoff_delay(attempt: int, base_s: float, max_s: float, rng: random.Random) -> float:
    """The wait before retry number ``attempt`` (1-based): exponential with "equal jitter".

    At least half the backoff, so retries still slow down, but spread so that many clients
    failing together do not come back together.
    """
    ceiling = min(max_s, base_s * 2.0 ** (attempt - 1))
    return ceiling / 2 + rng.uniform(0, ceiling / 2)


def is_http_url(url: str) -> bool:
    """True for an absolute http:// or https:// URL with a host."""
    try:
        parsed = URL(url)
    except (TypeError, ValueError):
        return False
    return parsed.scheme in ("http", "https") and bool(parsed.host)


def origin(url: str) -> tuple[str, str, int] | None:
    """``(scheme, host, port)`` of an absolute http(s) URL without userinfo, the port filled in
    from the scheme; ``None`` for anything else (a URL with userinfo has no origin here: it is
    how ``http://127.0.0.1:8750@elsewhere`` hides another host behind a trusted prefix)."""
    try:
        parsed = URL(url)
    except (TypeError, ValueError):
        return None
    if parsed.scheme not in ("http", "https") or not parsed.host or parsed.user is not None or parsed.port is None:
        return None
    if parsed.password is not None:
        return None
    return parsed.scheme, parsed.host.lower().rstrip("."), parsed.port


def is_under(url: str, base: str) -> bool:
    """True when ``url`` has ``base``'s origin and its path is ``base``'s path or below it (whole
    segments: ``/api`` covers ``/api/x``, not ``/apix``). Compares parsed URLs, never strings."""
    here, there = origin(url), origin(base)
    if here is None or here != there:
        return False
    prefix = URL(base).path.rstrip("/")
    path = URL(url).path
    return not prefix or path == prefix or path.startswith(prefix + "/")


def is_connection_refused(error: OSError) -> bool:
    """True when ``error`` (an aiohttp connector's ``os_error``) means "connection refused"."""
    # A host with several addresses (localhost: ::1 and 127.0.0.1) fails with one OSError that
    # only lists the per-address errors in its message, with no errno of its own.
    return (
        isinstance(error, ConnectionRefusedError)
        or error.errno == errno.ECONNREFUSED
        or "connection refused" in str(error).lower()
    )


def media_type(header: str | None) -> str | None:
    """The media type of a ``Content-Type`` header: lower case, without parameters."""
    if not header:
        return None
    return header.split(";", 1)[0].strip().lower() or None
