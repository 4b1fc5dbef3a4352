"""The probe stage: every catalog API called once with the spec's own values, through the
environment, with the outcome per API in ``env/probe.jsonl`` and a ``probe`` manifest section."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.env.probe import documented_arguments, probe_catalog
from pipeline.io import read_jsonl
from pipeline.manifest import read_manifest
from pipeline.models import Api, Param
from pipeline.settings import Settings, load_settings
from pipeline.specs.catalog import iter_tools
from pipeline.specs.collect import collect_catalog

REPO = Path(__file__).resolve().parents[2]
SANDBOX_SPECS = REPO / "api_specs" / "sandbox"


def settings_for(run_dir: Path, **env: Any) -> Settings:
    return load_settings(run_dir=run_dir, collect={"workers": 0}, env=env)


async def test_probing_the_sandbox_catalog_answers_every_api_and_records_modes_and_cache(
    tmp_path: Path,
) -> None:
    settings = settings_for(tmp_path)
    await collect_catalog([str(SANDBOX_SPECS)], settings, run_dir=tmp_path)
    gets = sum(api.method == "GET" for tool in iter_tools(tmp_path) for api in tool.api_list)

    report = await probe_catalog(settings, run_dir=tmp_path)
    records = list(read_jsonl(tmp_path / "env" / "probe.jsonl"))
    section = read_manifest(tmp_path)["stages"]["probe"]
    rerun = await probe_catalog(settings, run_dir=tmp_path)

    assert (report.apis, report.ok, report.failed, report.skipped) == (84, 84, 0, 0)
    assert report.modes == {"real": 84} and report.failures_by_status == {}
    assert len(records) == 84 and len({(r["tool"], r["api"]) for r in records}) == 84
    assert all(r["status"] == "ok" and r["mode"] == "real" and 200 <= r["http_status"] < 300 for r in records)
    geo = next(r for r in records if (r["tool"], r["api"]) == ("city_atlas_geo", "get_city"))
    assert geo["arguments"] == {"city_id": 2988507} and geo["error"] is None
    assert section["apis"] == 84 and section["modes"] == {"real": 84}
    assert section["environment"]["modes"] == {"real": 15}
    assert section["environment"]["cache"] == {"hits": 0, "misses": gets, "writes": gets}
    assert section["started"] and section["finished"]
    # Probing again replays every GET from the run's cache and sends only the state-changing calls.
    assert rerun.ok == 84
    assert rerun.environment["cache_hits"] == gets and rerun.environment["real"] == 84 - gets


async def test_a_required_argument_without_a_documented_value_is_skipped_with_the_reason(
    tmp_path: Path, spec_folder: Path
) -> None:
    # stock_quotes is forced real, and its host is not allowed: a failure without a response
    settings = settings_for(tmp_path, tool_modes={"stock_quotes": "real"})
    await collect_catalog([str(spec_folder)], settings, run_dir=tmp_path)

    report = await probe_catalog(settings, run_dir=tmp_path)
    records = {(r["tool"], r["api"]): r for r in read_jsonl(tmp_path / "env" / "probe.jsonl")}

    assert records["weather_now", "get_forecast"] == {
        "tool": "weather_now",
        "api": "get_forecast",
        "mode": "simulated",
        "status": "skipped",
        "reason": "no documented value for required argument 'city'",
    }
    assert records["hotel_finder", "search_hotels"]["status"] == "skipped"
    assert records["weather_now", "get_current_weather"]["status"] == "ok"
    assert records["weather_now", "get_current_weather"]["arguments"] == {"city": "Paris"}
    quote = records["stock_quotes", "quote"]
    assert quote["status"] == "failed" and quote["arguments"] == {"symbol": "AAPL"}
    assert quote["error"] == "host stock-quotes.p.rapidapi.com is not in env.allowed_hosts"
    assert (report.apis, report.ok, report.failed, report.skipped) == (5, 1, 1, 3)
    assert report.modes == {"simulated": 4, "real": 1}
    assert report.failures_by_status == {"no response": 1}
    assert read_manifest(tmp_path)["stages"]["probe"]["skipped"] == 3


def test_documented_arguments_take_examples_then_defaults_then_the_first_enum_value() -> None:
    api = Api(
        name="search",
        required_parameters=[
            Param(name="q", required=True, example="paris", default="london"),
            Param(name="units", required=True, default="metric"),
            Param(name="limit", required=True, schema={"type": "integer", "default": 0}),
            Param(name="sort", required=True, enum=["name", "population"]),
        ],
        optional_parameters=[
            Param(name="lang", example="fr"),
            Param(name="page", default=2),  # optional: only an example is worth sending
            Param(name="fields", schema={"type": "string", "example": "id,name"}),
        ],
    )
    missing = api.model_copy(update={"required_parameters": [Param(name="city_id", required=True)]})

    assert documented_arguments(api) == {
        "q": "paris",
        "units": "metric",
        "limit": 0,
        "sort": "name",
        "lang": "fr",
        "fields": "id,name",
    }
    assert documented_arguments(missing) == "no documented value for required argument 'city_id'"
