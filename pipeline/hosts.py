"""Which hosts outgoing requests may reach: one policy for tool calls and for spec downloads.

A catalog collected from the internet names arbitrary servers, and the policy model chooses the
arguments; an index of specs names arbitrary spec URLs, and any server may redirect. Neither may
become a way into the machine's own network: a URL that points at (or a host name that resolves
to) loopback, a private range, link-local (the cloud metadata service at 169.254.169.254 lives
there), multicast or reserved space is refused unless allowed. Independently, only hosts on an
allow-list are reached at all.

The environment (:mod:`pipeline.env`) uses ``env.allowed_hosts`` and
``env.allow_private_networks``, with the bundled sandbox allowed by its exact ``host:port``;
the spec fetcher (:mod:`pipeline.specs.fetch`) uses ``collect.fetch.allowed_hosts`` and
``collect.fetch.trusted_hosts``. Each names its own settings in its refusals.

:meth:`HostPolicy.check` is the pre-flight check with a clear reason. Because a name can resolve
differently a moment later (DNS rebinding), :meth:`HostPolicy.resolver` gives an aiohttp
resolver that applies the same rule to the addresses the connection actually uses.
"""

from __future__ import annotations

import asyncio
import fnmatch
import ipaddress
import socket
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Sequence

from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolve = Callable[[str], Awaitable[Sequence[str]]]
"""Look up a host name: the IP addresses it resolves to (raises OSError when it does not)."""

ENV_WORDING = ("env.allowed_hosts", "set env.allow_private_networks to allow")
"""What the environment's refusals name: the allow-list setting, how to allow private addresses."""
_CLOUD_METADATA = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200")
)
_SHARED_SPACE = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_CACHE_SIZE = 1024


class HostNotAllowed(Exception):
    """A URL the policy refuses; the message names the host and the reason."""


class HostUnresolvable(HostNotAllowed):
    """The host name does not resolve, so there is nothing to call."""


class HostPolicy:
    """Allow-list plus private-network guard for outgoing requests.

    ``allowed``: fnmatch patterns over ``host`` or ``host:port``, case-insensitive
    (``api.example.com``, ``*.weather.gov``, ``localhost:8080``, ``*`` for any host).
    ``always_allowed``: exact ``host:port`` entries (the sandbox) and ``trusted``: patterns like
    ``allowed``; both pass the allow-list and the private-network guard. ``wording`` names the
    allow-list setting and the way to allow private addresses in refusals. ``resolve`` replaces
    DNS (tests); resolutions are cached for ``cache_ttl_s`` seconds.
    """

    def __init__(
        self,
        allowed: Iterable[str],
        *,
        allow_private: bool,
        always_allowed: Iterable[str] = (),
        trusted: Iterable[str] = (),
        wording: tuple[str, str] = ENV_WORDING,
        resolve: Resolve | None = None,
        cache_ttl_s: float = 30.0,
    ) -> None:
        self._patterns = _patterns(allowed)
        self.allow_private = allow_private
        self._always = frozenset(_normalise_host_port(entry) for entry in always_allowed)
        self._trusted = _patterns(trusted)
        self._allow_list_name, self._private_hint = wording
        self._resolve = resolve or _system_resolve
        self._ttl = cache_ttl_s
        self._cache: OrderedDict[str, tuple[float, tuple[IPAddress, ...]]] = OrderedDict()

    def matches_allow_list(self, url: str) -> bool:
        """True when the URL's host is on the allow-list or always allowed (no DNS)."""
        try:
            target = _Target.of(url)
        except HostNotAllowed:
            return False
        return self._trusts(target) or _matches(self._patterns, target)

    async def check(self, url: str) -> None:
        """Raise :class:`HostNotAllowed` unless a real call to ``url`` is allowed."""
        target = _Target.of(url)
        if self._trusts(target):
            return
        if not _matches(self._patterns, target):
            raise HostNotAllowed(f"host {target.shown} is not in {self._allow_list_name}")
        if self.allow_private:
            return
        literal = _ip_literal(target.host)
        if literal is not None:
            reason = non_public_reason(literal)
            if reason is not None:
                raise HostNotAllowed(f"refused: {target.host} is {reason}; {self._private_hint}")
            return
        for address in await self.addresses(target.host):
            reason = non_public_reason(address)
            if reason is not None:
                raise HostNotAllowed(
                    f"refused: {target.host} resolves to {address}, {reason}; {self._private_hint}"
                )

    async def addresses(self, host: str) -> tuple[IPAddress, ...]:
        """The addresses ``host`` resolves to, cached briefly; HostUnresolvable when none."""
        host = host.lower().rstrip(".")
        now = time.monotonic()
        cached = self._cache.get(host)
        if cached is not None and cached[0] > now:
            return cached[1]
        try:
            found = await self._resolve(host)
        except (OSError, UnicodeError) as error:
            raise HostUnresolvable(f"could not resolve host {host} ({_dns_reason(error)})") from error
        addresses = tuple(dict.fromkeys(_parse_ip(a) for a in found))
        if not addresses:
            raise HostUnresolvable(f"could not resolve host {host} (no addresses)")
        self._cache[host] = (now + self._ttl, addresses)
        self._cache.move_to_end(host)
        while len(self._cache) > _CACHE_SIZE:
            self._cache.popitem(last=False)
        return addresses

    def resolver(self) -> AbstractResolver:
        """An aiohttp resolver enforcing this policy on the addresses actually connected to."""
        return _PolicyResolver(self)

    def allows_private(self, host: str, port: int) -> bool:
        """True when connections to ``host:port`` may use non-public addresses."""
        return self.allow_private or self._trusts(_Target(host, port, explicit_port=True))

    @property
    def private_hint(self) -> str:
        """How to allow a refused private address, as refusals say it."""
        return self._private_hint

    def _trusts(self, target: _Target) -> bool:
        return target.host_port in self._always or _matches(self._trusted, target)


def _patterns(entries: Iterable[str]) -> tuple[str, ...]:
    return tuple(p.strip().lower() for p in entries if p.strip())


def _matches(patterns: tuple[str, ...], target: _Target) -> bool:
    for pattern in patterns:
        for candidate in (target.host, target.host_port):
            if candidate == pattern or fnmatch.fnmatchcase(candidate, pattern):
                return True
    return False


def non_public_reason(address: IPAddress) -> str | None:
    """Why ``address`` is not a public internet address ("a loopback address" ...), or None.

    IPv4 addresses carried inside IPv6 ones (IPv4-mapped, 6to4, NAT64) are judged by the
    IPv4 address, which is where the packets end up.
    """
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        inner = non_public_reason(embedded)
        if inner is not None:
            return f"the IPv6 form of {embedded}, {inner}"
    note = " (cloud metadata)" if address in _CLOUD_METADATA else ""
    for label, test in (
        ("an unspecified", address.is_unspecified),
        ("a loopback", address.is_loopback),
        ("a link-local", address.is_link_local),
        ("a multicast", address.is_multicast),
        ("a reserved", address.is_reserved),
        ("a private", address.is_private),
        ("a shared (carrier-grade NAT)", address.version == 4 and address in _SHARED_SPACE),
        ("a non-public", not address.is_global),
    ):
        if test:
            return f"{label} address{note}"
    return None


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    if address.version != 6:
        return None
    assert isinstance(address, ipaddress.IPv6Address)
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


class _Target:
    """The host and port a URL points at, normalised for matching."""

    def __init__(self, host: str, port: int, explicit_port: bool) -> None:
        self.host = host
        self.port = port
        self.host_port = _host_port(host, port)
        self.shown = self.host_port if explicit_port else host

    @classmethod
    def of(cls, url: str) -> _Target:
        try:
            parsed = URL(url)
            scheme, host, port = parsed.scheme.lower(), parsed.host, parsed.port
            explicit = parsed.explicit_port is not None
        except (TypeError, ValueError) as error:
            raise HostNotAllowed(f"refused: not a valid URL ({error})") from None
        if not scheme:
            raise HostNotAllowed("refused: not an absolute http(s) URL")
        if scheme not in ("http", "https"):
            raise HostNotAllowed(f"refused: {scheme}:// URLs cannot be called (only http and https)")
        if not host:
            raise HostNotAllowed("refused: the URL has no host")
        return cls(host.lower().rstrip("."), port or (443 if scheme == "https" else 80), explicit)


class _PolicyResolver(AbstractResolver):
    """Resolves through the policy's cache and refuses non-public answers at connect time."""

    def __init__(self, policy: HostPolicy) -> None:
        self._policy = policy

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_UNSPEC
    ) -> list[ResolveResult]:
        addresses = await self._policy.addresses(host)
        if not self._policy.allows_private(host.lower().rstrip("."), port):
            for address in addresses:
                reason = non_public_reason(address)
                if reason is not None:
                    raise HostNotAllowed(
                        f"refused: {host} resolves to {address}, {reason}; {self._policy.private_hint}"
                    )
        results: list[ResolveResult] = []
        for address in addresses:
            address_family = socket.AF_INET if address.version == 4 else socket.AF_INET6
            if family not in (socket.AF_UNSPEC, address_family):
                continue
            results.append(
                ResolveResult(
                    hostname=host,
                    host=str(address),
                    port=port,
                    family=address_family,
                    proto=0,
                    flags=socket.AI_NUMERICHOST | socket.AI_NUMERICSERV,
                )
            )
        if not results:
            raise OSError(f"could not resolve host {host} (no address of the wanted family)")
        return results

    async def close(self) -> None:
        return None


async def _system_resolve(host: str) -> list[str]:
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def _dns_reason(error: BaseException) -> str:
    if isinstance(error, socket.gaierror) and error.strerror:
        return error.strerror
    return str(error) or type(error).__name__


def _parse_ip(text: str) -> IPAddress:
    # getaddrinfo writes a link-local IPv6 address with its zone ("fe80::1%eth0").
    return ipaddress.ip_address(text.split("%", 1)[0])


def _ip_literal(host: str) -> IPAddress | None:
    try:
        return _parse_ip(host.strip("[]"))
    except ValueError:
        return None


def _host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _normalise_host_port(entry: str) -> str:
    entry = entry.strip().lower()
    host, _, port = entry.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"always_allowed entry {entry!r} must be host:port")
    return _host_port(host.strip("[]").rstrip("."), int(port))
