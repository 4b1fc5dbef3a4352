"""Where a tool's secret goes, what happens when it is missing, and that it is masked in logs."""

from __future__ import annotations

import base64
import logging

import pytest

from pipeline.env.credentials import CredentialResolver, redact_headers, redact_url
from pipeline.models import Auth, SourceRef, Tool
from pipeline.settings import Credential

SECRET = "s3cr3t-value-42"


def tool(*auth: Auth, tool_id: str = "t1") -> Tool:
    return Tool(
        id=tool_id,
        tool_name="T",
        auth=list(auth),
        source=SourceRef(kind="file", location="tests", format="openapi-3.0"),
    )


def applied(resolver: CredentialResolver, target: Tool) -> tuple[dict[str, str], dict[str, str]]:
    headers: dict[str, str] = {"Accept": "application/json"}
    params: dict[str, str] = {}
    resolver.apply(target, headers, params)
    headers.pop("Accept")
    return headers, params


def resolver_for(credential: Credential, **environ: str) -> CredentialResolver:
    return CredentialResolver({"t1": credential}, environ=environ)


@pytest.mark.parametrize(
    ("auth", "headers", "params"),
    [
        (Auth(name="k", kind="apiKey", location="header", parameter="X-Api-Key"), {"X-Api-Key": SECRET}, {}),
        (Auth(name="k", kind="apiKey", location="query", parameter="api_key"), {}, {"api_key": SECRET}),
        (Auth(name="k", kind="apiKey", location="cookie", parameter="sid"), {"Cookie": f"sid={SECRET}"}, {}),
        (Auth(name="b", kind="http", scheme="bearer"), {"Authorization": f"Bearer {SECRET}"}, {}),
        (Auth(name="o", kind="oauth2", scheme="bearer"), {"Authorization": f"Bearer {SECRET}"}, {}),
    ],
)
def test_without_a_name_the_tools_declared_scheme_places_the_secret(
    auth: Auth, headers: dict[str, str], params: dict[str, str]
) -> None:
    resolver = resolver_for(Credential(value_env="KEY"), KEY=SECRET)

    assert applied(resolver, tool(auth)) == (headers, params)


def test_basic_auth_encodes_user_and_password() -> None:
    resolver = resolver_for(Credential(value_env="KEY"), KEY="maya:pa55word")

    headers, _ = applied(resolver, tool(Auth(name="basic", kind="http", location="header", scheme="basic")))

    assert headers == {"Authorization": "Basic " + base64.b64encode(b"maya:pa55word").decode()}
    assert "pa55word" not in resolver.redact(f"sent {headers['Authorization']}")
    assert resolver.redact(headers["Authorization"]) == "***"


def test_an_explicit_name_and_kind_win_over_the_declared_scheme() -> None:
    declared = Auth(name="k", kind="apiKey", location="header", parameter="X-Api-Key")

    def with_credential(credential: Credential) -> tuple[dict[str, str], dict[str, str]]:
        return applied(resolver_for(credential, K=SECRET), tool(declared))

    query = with_credential(Credential(kind="query", name="token", value_env="K"))
    header = with_credential(Credential(kind="header", name="X-Other", value=SECRET))
    bearer = with_credential(Credential(kind="bearer", name="Authorization", value=SECRET))

    assert query == ({}, {"token": SECRET})
    assert header == ({"X-Other": SECRET}, {})
    assert bearer == ({"Authorization": f"Bearer {SECRET}"}, {})


def test_a_query_kind_prefers_the_declared_query_scheme_when_the_tool_has_several() -> None:
    header_key = Auth(name="h", kind="apiKey", location="header", parameter="X-Api-Key")
    query_key = Auth(name="q", kind="apiKey", location="query", parameter="apikey")

    result = applied(resolver_for(Credential(kind="query", value=SECRET)), tool(header_key, query_key))

    assert result == ({}, {"apikey": SECRET})


def test_a_tool_without_a_declared_scheme_gets_an_authorization_header_or_a_bearer() -> None:
    raw = applied(resolver_for(Credential(value=f"token {SECRET}")), tool())
    bearer = applied(resolver_for(Credential(kind="bearer", value=SECRET)), tool())

    assert raw == ({"Authorization": f"token {SECRET}"}, {})
    assert bearer == ({"Authorization": f"Bearer {SECRET}"}, {})


def test_the_secret_replaces_a_value_the_model_made_up() -> None:
    resolver = resolver_for(Credential(value=SECRET))
    headers = {"x-api-key": "made-up-by-the-model"}  # header names ignore case
    params = {"api_key": "made-up-by-the-model"}

    resolver.apply(tool(Auth(name="k", kind="apiKey", location="header", parameter="X-Api-Key")), headers, {})
    resolver.apply(tool(Auth(name="k", kind="apiKey", location="query", parameter="api_key")), {}, params)

    assert headers == {"X-Api-Key": SECRET}
    assert params == {"api_key": SECRET}


def test_configured_credentials_win_over_defaults_and_tools_without_either_get_nothing() -> None:
    declared = Auth(name="k", kind="apiKey", location="header", parameter="X-Api-Key")
    resolver = CredentialResolver(
        {"t1": Credential(value="configured")},
        environ={},
        defaults={"t1": Credential(value="default"), "t2": Credential(value="sandbox-key")},
    )

    assert applied(resolver, tool(declared, tool_id="t1")) == ({"X-Api-Key": "configured"}, {})
    assert applied(resolver, tool(declared, tool_id="t2")) == ({"X-Api-Key": "sandbox-key"}, {})
    assert applied(resolver, tool(declared, tool_id="t3")) == ({}, {})
    assert applied(resolver, tool(declared, tool_id="")) == ({}, {})


def test_a_missing_variable_means_no_credential_and_one_warning_naming_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    resolver = resolver_for(Credential(value_env="WEATHER_KEY"))
    declared = tool(Auth(name="k", kind="apiKey", location="query", parameter="key"))

    first = applied(resolver, declared)
    second = applied(resolver, declared)

    assert first == second == ({}, {})
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "WEATHER_KEY" in warnings[0].getMessage() and "t1" in warnings[0].getMessage()


def test_the_variable_is_preferred_and_the_literal_value_is_the_fallback() -> None:
    credential = Credential(value_env="KEY", value="literal")
    declared = tool(Auth(name="k", kind="apiKey", location="header", parameter="X-Key"))

    assert applied(resolver_for(credential, KEY=SECRET), declared) == ({"X-Key": SECRET}, {})
    assert applied(resolver_for(credential), declared) == ({"X-Key": "literal"}, {})


def test_warnings_never_contain_the_secret(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    resolver = CredentialResolver(
        {"t1": Credential(kind="query", value=SECRET)}, environ={}
    )  # no name, no declared scheme: cannot be placed

    assert applied(resolver, tool()) == ({}, {})
    assert caplog.records and all(SECRET not in r.getMessage() for r in caplog.records)


def test_urls_and_headers_are_redacted_for_logging() -> None:
    resolver = resolver_for(Credential(kind="query", name="appid", value=SECRET))
    headers, params = applied(resolver, tool())
    url = f"https://api.example.com/v1/weather?q=Paris&appid={params['appid']}&access_token=abc123"

    shown = resolver.redact_url(url)

    assert SECRET not in shown and "abc123" not in shown
    assert "q=Paris" in shown and "appid=***" in shown and "access_token=***" in shown
    assert (
        redact_url("https://maya:hunter2@example.com/x?keyword=rice")
        == "https://***@example.com/x?keyword=rice"
    )
    # a key is often the whole userinfo
    assert redact_url("https://sk-live-123@example.com/v1") == "https://***@example.com/v1"
    assert redact_headers({"Authorization": "Bearer x", "X-RapidAPI-Key": "y", "Accept": "*/*"}) == {
        "Authorization": "***",
        "X-RapidAPI-Key": "***",
        "Accept": "*/*",
    }


def test_scrub_masks_a_secret_anywhere_in_a_response() -> None:
    resolver = resolver_for(Credential(value=SECRET))
    applied(resolver, tool(Auth(name="k", kind="apiKey", location="header", parameter="X-Key")))
    body = {"error": {"message": f"key {SECRET} is revoked", "keys": [SECRET]}, "n": 1}

    scrubbed = resolver.scrub(body)

    assert scrubbed == {"error": {"message": "key *** is revoked", "keys": ["***"]}, "n": 1}
    clean = {"ok": True}
    assert resolver.scrub(clean) is clean  # nothing to mask: the same object, no copy


@pytest.mark.parametrize(
    ("url", "gets_key"),
    [
        ("http://127.0.0.1:8750/geo/search", True),
        ("http://127.0.0.1:8750", True),
        ("http://127.0.0.1:8750@other-host/geo", False),  # userinfo, then the real host
        ("http://127.0.0.1:87501/geo", False),
        ("http://127.0.0.1:8750.evil.example/geo", False),
        ("https://127.0.0.1:8750/geo", False),
        ("http://other-host/http://127.0.0.1:8750/geo", False),
    ],
)
def test_the_sandbox_key_goes_only_to_the_sandbox_origin(url: str, gets_key: bool) -> None:
    resolver = CredentialResolver(
        {}, environ={}, defaults={"t1": Credential(value=SECRET)}, defaults_for="http://127.0.0.1:8750"
    )
    headers: dict[str, str] = {}
    resolver.apply(tool(Auth(name="k", kind="apiKey", location="header", parameter="X-Key")), headers, {}, url=url)
    assert (headers.get("X-Key") == SECRET) is gets_key


def test_the_sandbox_default_credential_is_chosen_by_parsed_origin() -> None:
    """The environment gives the sandbox key only to tools written for the sandbox's origin."""
    from pipeline.net import is_under

    assert is_under("http://127.0.0.1:8750/geo", "http://127.0.0.1:8750")
    assert not is_under("http://127.0.0.1:8750@other-host", "http://127.0.0.1:8750")
    assert not is_under("http://127.0.0.1:8750@other-host/geo", "http://127.0.0.1:8750")
    assert not is_under("http://127.0.0.1:8750x/geo", "http://127.0.0.1:8750/geo")
