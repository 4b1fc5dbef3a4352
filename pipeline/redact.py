"""Masking secrets in what toolgen shows or keeps: log lines, error messages, the manifest.

One place decides what looks secret, so a configuration error, a log line and ``manifest.json``
mask the same things:

* a value under a name that looks secret (``api_key``, ``X-Auth-Token``, ``password`` ...);
* the userinfo of a URL (``https://user:pass@host``, ``https://sk-...@host``): the whole of it,
  because a key is often the user name alone;
* the values of secret-looking query parameters (``?api_key=...``);
* tokens that look like keys in free text (``sk-...``, ``Bearer ...``).

This module imports nothing from the project, so every module may use it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MASK = "***"

_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})
_SECRET_WORDS = frozenset({
    "key", "sig", "pwd", "pass", "auth", "session", "signature", "credential", "credentials",
    "authorization", "cookie",
})
_SECRET_PARTS = ("secret", "password", "passwd", "apikey", "token", "privatekey", "accesskey")
_CAMEL = re.compile(r"([a-z0-9])([A-Z])")
_WORD_SPLIT = re.compile(r"[^a-z0-9]+")
_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s'\"<>`]+")
_KEY_LIKE = re.compile(r"\b(sk-|Bearer\s+)[A-Za-z0-9_\-*.+/=]{4,}")


def looks_secret(name: str) -> bool:
    """True for a header, parameter or setting name that usually carries a secret
    (``api_key``, ``apiKey``, ``X-Auth-Token``, ``client_secret``, ``Authorization`` ...), and
    not for look-alikes that count or name things (``max_tokens``, ``keyword``)."""
    lowered = name.lower()
    if lowered in _SECRET_HEADERS:
        return True
    words = set(_WORD_SPLIT.split(_CAMEL.sub(r"\1_\2", name).lower())) | set(_WORD_SPLIT.split(lowered))
    for word in words:
        if word in _SECRET_WORDS:
            return True
        if word.endswith("tokens"):  # counts: max_tokens, prompt_tokens
            continue
        if any(part in word for part in _SECRET_PARTS):
            return True
    return False


def redact_url(url: str, *, names: Iterable[str] = (), drop_userinfo: bool = False) -> str:
    """``url`` with its userinfo and the values of secret-looking (or ``names``) query
    parameters masked (``drop_userinfo``: the userinfo left out, for a URL that is used as a
    base for others); anything that does not parse as a URL is returned as it is."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    masked = {n.lower() for n in names}
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(k.lower() in masked or looks_secret(k) for k, _ in pairs):
            query = urlencode(
                [(k, MASK if k.lower() in masked or looks_secret(k) else v) for k, v in pairs], safe="*"
            )
    netloc = parts.netloc
    if "@" in netloc:
        host = netloc.rpartition("@")[2]
        netloc = host if drop_userinfo else f"{MASK}@{host}"
    if netloc == parts.netloc and query == parts.query:
        return url
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redact_text(text: str) -> str:
    """``text`` (a log line, an error message) with every URL in it passed through
    :func:`redact_url` and key-like tokens (``sk-...``, ``Bearer ...``) masked."""
    if "://" in text:
        text = _URL.sub(lambda match: redact_url(match.group(0)), text)
    return _KEY_LIKE.sub(lambda match: f"{match.group(1)}{MASK}", text)


def redact_value(value: Any, key: str = "", *, by_key: bool = True) -> Any:
    """A JSON-like ``value`` safe to store: strings under secret-looking keys masked (unless
    ``by_key`` is off: data keyed by names the user chose, such as tool ids), and every other
    string through :func:`redact_text`."""
    if isinstance(value, dict):
        return {k: redact_value(v, str(k), by_key=by_key) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_value(v, key, by_key=by_key) for v in value]
    if isinstance(value, str) and value:
        return MASK if by_key and looks_secret(key) else redact_text(value)
    return value


def redact_headers(headers: Mapping[str, str], *, names: Iterable[str] = ()) -> dict[str, str]:
    """A copy of ``headers`` with credential headers (and the ``names`` given) masked."""
    masked = {n.lower() for n in names}
    return {k: MASK if k.lower() in masked or looks_secret(k) else v for k, v in headers.items()}
