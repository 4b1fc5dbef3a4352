"""The host policy: allow-list patterns, private-network refusals and the connect-time resolver.

No test sends traffic anywhere: names are resolved by a fake resolver (or are IP literals), and
``localhost`` is only looked up, never connected to.
"""

from __future__ import annotations

import socket
from collections import Counter

import pytest

from pipeline.hosts import HostNotAllowed, HostPolicy, HostUnresolvable

PRIVATE_HINT = "set env.allow_private_networks to allow"


def fake_dns(table: dict[str, list[str]], counter: Counter[str] | None = None):  # noqa: ANN201
    async def resolve(host: str) -> list[str]:
        if counter is not None:
            counter[host] += 1
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return table[host]

    return resolve


PUBLIC_DNS = {
    "api.example.com": ["93.184.216.34"],
    "v6.example.com": ["2606:4700::1111"],
    "metadata.internal": ["169.254.169.254"],
    "split.example.com": ["93.184.216.34", "10.1.2.3"],
    "mapped.example.com": ["::ffff:127.0.0.1"],
}


@pytest.mark.parametrize(
    ("patterns", "url", "allowed"),
    [
        (["api.example.com"], "https://api.example.com/v1/x", True),
        (["API.Example.com"], "https://api.EXAMPLE.com/v1/x", True),
        (["*.example.com"], "https://eu.api.example.com/x", True),
        (["*.example.com"], "https://example.com/x", False),
        (["api.example.com:8443"], "https://api.example.com:8443/x", True),
        (["api.example.com:8443"], "https://api.example.com/x", False),
        (["api.example.com:443"], "https://api.example.com/x", True),  # the default port counts
        (["api.example.com:*"], "http://api.example.com:9000/x", True),
        (["*"], "http://anything.test/x", True),
        ([], "https://api.example.com/x", False),
        (["api.example.com"], "https://api.example.com.evil.test/x", False),
    ],
)
def test_allow_list_patterns_match_host_or_host_and_port(
    patterns: list[str], url: str, allowed: bool
) -> None:
    assert HostPolicy(patterns, allow_private=False).matches_allow_list(url) is allowed


async def test_a_host_off_the_allow_list_is_named_in_the_refusal() -> None:
    policy = HostPolicy(["weather.example"], allow_private=False, resolve=fake_dns(PUBLIC_DNS))

    with pytest.raises(HostNotAllowed) as refused:
        await policy.check("https://api.example.com/v1/forecast")
    with pytest.raises(HostNotAllowed) as with_port:
        await policy.check("http://api.example.com:8080/v1/forecast")

    assert str(refused.value) == "host api.example.com is not in env.allowed_hosts"
    assert str(with_port.value) == "host api.example.com:8080 is not in env.allowed_hosts"


@pytest.mark.parametrize(
    "url",
    ["ftp://api.example.com/f", "file:///etc/passwd", "gopher://api.example.com/", "/relative", "http:///x"],
)
async def test_only_absolute_http_urls_are_callable(url: str) -> None:
    with pytest.raises(HostNotAllowed, match="^refused: "):
        await HostPolicy(["*"], allow_private=True).check(url)


async def test_public_hosts_on_the_list_pass() -> None:
    policy = HostPolicy(["*"], allow_private=False, resolve=fake_dns(PUBLIC_DNS))

    await policy.check("https://api.example.com/x")
    await policy.check("https://v6.example.com/x")
    await policy.check("http://93.184.216.34/x")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://127.0.0.1/", "refused: 127.0.0.1 is a loopback address"),
        ("http://10.0.0.1/", "refused: 10.0.0.1 is a private address"),
        ("http://172.16.5.4/", "refused: 172.16.5.4 is a private address"),
        ("http://192.168.1.1/", "refused: 192.168.1.1 is a private address"),
        ("http://169.254.169.254/x", "refused: 169.254.169.254 is a link-local address (cloud metadata)"),
        ("http://0.0.0.0/", "refused: 0.0.0.0 is an unspecified address"),
        ("http://224.0.0.1/", "refused: 224.0.0.1 is a multicast address"),
        ("http://240.0.0.1/", "refused: 240.0.0.1 is a reserved address"),
        (
            "http://100.100.100.200/",
            "refused: 100.100.100.200 is a shared (carrier-grade NAT) address (cloud metadata)",
        ),
        ("http://[::1]/", "refused: ::1 is a loopback address"),
        ("http://[fe80::1]/", "refused: fe80::1 is a link-local address"),
        ("http://[fd00:ec2::254]/", "refused: fd00:ec2::254 is a private address (cloud metadata)"),
        ("http://[fc00::5]/", "refused: fc00::5 is a private address"),
        ("http://[ff02::1]/", "refused: ff02::1 is a multicast address"),
        (
            "http://[::ffff:169.254.169.254]/",
            "refused: ::ffff:a9fe:a9fe is the IPv6 form of 169.254.169.254, a link-local",
        ),
        ("http://[::ffff:10.0.0.1]/", "refused: ::ffff:a00:1 is the IPv6 form of 10.0.0.1, a private"),
        (
            "http://metadata.internal/",
            "refused: metadata.internal resolves to 169.254.169.254, a link-local address (cloud metadata)",
        ),
        ("http://split.example.com/", "refused: split.example.com resolves to 10.1.2.3, a private address"),
        (
            "http://mapped.example.com/",
            "refused: mapped.example.com resolves to ::ffff:7f00:1, the IPv6 form of 127.0.0.1",
        ),
    ],
)
async def test_non_public_addresses_are_refused_with_the_reason(url: str, message: str) -> None:
    policy = HostPolicy(["*"], allow_private=False, resolve=fake_dns(PUBLIC_DNS))

    with pytest.raises(HostNotAllowed) as refused:
        await policy.check(url)

    assert str(refused.value).startswith(message)
    assert str(refused.value).endswith(PRIVATE_HINT)


async def test_the_exact_wording_for_a_name_that_resolves_to_the_metadata_service() -> None:
    policy = HostPolicy(["*"], allow_private=False, resolve=fake_dns(PUBLIC_DNS))

    with pytest.raises(HostNotAllowed) as refused:
        await policy.check("http://metadata.internal/computeMetadata/v1/")

    assert str(refused.value) == (
        "refused: metadata.internal resolves to 169.254.169.254, a link-local address (cloud metadata); "
        "set env.allow_private_networks to allow"
    )


async def test_localhost_is_looked_up_and_refused() -> None:
    expected = r"^refused: localhost resolves to (127\.0\.0\.1|::1), a loopback"
    with pytest.raises(HostNotAllowed, match=expected):
        await HostPolicy(["*"], allow_private=False).check("http://localhost:8080/admin")


async def test_numeric_host_spellings_are_resolved_not_trusted() -> None:
    # 2130706433 is 127.0.0.1 written as one number; the C resolver accepts it.
    with pytest.raises(HostNotAllowed, match="resolves to 127.0.0.1, a loopback address"):
        await HostPolicy(["*"], allow_private=False).check("http://2130706433/")


async def test_allow_private_lets_private_addresses_through_without_dns() -> None:
    lookups: Counter[str] = Counter()
    policy = HostPolicy(["*"], allow_private=True, resolve=fake_dns(PUBLIC_DNS, lookups))

    await policy.check("http://169.254.169.254/")
    await policy.check("http://metadata.internal/")
    await policy.check("http://[::1]:8080/")

    assert not lookups


async def test_always_allowed_is_the_exact_host_and_port_only() -> None:
    policy = HostPolicy([], allow_private=False, always_allowed=["127.0.0.1:8750"])

    await policy.check("http://127.0.0.1:8750/weather/current")
    with pytest.raises(HostNotAllowed, match="not in env.allowed_hosts"):
        await policy.check("http://127.0.0.1:8751/weather/current")
    assert policy.matches_allow_list("http://127.0.0.1:8750/geo")
    assert not policy.matches_allow_list("http://127.0.0.1:9999/geo")


async def test_always_allowed_bypasses_the_private_guard_but_its_neighbours_do_not() -> None:
    policy = HostPolicy(["127.0.0.1:*"], allow_private=False, always_allowed=["127.0.0.1:8750"])

    await policy.check("http://127.0.0.1:8750/")
    with pytest.raises(HostNotAllowed, match="loopback"):
        await policy.check("http://127.0.0.1:22/")


def test_always_allowed_entries_must_name_a_port() -> None:
    with pytest.raises(ValueError, match="host:port"):
        HostPolicy([], allow_private=False, always_allowed=["127.0.0.1"])


async def test_resolutions_are_cached_briefly() -> None:
    lookups: Counter[str] = Counter()
    policy = HostPolicy(["*"], allow_private=False, resolve=fake_dns(PUBLIC_DNS, lookups), cache_ttl_s=60)

    for _ in range(3):
        await policy.check("https://api.example.com/x")
    expired = HostPolicy(["*"], allow_private=False, resolve=fake_dns(PUBLIC_DNS, lookups), cache_ttl_s=0)
    for _ in range(2):
        await expired.check("https://v6.example.com/x")

    assert lookups == Counter({"api.example.com": 1, "v6.example.com": 2})


async def test_an_unknown_name_is_unresolvable_not_refused() -> None:
    policy = HostPolicy(["*"], allow_private=False, resolve=fake_dns(PUBLIC_DNS))

    with pytest.raises(HostUnresolvable) as unresolvable:
        await policy.check("https://nowhere.example.com/")

    assert str(unresolvable.value) == "could not resolve host nowhere.example.com (Name or service not known)"


async def test_the_connect_time_resolver_refuses_what_the_check_would() -> None:
    policy = HostPolicy(["*"], allow_private=False, resolve=fake_dns(PUBLIC_DNS))
    resolver = policy.resolver()

    [public] = await resolver.resolve("api.example.com", 443)
    with pytest.raises(HostNotAllowed, match="metadata.internal resolves to 169.254.169.254"):
        await resolver.resolve("metadata.internal", 80)
    only_v4 = await resolver.resolve("v6.example.com", 443, family=socket.AF_INET6)

    assert public["host"] == "93.184.216.34" and public["port"] == 443 and public["family"] == socket.AF_INET
    assert [r["host"] for r in only_v4] == ["2606:4700::1111"]


async def test_the_connect_time_resolver_honours_always_allowed() -> None:
    policy = HostPolicy(
        [],
        allow_private=False,
        always_allowed=["sandbox.local:8750"],
        resolve=fake_dns({"sandbox.local": ["127.0.0.1"]}),
    )

    [result] = await policy.resolver().resolve("sandbox.local", 8750)
    with pytest.raises(HostNotAllowed):
        await policy.resolver().resolve("sandbox.local", 22)

    assert result["host"] == "127.0.0.1"


async def test_trusted_patterns_pass_the_allow_list_and_the_private_guard_at_check_and_connect_time() -> None:
    policy = HostPolicy(
        ["*.example.com"],
        allow_private=False,
        trusted=["specs.corp", "127.0.0.1:8080"],
        wording=("collect.fetch.allowed_hosts", "trust it to allow"),
        resolve=fake_dns({"specs.corp": ["10.0.0.5"], "db.example.com": ["10.0.0.9"], **PUBLIC_DNS}),
    )

    await policy.check("http://specs.corp:9000/list.json")  # any port: the pattern names no port
    await policy.check("http://127.0.0.1:8080/spec.json")
    [internal] = await policy.resolver().resolve("specs.corp", 9000)
    with pytest.raises(HostNotAllowed) as other_port:
        await policy.check("http://127.0.0.1:8081/spec.json")
    with pytest.raises(HostNotAllowed) as private:
        await policy.check("http://db.example.com/")
    with pytest.raises(HostNotAllowed, match="metadata.internal resolves to 169.254.169.254"):
        await policy.resolver().resolve("metadata.internal", 80)

    assert internal["host"] == "10.0.0.5"
    assert str(other_port.value) == "host 127.0.0.1:8081 is not in collect.fetch.allowed_hosts"
    assert str(private.value) == "refused: db.example.com resolves to 10.0.0.9, a private address; trust it to allow"
