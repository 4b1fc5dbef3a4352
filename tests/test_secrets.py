"""Secrets stay out of what toolgen shows and keeps: configuration errors, the manifest, the
lock file, log lines; and the settings refuse what they would otherwise ignore or obey blindly
(unknown TOOLGEN_* variables, a million reader processes)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.errors import ConfigError
from pipeline.io import read_json
from pipeline.manifest import record_stage
from pipeline.redact import looks_secret, redact_text, redact_url, redact_value
from pipeline.runlock import LOCK_NAME, run_folder_lock
from pipeline.settings import MAX_COLLECT_WORKERS, load_settings, redacted_dump

KEY = "sk-live-4f9b2c7d1e8a6f3b"
URL_KEY = "hunter2-pa55w0rd"


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


# ---- configuration errors


@pytest.mark.parametrize(
    "toml",
    [
        f'[llm]\napi_kye = "{KEY}"\n',  # a mistyped key: unknown, so its value is never shown
        f'[llm]\nbackend = "openai"\napikey = "{KEY}"\n',
        f'[env.credentials.weather]\nvalue = "{KEY}"\ntoken = "{KEY}"\n',
        f'[llm]\napi_key = ["{KEY}"]\n',  # the right key with a value of the wrong type
        f'[llm]\nbase_url = 3\nmodels = "https://me:{URL_KEY}@llm.example.com/v1"\n',
        f'run_name = "a/{KEY}"\n',  # a key-like token where no key belongs
    ],
)
def test_a_configuration_error_never_shows_a_secret(toml: str, tmp_path: Path) -> None:
    config = tmp_path / "toolgen.toml"
    config.write_text(toml)
    with pytest.raises(ConfigError) as caught:
        load_settings(config)
    message = str(caught.value)
    assert KEY not in message and URL_KEY not in message
    code, output = invoke("verify", "--config", str(config), "--out", str(tmp_path / "run"), "--engine", "local")
    assert code == 2 and KEY not in output and URL_KEY not in output and "Traceback" not in output


def test_a_configuration_error_still_names_the_field_and_a_plain_value(tmp_path: Path) -> None:
    config = tmp_path / "toolgen.toml"
    config.write_text('[llm]\napi_kye = "x"\n[annotate]\nwidth = 0\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(config)
    assert "llm.api_kye" in str(caught.value) and "annotate.width" in str(caught.value)
    assert "(got 0)" in str(caught.value)


# ---- the manifest and the lock file


def test_userinfo_and_keys_are_masked_in_the_manifest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", f"https://{KEY}@llm.example.com/v1")
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    settings = load_settings(
        run_dir=tmp_path,
        collect={"sources": [f"https://me:{URL_KEY}@specs.example.com/openapi.json?api_key={URL_KEY}"]},
    )
    section = {"inputs": list(settings.collect.sources), "note": f"fetched https://me:{URL_KEY}@specs.example.com"}
    record_stage(tmp_path, "collect", section, settings)
    text = (tmp_path / "manifest.json").read_text()
    assert KEY not in text and URL_KEY not in text
    manifest = read_json(tmp_path / "manifest.json")
    assert manifest["config"]["llm"]["base_url"] == "https://***@llm.example.com/v1"
    assert manifest["stages"]["collect"]["inputs"] == ["https://***@specs.example.com/openapi.json?api_key=***"]
    assert redacted_dump(settings)["llm"]["api_key"] == "***"


def test_the_lock_file_does_not_record_a_key_from_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.argv", ["toolgen", "collect", f"https://me:{URL_KEY}@specs.example.com/x.json"])
    with run_folder_lock(tmp_path):
        text = (tmp_path / LOCK_NAME).read_text()
    assert URL_KEY not in text and "https://***@specs.example.com/x.json" in text


# ---- log lines


def test_the_model_client_names_its_endpoint_without_userinfo(monkeypatch: pytest.MonkeyPatch) -> None:
    from pipeline.llm.openai_backend import OpenAIChatModel

    settings = load_settings(llm={"backend": "openai", "base_url": f"https://{KEY}@llm.example.com/v1?api-key={URL_KEY}",
                                  "api_key": "x"})
    model = OpenAIChatModel(settings.llm, client=object())  # type: ignore[arg-type]
    assert KEY not in model.endpoint and URL_KEY not in model.endpoint
    assert model.endpoint.startswith("https://llm.example.com/v1")


async def test_the_fetcher_logs_no_userinfo(caplog: pytest.LogCaptureFixture) -> None:
    from pipeline.specs.fetch import fetch_urls
    from pipeline.specs.fetch_options import FetchOptions

    caplog.set_level(logging.DEBUG)
    url = f"http://me:{URL_KEY}@127.0.0.1:9/spec.json"  # the discard port: nothing answers
    results = await fetch_urls([url], FetchOptions(retries=0, timeout_s=2, connect_timeout_s=1))
    assert not results[0].ok
    assert caplog.records and all(URL_KEY not in record.getMessage() for record in caplog.records)


def test_collect_keeps_no_userinfo_in_the_catalog(tmp_path: Path) -> None:
    run = tmp_path / "run"
    _code, output = invoke("collect", f"http://me:{URL_KEY}@127.0.0.1:9/spec.json", "--out", str(run),
                          "--engine", "local")
    assert URL_KEY not in output
    for path in [run / "manifest.json", *(run / "catalog").glob("*")]:
        if path.is_file():
            assert URL_KEY not in path.read_text(errors="replace"), path


# ---- the masking helper


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("api_key", True), ("apiKey", True), ("X-RapidAPI-Key", True), ("X-Auth-Token", True),
        ("client_secret", True), ("Authorization", True), ("password", True), ("access_token", True),
        ("max_tokens", False), ("prompt_tokens", False), ("keyword", False), ("q", False), ("monkey_count", False),
    ],
)
def test_looks_secret(name: str, secret: bool) -> None:
    assert looks_secret(name) is secret


def test_redaction_of_urls_text_and_values() -> None:
    assert redact_url("http://127.0.0.1:8750@other-host/x") == "http://***@other-host/x"
    assert redact_url("https://u:p@h/x", drop_userinfo=True) == "https://h/x"
    assert redact_url("not a url") == "not a url"
    assert redact_text(f"GET https://me:{URL_KEY}@h/x failed; Bearer {KEY}") == "GET https://***@h/x failed; Bearer ***"
    assert redact_value({"api_key": "k", "tools": {"apikey-tool": "real"}}, by_key=False) == {
        "api_key": "k", "tools": {"apikey-tool": "real"}}
    assert redact_value({"api_key": "k", "n": 3, "urls": ["https://a:b@h"]}) == {
        "api_key": "***", "n": 3, "urls": ["https://***@h"]}


# ---- unknown variables and the workers cap


@pytest.mark.parametrize(
    ("variable", "hint"),
    [
        ("TOOLGEN_COLLECT_WORKERS", "TOOLGEN_COLLECT__WORKERS"),  # one underscore: a new top-level name
        ("TOOLGEN_COLLECT__WORKER", "TOOLGEN_COLLECT__WORKERS"),
        ("TOOLGEN_NOPE", None),
        ("TOOLGEN_SEED__X", "TOOLGEN_SEED"),  # nothing nests below a plain value
        ("TOOLGEN_ENV__CREDENTIALS__WEATHER__VALUEENV", "TOOLGEN_ENV__CREDENTIALS__<KEY>__VALUE_ENV"),
        ("toolgen_llm_api_key", "TOOLGEN_LLM__API_KEY"),  # read case-insensitively, like pydantic-settings
    ],
)
def test_an_unknown_toolgen_variable_is_an_error_naming_it(
    variable: str, hint: str | None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(variable, KEY)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert variable in message and KEY not in message
    if hint:
        assert f"did you mean {hint}?" in message
    code, output = invoke("verify", "--out", str(tmp_path / "run"), "--engine", "local")
    assert code == 2 and variable in output and KEY not in output and "Traceback" not in output


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("TOOLGEN_COLLECT__WORKERS", "2"),
        ("TOOLGEN_RUN_NAME", "nightly"),
        ("TOOLGEN_LLM__MODELS__POLICY", "llama"),  # a dict's key
        ("TOOLGEN_ENV__CREDENTIALS__WEATHER__VALUE_ENV", "WEATHER_KEY"),  # a dict of models
        ("TOOLGEN_COLLECT__FILTERS__MAX_PARAMETERS", "9"),
        ("TOOLGEN_ANNOTATE__MAX_API_CALLS", "5"),  # an optional value
        ("TOOLGEN_COLLECT", '{"workers": 2}'),  # a whole section as JSON
    ],
)
def test_known_toolgen_variables_are_read(variable: str, value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(variable, value)
    load_settings()


def test_collect_workers_are_capped() -> None:
    with pytest.raises(ConfigError, match=rf"collect.workers: .*less than or equal to {MAX_COLLECT_WORKERS}"):
        load_settings(collect={"workers": 1_000_000})
    assert 1 <= load_settings().collect.workers <= MAX_COLLECT_WORKERS
    code, output = invoke("collect", "--workers", "1000000", "--engine", "local")
    assert code == 2 and "collect.workers" in output and "Traceback" not in output
