"""What an aiohttp failure means: one table for the loops that make requests over aiohttp.

Tool calls (:mod:`pipeline.env.http`) and spec downloads (:mod:`pipeline.specs.fetch`) both turn
an exception from aiohttp into a readable error and a decision about trying again. The kind of
failure, whether a new attempt makes sense, and how it is worded are decided here, once; the
wording differs by reader (a tool call's observation names the host for the model, a download's
error follows its URL).

Whether a new attempt makes sense depends on whether the server may already have acted on the
request: a connection that never opened (refused, connect timeout) can always be tried again; a
request that was sent and then timed out, was cut off or dropped may have been carried out, so
only an idempotent one is repeated; a name that does not resolve, a TLS failure or a bad URL
will fail the same way again.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Literal

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

# Each failure in words: (in a tool call's observation, which the model reads, so it names the
# host; in a download's error, which follows "<url>: "). Fields: where (host:port), host, url,
# error, os_error, detail (the error with its type, redacted by a caller that must),
# timeout_s, connect_timeout_s, max_redirects.
_WORDING: dict[Kind, tuple[str, str]] = {
    Kind.CONNECT_TIMEOUT: ("timed out after {timeout_s:g} s connecting to {where}",
                           "could not connect within {connect_timeout_s:g} s"),
    Kind.TIMEOUT: ("timed out after {timeout_s:g} s", "timed out after {timeout_s:g} s"),
    Kind.TOO_MANY_REDIRECTS: ("request to {where} failed: {detail}",
                              "too many redirects (more than {max_redirects})"),
    Kind.REDIRECT_NOT_HTTP: ("request to {where} failed: {detail}",
                             "redirected to a non-http(s) URL ({error})"),
    Kind.INVALID_URL: ("invalid URL: {url}", "invalid URL ({error})"),
    Kind.DNS: ("could not resolve host {host}", "could not resolve the host name"),
    Kind.TLS: ("TLS error talking to {where}: {error}", "TLS error: {error}"),
    Kind.REFUSED: ("connection refused by {where}", "connection refused"),
    Kind.CONNECT: ("could not connect to {where}: {os_error}", "could not connect: {os_error}"),
    Kind.DISCONNECTED: ("{where} closed the connection without answering", "server closed the connection"),
    Kind.PAYLOAD: ("the response from {where} was cut off ({error})", "incomplete body ({error})"),
    Kind.OTHER: ("request to {where} failed: {detail}", "{detail}"),
}

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
    def request_sent(self) -> bool:
        """Whether the request went out (so part of an answer may have come back)."""
        return self.retry is Retry.IF_IDEMPOTENT

    @property
    def os_error(self) -> OSError | None:
        """The underlying OS error of a connect failure (what to show after "could not connect")."""
        return self.error.os_error if isinstance(self.error, aiohttp.ClientConnectorError) else None

    def describe(
        self,
        reader: Literal["tool call", "download"],
        *,
        where: str = "",
        host: str = "",
        url: str = "",
        detail: str | None = None,
        timeout_s: float = 0.0,
        connect_timeout_s: float = 0.0,
        max_redirects: int = 0,
    ) -> str:
        """The failure in the words its reader gets (see ``_WORDING``); ``detail`` defaults to
        the error's type and message."""
        error = self.error
        for_tool_call, for_download = _WORDING[self.kind]
        template = for_tool_call if reader == "tool call" else for_download
        if detail is None and "{detail}" in template:
            detail = f"{type(error).__name__}: {error}"
        return template.format(
            where=where, host=host, url=url, error=error, os_error=self.os_error, detail=detail,
            timeout_s=timeout_s, connect_timeout_s=connect_timeout_s, max_redirects=max_redirects,
        )


def classify_transport_error(error: TimeoutError | aiohttp.ClientError) -> TransportFailure:
    """The failure an exception from an aiohttp request (one of :data:`TRANSPORT_ERRORS`) stands
    for. Anything else is a bug, not a network error, and is refused with a TypeError."""
    for kind_of_error, kind, retry in _TABLE:
        if isinstance(error, kind_of_error):
            if isinstance(error, aiohttp.ClientConnectorError) and kind is Kind.CONNECT \
                    and is_connection_refused(error.os_error):
                kind = Kind.REFUSED
            return TransportFailure(kind, retry, error)
    raise TypeError(f"not a transport error: {error!r}")

