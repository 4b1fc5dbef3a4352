"""Configuration: TOML, environment and overrides, with errors that name the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.settings import ConfigError, load_settings, redacted_dump

REPO = Path(__file__).resolve().parent.parent


def test_defaults_work_offline_and_point_at_the_bundled_specs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert settings.run_dir == Path("outputs/default")
    assert settings.collect.sources == [str(REPO / "api_specs")]
    assert settings.shared_cache_dir == Path("outputs/.cache")


def test_precedence_is_overrides_then_environment_then_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "toolgen.toml"
    config.write_text('run_name = "from-file"\nseed = 3\n[collect]\nworkers = 3\nmax_parameters = 1\n'.replace("max_parameters = 1\n", ""))
    monkeypatch.setenv("TOOLGEN_SEED", "7")
    monkeypatch.setenv("TOOLGEN_COLLECT__WORKERS", "5")
    settings = load_settings(config, collect={"workers": 9})
    assert settings.run_name == "from-file" and settings.seed == 7 and settings.collect.workers == 9
    assert settings.run_dir == Path("outputs/from-file")


def test_a_toolgen_toml_in_the_working_folder_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "toolgen.toml").write_text('run_name = "here"\n')
    monkeypatch.chdir(tmp_path)
    assert load_settings().run_name == "here"


def test_the_example_configuration_is_valid() -> None:
    settings = load_settings(REPO / "toolgen.example.toml")
    assert settings.collect.collections[0].name == "trip-planning"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[collect]\nworkers = -1\n", "collect.workers"),
        ("[collect]\nunknown_key = 1\n", "collect.unknown_key"),
        ("[collect.filters]\nmax_parameters = 'many'\n", "collect.filters.max_parameters"),
        ('run_name = "a/b"\n', "run_name"),
        ("this is = not toml [\n", "toolgen.toml"),
    ],
)
def test_bad_configuration_names_the_file_and_field(tmp_path: Path, text: str, expected: str) -> None:
    config = tmp_path / "toolgen.toml"
    config.write_text(text)
    with pytest.raises(ConfigError) as error:
        load_settings(config)
    assert expected in str(error.value) and str(config) in str(error.value)


def test_a_missing_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.toml")


def test_secrets_are_masked_in_the_manifest_copy() -> None:
    dumped = redacted_dump(load_settings())
    assert dumped["collect"]["fetch"]["user_agent"].startswith("toolgen/")
    from pipeline.redact import redact_value

    assert redact_value({"llm": {"api_key": "sk-123", "model": "m"}}) == {"llm": {"api_key": "***", "model": "m"}}


def test_an_inline_credential_is_masked_in_the_manifest_copy() -> None:
    settings = load_settings(env={"credentials": {"weather": {"value": "s3cr3t-value", "value_env": "WEATHER_KEY"}}})
    dumped = redacted_dump(settings)
    assert "s3cr3t-value" not in str(dumped)
    assert dumped["env"]["credentials"]["weather"]["value_env"] == "WEATHER_KEY"  # a name, not a secret
    assert settings.env.credentials["weather"].value.get_secret_value() == "s3cr3t-value"
