"""Real tool calls over HTTP: one API call in, one :class:`Observation` out, never an exception.

:func:`build_request` turns an API and its (already validated) arguments into a request: the
spec's URL (with ``url_rewrites``, so specs written for ``http://127.0.0.1:8750`` reach the
sandbox wherever it listens), path parameters in ``{name}`` or ``:name`` style, query, header
and cookie parameters, and the body as JSON or a form. :class:`HttpExecutor` sends it within
the limits of ``env``: the host policy first (a refused host never sees a packet), a global and
a per-host bound on calls in flight, a timeout per attempt, retries with backoff for answers
that mean "later", a byte cap while the body streams in. Whatever happens comes back as an
observation a model can read: the parsed body, or an error such as ``HTTP 404: No hotel with
id 'x'.``, ``timed out after 15 s`` or ``connection refused by api.example.com:443``.

Secrets never reach a log line or an observation: URLs are logged through the credential
resolver's redaction, and a response that echoes a secret is scrubbed.
"""

from __future__ import annotations

import asyncio
import codecs
import html
import logging
import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp
import orjson
from yarl import URL

from pipeline import __version__
from pipeline.env.credentials import CredentialResolver, looks_secret, pop_header, redact_url, set_header
from pipeline.env.observation import Observation, error_observation
from pipeline.env.sandbox.app import CLIENT_HEADER
from pipeline.hosts import HostNotAllowed, HostPolicy, HostUnresolvable
from pipeline.http_errors import TRANSPORT_ERRORS, Kind, TransportFailure, classify_transport_error
from pipeline.io import dumps, loads
from pipeline.models import Api, Param, Tool
from pipeline.net import media_type, parse_retry_after
from pipeline.retry import TOOL_CALL_STATUSES, RetryPolicy, retrying
from pipeline.settings import EnvSettings

logger = logging.getLogger(__name__)

CHUNK_SIZE = 64 * 1024
MAX_REDIRECTS = 5
ERROR_MESSAGE_CHARS = 300

_ACCEPT = "application/json, text/plain;q=0.9, */*;q=0.5"
_USER_AGENT = f"toolgen/{__version__}"
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_MANAGED_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection"})
_BINARY_PREFIXES = ("image/", "audio/", "video/", "font/")
_BINARY_TYPES = frozenset(
    {"application/octet-stream", "application/pdf", "application/zip", "application/gzip"}
)
_SCHEME_AUTHORITY = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*://[^/?#]*)(.*)$", re.DOTALL)
_TEMPLATE = re.compile(r"\{([^{}/]+)\}")
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
# Characters left as they are when a spec's path is made safe to send (``%`` keeps escapes).
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"


class RequestError(ValueError):
    """The arguments cannot make a request (a path parameter missing, a header with a newline)."""


@dataclass
class PreparedRequest:
    """A request ready to send. ``url`` has no credentials yet: it is safe to log."""

    method: str
    url: str  # scheme, host and path, plus any query written into the spec's URL
    query: list[tuple[str, str]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    form_fields: list[tuple[str, str]] | None = None  # multipart/form-data, built per attempt

    def full_url(self, extra_query: Mapping[str, str] | None = None) -> str:
        pairs = self.query
        if extra_query:
            replaced = set(extra_query)
            pairs = [(k, v) for k, v in pairs if k not in replaced] + list(extra_query.items())
        if not pairs:
            return self.url
        separator = "&" if "?" in self.url else "?"
        return self.url + separator + urlencode(pairs, quote_via=quote, safe=",")

    def data(self) -> bytes | aiohttp.FormData | None:
        if self.form_fields is None:
            return self.body
        form = aiohttp.FormData(quote_fields=False, default_to_multipart=True)
        for name, value in self.form_fields:
            form.add_field(name, value)
        return form


def build_request(
    tool: Tool, api: Api, arguments: Mapping[str, Any], *, url_rewrites: Mapping[str, str] | None = None
) -> PreparedRequest:
    """The request an API call with ``arguments`` makes; RequestError if it cannot be made.

    Arguments the API does not declare (allowed when unknown arguments are not rejected) go
    into the JSON body of a POST/PUT/PATCH that has one, else into the query string.
    """
    method = (api.method or "GET").upper()
    declared = {p.name: p for p in api.parameters}
    given = {name: value for name, value in arguments.items() if value is not None}
    template = rewrite_url(_spec_url(tool, api), url_rewrites or {})
    has_body = api.body_schema is not None or any(p.location == "body" for p in api.parameters)
    extras = {n: v for n, v in given.items() if n not in declared}
    extras_in_body = method in _BODY_METHODS and has_body

    url = _fill_path(template, [p for p in api.parameters if p.location == "path"], given, extras)
    request = PreparedRequest(method=method, url=url)
    body_fields: dict[str, Any] = {}
    form_fields: list[tuple[str, Any]] = []
    cookies: list[str] = []
    for param in api.parameters:
        if param.name not in given:
            continue
        value = given[param.name]
        if param.location == "query":
            request.query.extend(_query_pairs(param.name, value))
        elif param.location == "header":
            if param.name.lower() not in _MANAGED_HEADERS:
                set_header(request.headers, _token(param.name, "header"), _header_text(param.name, value))
        elif param.location == "cookie":
            cookies.append(f"{_token(param.name, 'cookie')}={quote(_text(value), safe='')}")
        elif param.location == "body":
            body_fields[_wire_name(api, param)] = value
        elif param.location == "formData":
            form_fields.extend((param.name, item) for item in _as_list(value))
    for name, value in extras.items():
        if extras_in_body:
            body_fields[name] = value
        elif "{" + name + "}" not in template:
            request.query.extend(_query_pairs(name, value))
    if cookies:
        request.headers["Cookie"] = "; ".join(cookies)
    _set_body(request, api, body_fields, form_fields)
    return request


class HttpExecutor:
    """Makes real API calls within ``env``'s limits; the session belongs to the caller.

    Use :func:`make_session` for a session whose connections obey the host policy too (it
    resolves names through the policy, which closes the window between the check and the
    connection) and that keeps no cookies between calls.
    """

    def __init__(
        self,
        settings: EnvSettings,
        *,
        session: aiohttp.ClientSession,
        policy: HostPolicy,
        credentials: CredentialResolver,
        url_rewrites: Mapping[str, str] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._settings = settings
        self._session = session
        self._policy = policy
        self._credentials = credentials
        self._rewrites = dict(url_rewrites or {})
        self._rng = rng or random.Random()
        # backoff grows up to the longest wait a server may ask for
        self._retry = RetryPolicy(TOOL_CALL_STATUSES, settings.retries, settings.backoff_base_s,
                                  settings.max_retry_after_s, settings.max_retry_after_s)
        self._slots = asyncio.Semaphore(settings.concurrency)
        self._host_slots: dict[str, asyncio.Semaphore] = {}

    async def execute(
        self, tool: Tool, api: Api, arguments: Mapping[str, Any], *, client_id: str | None = None
    ) -> Observation:
        """Call the API; the observation carries the parsed body or a readable error."""
        started = time.monotonic()
        try:
            observation = await self._execute(tool, api, arguments, client_id)
        except Exception as error:  # a bug must cost one call, not the search
            message = self._credentials.redact(f"{type(error).__name__}: {error}")
            leaks = message != f"{type(error).__name__}: {error}"
            logger.error("unexpected failure calling %s: %s", api.name, message, exc_info=not leaks)
            observation = Observation(error=f"unexpected error: {message}", mode="real")
        observation.error = self._credentials.scrub(observation.error)
        observation.response = self._credentials.scrub(observation.response)
        observation.elapsed_ms = round((time.monotonic() - started) * 1000, 1)
        return observation

    async def _execute(
        self, tool: Tool, api: Api, arguments: Mapping[str, Any], client_id: str | None
    ) -> Observation:
        try:
            request = build_request(tool, api, arguments, url_rewrites=self._rewrites)
        except RequestError as error:
            return error_observation(str(error))
        try:
            await self._policy.check(request.url)
        except HostUnresolvable as error:
            return Observation(error=str(error), mode="real")
        except HostNotAllowed as error:
            logger.info("not calling %s %s: %s", request.method, _Lazy(self._credentials.redact_url, request.url), error)
            return error_observation(str(error))
        secret_query: dict[str, str] = {}
        headers = {"Accept": _ACCEPT, "User-Agent": _USER_AGENT}
        for name, value in request.headers.items():
            set_header(headers, name, value)
        self._credentials.apply(tool, headers, secret_query, url=request.url)
        if client_id:
            headers[CLIENT_HEADER] = client_id
        url = request.full_url(secret_query)
        return await self._send(request, url, headers)

    async def _send(self, request: PreparedRequest, url: str, headers: dict[str, str]) -> Observation:
        # redaction runs only if a log record is actually written; it was ~5% of a call's CPU
        shown = _Lazy(self._credentials.redact_url, url)
        host_slots = self._host_slot(url)
        timeouts = 0

        async def attempt(_number: int) -> _Outcome:
            nonlocal timeouts
            async with host_slots, self._slots:
                outcome = await self._attempt(request, url, headers)
            timeouts += outcome.timed_out
            return outcome

        def summary(outcome: _Outcome) -> _Lazy:
            observation = outcome.observation
            return _Lazy(self._credentials.redact, observation.error or f"HTTP {observation.status}")

        def before_retry(outcome: _Outcome, number: int, delay: float) -> None:
            logger.info("%s %s: %s; retry %d in %.2f s", request.method, shown, summary(outcome), number,
                        delay)

        outcome, attempts = await retrying(
            attempt, self._retry, rng=self._rng, before_retry=before_retry,
            # A call that timed out twice will most likely time out a third time.
            stop=lambda _outcome: timeouts > 1,
        )
        logger.debug("%s %s: %s (%d attempt(s))", request.method, shown, summary(outcome), attempts)
        return outcome.observation

    def _host_slot(self, url: str) -> asyncio.Semaphore:
        parsed = URL(url, encoded=True)
        key = f"{parsed.host}:{parsed.port}"
        slot = self._host_slots.get(key)
        if slot is None:
            slot = self._host_slots[key] = asyncio.Semaphore(self._settings.per_host_concurrency)
        return slot

    async def _attempt(self, request: PreparedRequest, url: str, headers: dict[str, str]) -> _Outcome:
        settings = self._settings
        idempotent = request.method in _IDEMPOTENT
        target = URL(url, encoded=True)
        timeout = aiohttp.ClientTimeout(total=settings.timeout_s)
        try:
            async with asyncio.timeout(settings.timeout_s):
                return await self._exchange(request, target, dict(headers), timeout)
        except HostUnresolvable as error:  # from the policy resolver at connect time
            return _Outcome.failed(str(error))
        except HostNotAllowed as error:  # from the policy resolver at connect time
            return _Outcome(error_observation(str(error)))
        except TRANSPORT_ERRORS as error:
            failure = classify_transport_error(error)
            message = self._failure_message(failure, target, url)
            if failure.kind is Kind.INVALID_URL:  # the arguments made it: the model should learn
                return _Outcome(error_observation(message))
            return _Outcome.failed(
                message, retryable=failure.retryable(idempotent=idempotent), timed_out=failure.timed_out
            )

    def _failure_message(self, failure: TransportFailure, target: URL, url: str) -> str:
        """What the model reads when a call got no answer: the host, and what went wrong."""
        error = failure.error
        return failure.describe(
            "tool call", where=f"{target.host}:{target.port}", host=str(target.host),
            url=self._credentials.redact_url(url), timeout_s=self._settings.timeout_s,
            detail=self._credentials.redact(f"{type(error).__name__}: {error}"),
        )

    async def _exchange(
        self, request: PreparedRequest, target: URL, headers: dict[str, str], timeout: aiohttp.ClientTimeout
    ) -> _Outcome:
        method, send_body = request.method, True
        for _ in range(MAX_REDIRECTS + 1):
            data = request.data() if send_body else None  # a form can be sent only once
            async with self._session.request(
                method, target, headers=headers, data=data, timeout=timeout, allow_redirects=False
            ) as response:
                location = response.headers.get("Location")
                if response.status not in _REDIRECTS or not location:
                    return await self._read(response, method)
            try:
                following = target.join(URL(location))
            except ValueError:
                return _Outcome.failed(f"HTTP {response.status}: redirected to an invalid URL")
            try:
                await self._policy.check(str(following))
            except HostNotAllowed as error:
                return _Outcome.failed(f"HTTP {response.status}: not following the redirect: {error}")
            if response.status == 303 or (response.status in (301, 302) and method == "POST"):
                method, send_body = "GET", False
                pop_header(headers, "Content-Type")
            if following.origin() != target.origin():
                # The secret was meant for the first host only.
                for name in list(headers):
                    if looks_secret(name) or name.lower() in self._credentials.secret_names:
                        headers.pop(name)
            target = following
        return _Outcome.failed(f"too many redirects (more than {MAX_REDIRECTS})")

    async def _read(self, response: aiohttp.ClientResponse, method: str) -> _Outcome:
        cap = self._settings.max_response_bytes
        body = bytearray()
        truncated = False
        async for chunk in response.content.iter_chunked(CHUNK_SIZE):
            room = cap - len(body)
            if len(chunk) > room:
                body += chunk[:room]
                truncated = True
                break
            body += chunk
        if truncated:
            response.close()  # drop the connection rather than drain what we will not read
        status = response.status
        ctype = media_type(response.headers.get("Content-Type"))
        text = bytes(body).decode(_charset(response), "replace")
        if truncated:
            observation = Observation(
                error=f"response larger than {cap} bytes; cut", response=text, status=status, truncated=True
            )
            return _Outcome(observation)
        observation = _interpret(status, response.reason, ctype, bytes(body), text)
        statuses = self._retry.statuses
        retry_after = (parse_retry_after(response.headers.get("Retry-After"))
                       if statuses.reads_retry_after(status) else None)
        retryable = statuses.retries(status, idempotent=method in _IDEMPOTENT)
        return _Outcome(observation, retryable=retryable, retry_after=retry_after)


class _Lazy:
    """A log argument computed only when the record is formatted."""

    __slots__ = ("_args", "_function")

    def __init__(self, function: Callable[..., str], *args: Any) -> None:
        self._function = function
        self._args = args

    def __str__(self) -> str:
        return self._function(*self._args)


def make_session(settings: EnvSettings, policy: HostPolicy) -> aiohttp.ClientSession:
    """A session for :class:`HttpExecutor`: policy-checked DNS, env's limits, no cookie jar.

    Call inside the event loop that will use it; the caller closes it.
    """
    connector = aiohttp.TCPConnector(
        limit=settings.concurrency,
        limit_per_host=settings.per_host_concurrency,
        resolver=policy.resolver(),
    )
    # No cookie jar: a cookie one trajectory earned must not leak into the next one.
    return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar())


# --------------------------------------------------------------------------------------------
# Reading responses


@dataclass
class _Outcome:
    observation: Observation
    retryable: bool = False
    retry_after: float | None = None
    timed_out: bool = False

    @classmethod
    def failed(cls, message: str, *, retryable: bool = False, timed_out: bool = False) -> _Outcome:
        return cls(Observation(error=message, mode="real"), retryable=retryable, timed_out=timed_out)


def _interpret(status: int, reason: str | None, ctype: str | None, raw: bytes, text: str) -> Observation:
    html_page = _is_html(ctype, text)
    if html_page:
        body: Any = _html_excerpt(text)
    elif _is_binary(ctype):
        body = f"<{len(raw)} bytes of {ctype}>"
    else:
        body = _parse_text(ctype, raw, text)
    if status >= 400:
        message = (_message_of(body) if not html_page else body) or reason or "error"
        message = " ".join(str(message).split())
        if len(message) > ERROR_MESSAGE_CHARS:
            message = message[:ERROR_MESSAGE_CHARS] + "..."
        return Observation(error=f"HTTP {status}: {message}", response=body, status=status)
    if html_page:
        kind = ctype or "text/html"
        return Observation(
            error=f"the API answered with an HTML page, not data (HTTP {status}, {kind})",
            response=body,
            status=status,
        )
    return Observation(response=body, status=status)


def _charset(response: aiohttp.ClientResponse) -> str:
    declared = response.charset
    if declared:
        try:
            codecs.lookup(declared)
        except LookupError:
            return "utf-8"
        return declared
    return "utf-8"


def _parse_text(ctype: str | None, raw: bytes, text: str) -> Any:
    stripped = raw.strip()
    if not stripped:
        return ""
    json_declared = ctype is not None and (ctype == "application/json" or ctype.endswith("+json"))
    looks_json = stripped[:1] in (b"{", b"[") and (ctype is None or ctype.startswith("text/"))
    if json_declared or looks_json:
        try:
            return loads(raw)
        except orjson.JSONDecodeError:
            return text
    return text


def _is_html(ctype: str | None, text: str) -> bool:
    if ctype in ("text/html", "application/xhtml+xml"):
        return True
    if ctype not in (None, "text/plain"):
        return False
    head = text[:256].lstrip().lower()
    return head.startswith(("<!doctype html", "<html"))


def _is_binary(ctype: str | None) -> bool:
    return ctype is not None and (ctype.startswith(_BINARY_PREFIXES) or ctype in _BINARY_TYPES)


_HTML_DROP = re.compile(r"<(script|style|head)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_HTML_TAG = re.compile(r"<[^>]*>")
_TITLE = re.compile(r"<title[^>]*>(.*?)</title", re.IGNORECASE | re.DOTALL)


def _html_excerpt(text: str) -> str:
    """The words of an HTML page (its title first), cut short: enough to see what went wrong."""
    page = text[: 64 * 1024]
    title = _TITLE.search(page)
    words = _HTML_TAG.sub(" ", _HTML_DROP.sub(" ", page))
    plain = " ".join(html.unescape(words).split())
    if title:
        heading = " ".join(html.unescape(_HTML_TAG.sub(" ", title.group(1))).split())
        if heading and not plain.startswith(heading):
            plain = f"{heading}: {plain}" if plain else heading
    return plain if len(plain) <= ERROR_MESSAGE_CHARS else plain[:ERROR_MESSAGE_CHARS] + "..."


_MESSAGE_KEYS = ("message", "detail", "error_description", "error", "title", "errors", "msg", "description")


def _message_of(body: Any, depth: int = 0) -> str | None:
    """The human-readable message of an error body: ``message``, ``detail``, ``error`` ..."""
    if isinstance(body, str):
        return body.strip() or None
    if depth > 3:
        return None
    if isinstance(body, dict):
        for key in _MESSAGE_KEYS:
            value = body.get(key)
            found = _message_of(value, depth + 1) if value is not None else None
            if found:
                return found
        return None
    if isinstance(body, list) and body:
        return _message_of(body[0], depth + 1)
    return None


# --------------------------------------------------------------------------------------------
# Building requests


def _spec_url(tool: Tool, api: Api) -> str:
    url = api.url or ""
    if _SCHEME_AUTHORITY.match(url):
        return url
    path = url or api.path
    base = tool.base_url.rstrip("/")
    if not base:
        raise RequestError(f"API {api.name!r} has no absolute URL and its tool no base URL")
    return f"{base}/{path.lstrip('/')}" if path else base


def rewrite_url(url: str, rewrites: Mapping[str, str]) -> str:
    """``url`` with the longest matching prefix replaced; a prefix matches whole path segments
    (``http://127.0.0.1:8750`` rewrites ``http://127.0.0.1:8750/geo`` but not ``...:87501``)."""
    for prefix in sorted(rewrites, key=len, reverse=True):
        stem = prefix.rstrip("/")
        if url == stem or url.startswith((stem + "/", stem + "?")):
            return rewrites[prefix].rstrip("/") + url[len(stem) :]
    return url


def _fill_path(
    url: str, path_params: list[Param], given: Mapping[str, Any], extras: Mapping[str, Any]
) -> str:
    match = _SCHEME_AUTHORITY.match(url)
    if match is None:
        raise RequestError(f"invalid URL {redact_url(url)!r}")  # observations become training data
    origin, rest = match.groups()
    path, question, query = rest.partition("?")
    path = path.split("#", 1)[0]
    for param in path_params:
        if param.name not in given:
            continue
        segment = _path_segment(given[param.name])
        path = path.replace("{" + param.name + "}", segment)
        path = re.sub(r"(?<=/):" + re.escape(param.name) + r"(?=[/.]|$)", lambda _m: segment, path)

    def undeclared(found: re.Match[str]) -> str:
        name = found.group(1)
        if name in extras:
            return _path_segment(extras[name])
        raise RequestError(f"missing path argument '{name}'")

    path = _TEMPLATE.sub(undeclared, path)
    for param in path_params:
        if re.search(r"(?<=/):" + re.escape(param.name) + r"(?=[/.]|$)", path):
            raise RequestError(f"missing path argument '{param.name}'")
    path = quote(path, safe=_PATH_SAFE)  # a space or non-ASCII letter in the spec's own path
    return origin + path + (question + query.split("#", 1)[0] if question else "")


def _path_segment(value: Any) -> str:
    text = _text(value)
    if text in (".", ".."):  # would climb the path once the URL is normalised
        return text.replace(".", "%2E")
    return quote(text, safe="")


def _query_pairs(name: str, value: Any) -> list[tuple[str, str]]:
    if isinstance(value, list):
        return [(name, _text(item)) for item in value if item is not None]
    return [(name, _text(value))]


def _token(name: str, kind: str) -> str:
    if not _TOKEN.fullmatch(name):
        raise RequestError(f"{kind} parameter {name!r} is not a valid {kind} name")
    return name


def _header_text(name: str, value: Any) -> str:
    text = _text(value)
    if any(ch in text for ch in "\r\n\0"):
        raise RequestError(f"header argument '{name}' contains a line break")
    return text


def _text(value: Any) -> str:
    """How a value is written in a URL or header: booleans as true/false, lists comma-joined."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, list):
        return ",".join(_text(item) for item in value)
    try:
        return dumps(value).decode("utf-8")
    except TypeError:
        return str(value)


def _as_list(value: Any) -> list[str]:
    return [_text(item) for item in value] if isinstance(value, list) else [_text(value)]


def _wire_name(api: Api, param: Param) -> str:
    """The body field's name in the spec: the reader renames one that collides with a query parameter."""
    properties = (api.body_schema or {}).get("properties")
    if param.name.startswith("body_") and isinstance(properties, dict):
        original = param.name.removeprefix("body_")
        if param.name not in properties and original in properties:
            return original
    return param.name


def _set_body(
    request: PreparedRequest, api: Api, fields: dict[str, Any], form_fields: list[tuple[str, Any]]
) -> None:
    content_type = (api.body_content_type or "").lower()
    body_params = [p for p in api.parameters if p.location == "body"]
    whole = len(body_params) == 1 and body_params[0].name == "body" and "body" in fields
    payload: Any = fields["body"] if whole else fields
    is_form = "x-www-form-urlencoded" in content_type or "multipart/form-data" in content_type or form_fields
    if is_form:
        pairs = list(form_fields)
        if isinstance(payload, dict):
            for name, value in payload.items():
                pairs.extend((name, item) for item in _as_list(value))
        if not pairs:
            return
        if "multipart/form-data" in content_type:
            request.form_fields = [(k, _text(v)) for k, v in pairs]
            return
        request.body = urlencode([(k, _text(v)) for k, v in pairs]).encode("ascii")
        set_header(request.headers, "Content-Type", "application/x-www-form-urlencoded")
        return
    if not whole and not fields:
        return
    if isinstance(payload, str) and content_type and "json" not in content_type:
        request.body = payload.encode("utf-8")  # text/plain, XML ...: the value is the body
        set_header(request.headers, "Content-Type", api.body_content_type or "text/plain")
        return
    request.body = dumps(payload)
    json_type = content_type if "json" in content_type else "application/json"
    set_header(request.headers, "Content-Type", json_type)
