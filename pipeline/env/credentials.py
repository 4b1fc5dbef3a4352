"""Putting a tool's secret on its requests, and keeping secrets out of logs and observations.

``env.credentials`` maps a tool id to a :class:`~pipeline.settings.Credential`. The secret is
read from the environment variable the credential names (or its literal ``value``) and goes
where the credential says, or, when it names no header or query parameter, where the tool's
own declared auth scheme says (an apiKey header or query parameter, ``Authorization: Bearer``,
or ``Authorization: Basic`` from ``user:pass``). A variable that is not set means the call goes
out without a key: the API's 401 then comes back as the observation, like it would for a
person who forgot the key, and one warning names the variable (never a value).

Every secret the resolver hands out is remembered so :meth:`CredentialResolver.redact` can
mask it in log lines and :meth:`CredentialResolver.scrub` in observations (an API that echoes
its key back must not put it into training data).
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote

import orjson

from pipeline.models import Auth, Tool
from pipeline.net import is_under
from pipeline.redact import MASK, looks_secret, redact_headers, redact_url

__all__ = ["MASK", "CredentialResolver", "Placement", "looks_secret", "pop_header", "redact_headers", "redact_url",
           "set_header"]
from pipeline.settings import Credential

logger = logging.getLogger(__name__)



@dataclass(frozen=True)
class Placement:
    """Where a secret goes and how it is written there."""

    location: Literal["header", "query", "cookie"]
    name: str
    form: Literal["raw", "bearer", "basic"] = "raw"

    def render(self, secret: str) -> str:
        if self.form == "bearer":
            return f"Bearer {secret}"
        if self.form == "basic":
            return "Basic " + base64.b64encode(secret.encode("utf-8")).decode("ascii")
        return secret


class CredentialResolver:
    """Adds configured secrets to requests; remembers them to mask them everywhere else.

    ``configured`` (``env.credentials``) and ``defaults`` (credentials the pipeline supplies,
    such as the sandbox key) are keyed by tool id; a configured entry wins. With ``defaults_for``
    (the sandbox's URL) a default goes only on requests under that URL, origins compared parsed.
    """

    def __init__(
        self,
        configured: Mapping[str, Credential],
        *,
        environ: Mapping[str, str],
        defaults: Mapping[str, Credential] | None = None,
        defaults_for: str | None = None,
    ) -> None:
        self._configured = dict(configured)
        self._defaults = dict(defaults or {})
        self._defaults_for = defaults_for
        self._environ = environ
        self._warned: set[tuple[str, str]] = set()
        self._secrets: set[str] = set()
        self._names: set[str] = set()  # query parameters and headers that carried a secret

    def credential_for(self, tool: Tool, url: str | None = None) -> Credential | None:
        """The tool's configured credential, else the pipeline's default for it; with
        ``defaults_for`` set, a default only for a request ``url`` under that URL (the sandbox's
        key goes to the sandbox, whatever an API's own URL says)."""
        if not tool.id:
            return None
        configured = self._configured.get(tool.id)
        if configured is not None:
            return configured
        if self._defaults_for is not None and (url is None or not is_under(url, self._defaults_for)):
            return None
        return self._defaults.get(tool.id)

    def apply(
        self, tool: Tool, headers: MutableMapping[str, str], params: MutableMapping[str, str], *,
        url: str | None = None,
    ) -> None:
        """Put the tool's secret into ``headers`` or ``params`` of a request to ``url``; no-op
        without one.

        The secret replaces any value the model gave for the same header or parameter.
        """
        credential = self.credential_for(tool, url)
        if credential is None:
            return
        secret = self._secret(tool.id, credential)
        if secret is None:
            return
        placement = self._placement(tool, credential)
        if placement is None:
            return
        value = placement.render(secret)
        self._remember(secret, value, placement)
        if placement.location == "query":
            params[placement.name] = value
        elif placement.location == "header":
            set_header(headers, placement.name, value)
        else:
            cookie = f"{placement.name}={quote(value, safe='')}"
            existing = pop_header(headers, "Cookie")
            headers["Cookie"] = f"{existing}; {cookie}" if existing else cookie

    @property
    def secret_names(self) -> frozenset[str]:
        """Header and query parameter names that have carried a secret."""
        return frozenset(self._names)

    def redact(self, text: str) -> str:
        """``text`` with every secret handed out so far replaced by ``***``."""
        for secret in sorted(self._secrets, key=len, reverse=True):
            if secret in text:
                text = text.replace(secret, MASK)
        return text

    def redact_url(self, url: str) -> str:
        """A URL safe to log: secret query values and userinfo masked."""
        return self.redact(redact_url(url, names=self._names))

    def redact_headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        return {k: self.redact(v) for k, v in redact_headers(headers, names=self._names).items()}

    def scrub(self, value: Any) -> Any:
        """``value`` (a parsed response, an error text) with any secret masked."""
        if not self._secrets:
            return value
        try:
            encoded = value if isinstance(value, str) else orjson.dumps(value).decode("utf-8")
        except (TypeError, orjson.JSONEncodeError):
            encoded = repr(value)
        if not any(secret in encoded for secret in self._secrets):
            return value
        return self._scrub(value)

    def _scrub(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, list):
            return [self._scrub(item) for item in value]
        if isinstance(value, dict):
            return {self._scrub(k) if isinstance(k, str) else k: self._scrub(v) for k, v in value.items()}
        return value

    def _secret(self, tool_id: str, credential: Credential) -> str | None:
        if credential.value_env:
            secret = self._environ.get(credential.value_env)
            if secret:
                return secret
            if credential.value:
                return credential.value.get_secret_value()
            self._warn_once(
                tool_id,
                credential.value_env,
                f"credential for tool {tool_id}: environment variable {credential.value_env} "
                "is not set; calling without it",
            )
            return None
        if credential.value:
            return credential.value.get_secret_value()
        self._warn_once(tool_id, "", f"credential for tool {tool_id} has neither value_env nor value")
        return None

    def _placement(self, tool: Tool, credential: Credential) -> Placement | None:
        if credential.name:
            if credential.kind == "query":
                return Placement("query", credential.name)
            form: Literal["raw", "bearer"] = "bearer" if credential.kind == "bearer" else "raw"
            return Placement("header", credential.name, form)
        declared = [p for p in (_declared(a) for a in tool.auth) if p is not None]
        wanted = "query" if credential.kind == "query" else "header"
        if credential.kind == "bearer":
            bearer = [p for p in declared if p.form == "bearer"]
            return bearer[0] if bearer else Placement("header", "Authorization", "bearer")
        for placement in declared:
            if placement.location == wanted:
                return placement
        if declared:
            return declared[0]
        if credential.kind == "header":
            return Placement("header", "Authorization")
        self._warn_once(
            tool.id,
            "name",
            f"credential for tool {tool.id}: no parameter name given and the tool declares no "
            "auth scheme; calling without it",
        )
        return None

    def _remember(self, secret: str, value: str, placement: Placement) -> None:
        self._names.add(placement.name.lower())
        for form in (secret, value, quote(secret, safe=""), quote(value, safe="")):
            if form:
                self._secrets.add(form)
        if placement.form == "basic":
            self._secrets.add(value.removeprefix("Basic "))

    def _warn_once(self, tool_id: str, what: str, message: str) -> None:
        if (tool_id, what) not in self._warned:
            self._warned.add((tool_id, what))
            logger.warning("%s", message)


def _declared(auth: Auth) -> Placement | None:
    """Where the tool's declared scheme wants the secret, or None if we cannot place it."""
    if auth.kind == "apiKey" and auth.parameter:
        return Placement(auth.location or "header", auth.parameter)
    scheme = (auth.scheme or "").lower()
    if auth.kind == "http" and scheme == "basic":
        return Placement("header", "Authorization", "basic")
    if (auth.kind == "http" and scheme == "bearer") or auth.kind in ("oauth2", "openIdConnect"):
        return Placement("header", "Authorization", "bearer")
    return None


def set_header(headers: MutableMapping[str, str], name: str, value: str) -> None:
    """Set a header, replacing any spelling of the same name (header names ignore case)."""
    pop_header(headers, name)
    headers[name] = value


def pop_header(headers: MutableMapping[str, str], name: str) -> str | None:
    found = None
    for key in [k for k in headers if k.lower() == name.lower()]:
        found = headers.pop(key)
    return found
