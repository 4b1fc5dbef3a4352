"""The one aiohttp error table: what a failed request was, and whether trying again makes sense."""

from __future__ import annotations

import errno
import ssl

import aiohttp
import pytest
from aiohttp.client_reqrep import ConnectionKey

from pipeline.http_errors import Kind, Retry, classify_transport_error

KEY = ConnectionKey("api.example.com", 443, True, True, None, None, None)


def refused() -> aiohttp.ClientConnectorError:
    return aiohttp.ClientConnectorError(KEY, ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"))


CASES = [
    (aiohttp.ConnectionTimeoutError(), Kind.CONNECT_TIMEOUT, Retry.ALWAYS),
    (aiohttp.SocketTimeoutError(), Kind.TIMEOUT, Retry.IF_IDEMPOTENT),
    (TimeoutError(), Kind.TIMEOUT, Retry.IF_IDEMPOTENT),
    (aiohttp.TooManyRedirects(None, ()), Kind.TOO_MANY_REDIRECTS, Retry.NEVER),
    (aiohttp.NonHttpUrlRedirectClientError("ftp://x"), Kind.REDIRECT_NOT_HTTP, Retry.NEVER),
    (aiohttp.InvalidURL("http://"), Kind.INVALID_URL, Retry.NEVER),
    (aiohttp.ClientConnectorDNSError(KEY, OSError(-2, "Name or service not known")), Kind.DNS, Retry.NEVER),
    (aiohttp.ClientConnectorCertificateError(KEY, ssl.SSLCertVerificationError("bad cert")), Kind.TLS,
     Retry.NEVER),
    (refused(), Kind.REFUSED, Retry.ALWAYS),
    (aiohttp.ClientConnectorError(KEY, OSError(errno.ENETUNREACH, "Network is unreachable")), Kind.CONNECT,
     Retry.ALWAYS),
    (aiohttp.ServerDisconnectedError(), Kind.DISCONNECTED, Retry.IF_IDEMPOTENT),
    (aiohttp.ClientPayloadError("cut"), Kind.PAYLOAD, Retry.IF_IDEMPOTENT),
    (aiohttp.ClientOSError(errno.ECONNRESET, "reset"), Kind.OTHER, Retry.IF_IDEMPOTENT),
]


@pytest.mark.parametrize(("error", "kind", "retry"), CASES, ids=lambda v: type(v).__name__)
def test_each_failure_has_a_kind_and_a_retry_rule(error: BaseException, kind: Kind, retry: Retry) -> None:
    failure = classify_transport_error(error)
    assert (failure.kind, failure.retry) == (kind, retry)
    assert failure.error is error


def test_a_request_the_server_never_saw_may_always_be_repeated() -> None:
    failure = classify_transport_error(refused())
    assert failure.retryable(idempotent=False)
    assert not failure.request_sent


def test_a_request_the_server_may_have_acted_on_is_repeated_only_if_idempotent() -> None:
    failure = classify_transport_error(aiohttp.ServerDisconnectedError())
    assert failure.retryable(idempotent=True) and not failure.retryable(idempotent=False)
    assert failure.request_sent


def test_a_failure_that_would_repeat_itself_is_never_retried() -> None:
    failure = classify_transport_error(aiohttp.InvalidURL("nope"))
    assert not failure.retryable(idempotent=True)


def test_timeouts_are_marked_and_a_connect_failure_keeps_its_os_error() -> None:
    for error in (aiohttp.ConnectionTimeoutError(), TimeoutError()):
        failure = classify_transport_error(error)
        assert failure.timed_out
    down = aiohttp.ClientConnectorError(KEY, OSError(errno.ENETUNREACH, "down"))
    unreachable = classify_transport_error(down)
    assert not unreachable.timed_out
    assert isinstance(unreachable.os_error, OSError) and unreachable.os_error.errno == errno.ENETUNREACH


def test_an_error_that_is_not_a_transport_failure_is_not_dressed_up_as_one() -> None:
    for bug in (ValueError("a bug"), KeyError("x")):
        with pytest.raises(TypeError, match="not a transport error"):
            classify_transport_error(bug)  # type: ignore[arg-type]


def test_every_kind_is_worded_for_both_readers() -> None:
    for error, kind, _retry in CASES:
        if kind in (Kind.TOO_MANY_REDIRECTS, Kind.REDIRECT_NOT_HTTP):  # a tool call follows no redirects
            continue
        failure = classify_transport_error(error)
        for reader in ("tool call", "download"):
            text = failure.describe(reader, where="api.example.com:443", host="api.example.com",
                                    url="https://api.example.com/x", timeout_s=15, connect_timeout_s=5)
            assert text and "{" not in text


def test_a_tool_call_names_the_host_and_a_download_leaves_that_to_its_url() -> None:
    failure = classify_transport_error(refused())
    worded = failure.describe("tool call", where="127.0.0.1:8750")
    assert worded == "connection refused by 127.0.0.1:8750"
    assert failure.describe("download") == "connection refused"
    timeout = classify_transport_error(TimeoutError())
    assert timeout.describe("tool call", timeout_s=0.5) == "timed out after 0.5 s"
    assert timeout.describe("download", timeout_s=30.0) == "timed out after 30 s"


def test_a_download_words_its_redirect_failures() -> None:
    for error, text in ((aiohttp.TooManyRedirects(None, ()), "too many redirects (more than 3)"),
                        (aiohttp.NonHttpUrlRedirectClientError("ftp://x"), "redirected to a non-http(s) URL (ftp://x)")):
        failure = classify_transport_error(error)
        assert failure.describe("download", max_redirects=3) == text


def test_a_caller_can_redact_the_detail_of_an_unexpected_client_error() -> None:
    failure = classify_transport_error(aiohttp.ClientOSError(errno.ECONNRESET, "reset by sk-SECRET"))
    worded = failure.describe("tool call", where="h:1", detail="ClientOSError: reset by ***")
    assert worded == "request to h:1 failed: ClientOSError: reset by ***"
    assert "SECRET" in failure.describe("download")  # no secrets in a spec URL's request
