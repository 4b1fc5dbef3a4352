"""What an aiohttp failure means: one table for the loops that make requests over aiohttp.

Tool calls (:mod:`pipeline.env.http`) and spec downloads (:mod:`pipeline.specs.fetch`) both turn
an exception from aiohttp into a readable error and a decision about trying again. The kind of
failure and whether a new attempt makes sense are decided here, once; each caller words the
error its own way (a tool call names the host for the model, a download names the URL).

Whether a new attempt makes sense depends on whether the server may already have acted on the
request: a connection that never opened (refused, connect timeout) can always be tried again; a
request that was sent and then timed out, was cut off or dropped may have been carried out, so
only an idempotent one is repeated; a name that does not resolve, a TLS failure or a bad URL
will fail the same way again.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import aiohttp

from pipeline.net import is_connection_refused


class Retry(Enum):
    ALWAYS = "always"  # the server never saw the request
    IF_IDEMPOTENT = "if idempotent"  # the server may have acted on it
    NEVER = "never"  # it will fail the same way again


class Kind(Enum):
    CONNECT_TIMEOUT = "connect timeout"
    TIMEOUT = "timeout"
    TOO_MANY_REDIRECTS = "too many redirects"
    REDIRECT_NOT_HTTP = "redirect to a non-http(s) URL"
    INVALID_URL = "invalid URL"
    DNS = "name not resolved"
    TLS = "TLS error"
    REFUSED = "connection refused"
    CONNECT = "could not connect"
    DISCONNECTED = "server disconnected"
    PAYLOAD = "body cut off"
    OTHER = "other client error"


# Most specific first: ConnectionTimeoutError is a TimeoutError, the DNS and TLS errors are
# connector errors, and everything of aiohttp's is a ClientError.
_TABLE: tuple[tuple[type[BaseException], Kind, Retry], ...] = (
    (aiohttp.ConnectionTimeoutError, Kind.CONNECT_TIMEOUT, Retry.ALWAYS),
    (TimeoutError, Kind.TIMEOUT, Retry.IF_IDEMPOTENT),
    (aiohttp.TooManyRedirects, Kind.TOO_MANY_REDIRECTS, Retry.NEVER),
    (aiohttp.NonHttpUrlRedirectClientError, Kind.REDIRECT_NOT_HTTP, Retry.NEVER),
    (aiohttp.InvalidURL, Kind.INVALID_URL, Retry.NEVER),
    (aiohttp.ClientConnectorDNSError, Kind.DNS, Retry.NEVER),
    (aiohttp.ClientSSLError, Kind.TLS, Retry.NEVER),
    (aiohttp.ClientConnectorError, Kind.CONNECT, Retry.ALWAYS),
    (aiohttp.ServerDisconnectedError, Kind.DISCONNECTED, Retry.IF_IDEMPOTENT),
    (aiohttp.ClientPayloadError, Kind.PAYLOAD, Retry.IF_IDEMPOTENT),
    (aiohttp.ClientError, Kind.OTHER, Retry.IF_IDEMPOTENT),
)

# What the callers catch to hand to classify_transport_error.
TRANSPORT_ERRORS = (TimeoutError, aiohttp.ClientError)


@dataclass(frozen=True)
class TransportFailure:
    """A request that got no usable answer, and what that means for trying again."""

    kind: Kind
    retry: Retry
    error: BaseException

    def retryable(self, *, idempotent: bool) -> bool:
        return self.retry is Retry.ALWAYS or (self.retry is Retry.IF_IDEMPOTENT and idempotent)

    @property
    def timed_out(self) -> bool:
        return self.kind in (Kind.CONNECT_TIMEOUT, Kind.TIMEOUT)

    @property
    def os_error(self) -> OSError | None:
        """The underlying OS error of a connect failure (what to show after "could not connect")."""
        return self.error.os_error if isinstance(self.error, aiohttp.ClientConnectorError) else None


def classify_transport_error(error: BaseException) -> TransportFailure | None:
    """The failure an exception from an aiohttp request stands for; None if it is none of
    aiohttp's (or a timeout), i.e. a bug that should not be dressed up as a network error."""
    for kind_of_error, kind, retry in _TABLE:
        if isinstance(error, kind_of_error):
            if isinstance(error, aiohttp.ClientConnectorError) and kind is Kind.CONNECT \
                    and is_connection_refused(error.os_error):
                kind = Kind.REFUSED
            return TransportFailure(kind, retry, error)
    return None
