"""The collect stage end to end: folders and HTTP sources in, catalog files and manifest out."""

from __future__ import annotations

import os
from pathlib import Path

import orjson
import pytest

from pipeline.io import read_json, read_jsonl
from pipeline.settings import Settings, load_settings
from pipeline.specs.catalog import CatalogPaths, iter_tools, load_graph
from pipeline.specs.collect import NothingCollected, collect_catalog
from pipeline.specs.ids import IdRegistry
from pipeline.specs.parallel import ordered_map
from pipeline.toolbench.documents import export_toolbench
from tests.conftest import HOTELS_SWAGGER, SpecServer


def settings_for(tmp_path: Path, **collect: object) -> Settings:
    collect.setdefault("workers", 0)
    return load_settings(run_dir=tmp_path / "run", cache_dir=tmp_path / "cache", collect=collect)


def tools_by_name(run_dir: Path) -> dict[str, dict]:
    return {t["tool_name"]: t for t in read_jsonl(CatalogPaths(run_dir).tools)}


async def test_a_folder_yields_tools_of_every_format_and_records_the_broken_file(
    tmp_path: Path, spec_folder: Path
) -> None:
    settings = settings_for(tmp_path, workers=2)
    report = await collect_catalog([str(spec_folder)], settings)

    tools = tools_by_name(settings.run_dir)
    assert set(tools) == {"Weather Now", "Hotel Finder", "Stock Quotes"}
    assert {t["source"]["format"] for t in tools.values()} == {"openapi-3.0", "swagger-2.0", "toolbench"}
    assert tools["Weather Now"]["category"] == "Weather"  # from x-apisguru-categories
    assert tools["Hotel Finder"]["category"] == "Travel"  # from the spec's tags
    assert tools["Stock Quotes"]["category"] == "Finance"  # from the ToolBench folder
    assert tools["Hotel Finder"]["base_url"] == "https://hotels.example.com/api"
    assert report.tools == 3 and report.apis == 5

    errors = list(read_jsonl(CatalogPaths(settings.run_dir).errors))
    assert len(errors) == 1
    assert errors[0]["source"].endswith("broken.yaml")
    assert errors[0]["stage"] == "parse" and "YAML" in errors[0]["reason"]

    manifest = read_json(settings.run_dir / "manifest.json")
    section = manifest["stages"]["collect"]
    assert section["tools"] == 3 and section["errors"] == 1 and section["files_read"] == 4
    assert manifest["config"]["collect"]["workers"] == 2
    assert "prefect" in manifest["packages"] and manifest["toolgen_version"]


async def test_the_graph_links_categories_tools_and_apis(tmp_path: Path, spec_folder: Path) -> None:
    settings = settings_for(tmp_path)
    await collect_catalog([str(spec_folder)], settings)
    graph = load_graph(settings.run_dir)
    tool = next(t for t in iter_tools(settings.run_dir) if t.tool_name == "Weather Now")
    assert graph.has_edge("category:Weather", f"tool:{tool.id}")
    apis = sorted(graph.successors(f"tool:{tool.id}"))
    assert apis == sorted(f"api:{tool.id}/{api.id}" for api in tool.api_list) and len(apis) == 2
    kinds = {graph.nodes[n]["kind"] for n in graph}
    assert {"category", "tool", "api"} <= kinds <= {"category", "tool", "api", "collection"}


async def test_tools_that_share_vocabulary_across_categories_form_a_derived_collection(
    tmp_path: Path, spec_folder: Path
) -> None:
    settings = settings_for(tmp_path)
    report = await collect_catalog([str(spec_folder)], settings)
    collections = read_json(CatalogPaths(settings.run_dir).collections)
    assert len(collections) == 1 and report.collections == {collections[0]["name"]: 2}
    derived = collections[0]
    # weather and hotels both take a city; the stock quote tool shares nothing with them
    assert derived["origin"] == "derived" and derived["tools"] == ["hotel_finder", "weather_now"]
    assert derived["categories"] == ["Travel", "Weather"] and "city" in derived["name"]


async def test_configured_collections_are_saved_in_the_graph(tmp_path: Path, spec_folder: Path) -> None:
    settings = settings_for(
        tmp_path,
        collections=[{"name": "trip", "tools": ["weather_*", "Hotel Finder", "nothing_like_this"]}],
        derive_collections=False,
    )
    report = await collect_catalog([str(spec_folder)], settings)
    graph = load_graph(settings.run_dir)
    members = sorted(graph.successors("collection:trip"))
    assert members == ["tool:hotel_finder", "tool:weather_now"]
    assert report.collections == {"trip": 2}
    warnings = read_json(settings.run_dir / "manifest.json")["stages"]["collect"]["collection_warnings"]
    assert warnings == ["collection 'trip': 'nothing_like_this' matches no tool"]


async def test_ids_are_stable_across_runs_and_unique_for_same_titles(tmp_path: Path, spec_folder: Path) -> None:
    copy = spec_folder / "again"
    copy.mkdir()
    other = dict(HOTELS_SWAGGER, host="other-hotels.example.com")
    (copy / "hotels.json").write_bytes(orjson.dumps(other))
    first = settings_for(tmp_path / "a")
    second = settings_for(tmp_path / "b")
    await collect_catalog([str(spec_folder)], first)
    await collect_catalog([str(spec_folder)], second)
    ids_first = [t.id for t in iter_tools(first.run_dir)]
    ids_second = [t.id for t in iter_tools(second.run_dir)]
    assert ids_first == ids_second
    assert len(set(ids_first)) == len(ids_first)
    hotel_ids = [i for i in ids_first if i.startswith("hotel_finder")]
    assert len(hotel_ids) == 2 and "hotel_finder" in hotel_ids
    assert all(i.replace("_", "").isalnum() and i == i.lower() for i in ids_first)


async def test_each_filter_drops_and_counts_its_apis(tmp_path: Path) -> None:
    folder = tmp_path / "specs"
    folder.mkdir()
    many = [{"name": f"p{i}", "in": "query", "schema": {"type": "string"}} for i in range(5)]
    ok = {"200": {"content": {"application/json": {"schema": {"type": "object"}}}}}
    spec = {
        "openapi": "3.0.0",
        "info": {"title": "Filters", "version": "1"},
        "servers": [{"url": "https://f.example.com"}],
        "paths": {
            "/good": {"get": {"summary": "A good operation", "responses": ok}},
            "/old": {"get": {"summary": "Old operation", "deprecated": True, "responses": ok}},
            "/blank": {"get": {"responses": ok}},
            "/wide": {"get": {"summary": "Too many knobs", "parameters": many, "responses": ok}},
            "/image": {
                "get": {
                    "summary": "A PNG picture",
                    "responses": {"200": {"content": {"image/png": {"schema": {"type": "string"}}}}},
                }
            },
        },
    }
    duplicate = dict(spec, info={"title": "Filters copy", "version": "1"})
    (folder / "a.json").write_bytes(orjson.dumps(spec))
    (folder / "b.json").write_bytes(orjson.dumps(duplicate))

    settings = settings_for(tmp_path, filters={"max_parameters": 4})
    report = await collect_catalog([str(folder)], settings)
    assert report.filtered == {
        "deprecated": 2,
        "no_description": 2,
        "too_many_parameters": 2,
        "non_json_response": 2,
        "duplicate": 1,
    }
    assert report.tools == 1 and report.tools_emptied_by_filters == 1
    filtered = list(read_jsonl(CatalogPaths(settings.run_dir).filtered))
    assert {f["reason"] for f in filtered} == set(report.filtered)
    assert all(f["source"].endswith((".json")) for f in filtered)

    lenient = settings_for(
        tmp_path / "lenient",
        filters={
            "drop_deprecated": False,
            "min_description_chars": 0,
            "max_parameters": 50,
            "drop_non_json": False,
            "drop_duplicates": False,
        },
    )
    report = await collect_catalog([str(folder)], lenient)
    assert report.filtered == {} and report.apis == 10


async def test_a_run_with_nothing_usable_fails_but_keeps_the_errors(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    bad = tmp_path / "bad.json"
    bad.write_text('{"hello": "world"}')
    with pytest.raises(NothingCollected, match="errors.jsonl"):
        await collect_catalog([str(bad), str(tmp_path / "missing-folder")], settings)
    errors = list(read_jsonl(CatalogPaths(settings.run_dir).errors))
    reasons = {e["source"].rsplit("/", 1)[-1]: e["reason"] for e in errors}
    assert reasons["missing-folder"] == "no such file or folder"
    assert "not an OpenAPI" in reasons["bad.json"] and "hello" in reasons["bad.json"]


def hostile_folder(root: Path) -> Path:
    """A spec folder with one file of each failure class met in real collections, and good ones."""
    folder = root / "hostile"
    (folder / "Data").mkdir(parents=True)
    good = {
        "openapi": "3.0.0",
        "info": {"title": "Good", "version": "1"},
        "servers": [{"url": "https://good.example.com"}],
        "paths": {"/a": {"get": {"summary": "Get an a", "responses": {"200": {"description": "ok"}}}}},
    }
    (folder / "good.json").write_bytes(orjson.dumps(good))
    # a placeholder host that urlsplit refuses
    placeholder = dict(good, info={"title": "Placeholder host", "version": "1"}, servers=[{"url": "http://[domain]:8080"}])
    (folder / "placeholder.json").write_bytes(orjson.dumps(placeholder))
    # a ToolBench document from a query file: no URLs at all
    no_urls = {
        "tool_name": "No Urls",
        "tool_description": "APIs known by name only",
        "api_list": [{"name": n, "method": "GET", "description": f"the {n} api"} for n in ("first", "second", "third")],
    }
    (folder / "Data" / "no_urls.json").write_bytes(orjson.dumps(no_urls))
    # a $ref to a dotfile beside the spec
    (folder / ".secret.yaml").write_text("Token: {type: string, description: sk-live-123}\n")
    dotted = dict(good, info={"title": "Dotted", "version": "1"}, servers=[{"url": "https://dotted.example.com"}])
    dotted["paths"] = {
        "/b": {
            "get": {
                "summary": "Get a b",
                "parameters": [{"name": "t", "in": "query", "schema": {"$ref": ".secret.yaml#/Token"}}],
                "responses": {"200": {"description": "ok"}},
            }
        }
    }
    (folder / "dotted.json").write_bytes(orjson.dumps(dotted))
    os.mkfifo(folder / "pipe.yaml")  # would block a reader forever
    (folder / "zero.yaml").symlink_to("/dev/zero")  # would be read until memory runs out
    (folder / "loop.yaml").symlink_to(folder / "loop.yaml")
    return folder


@pytest.mark.parametrize("workers", [0, 2])
async def test_every_failure_class_is_recorded_against_its_source_and_the_rest_collected(
    tmp_path: Path, workers: int
) -> None:
    folder = hostile_folder(tmp_path)
    settings = settings_for(tmp_path, workers=workers)

    report = await collect_catalog([str(folder)], settings)

    tools = tools_by_name(settings.run_dir)
    assert set(tools) == {"Good", "Placeholder host", "No Urls", "Dotted"}
    # operations without a URL are told apart by name: none is a duplicate of another
    assert [api["name"] for api in tools["No Urls"]["api_list"]] == ["first", "second", "third"]
    assert tools["Placeholder host"]["api_list"][0]["url"] == "http://[domain]:8080/a"
    assert tools["Dotted"]["api_list"][0]["optional_parameters"][0]["schema"] == {}
    errors = {(e["source"].rsplit("/", 1)[-1], e["stage"]): e["reason"] for e in read_jsonl(CatalogPaths(settings.run_dir).errors)}
    assert errors == {
        ("pipe.yaml", "read"): "not a regular file (a named pipe); only regular files are read",
        ("zero.yaml", "read"): "not a regular file (a character device); only regular files are read",
        ("loop.yaml", "read"): "cannot read: Too many levels of symbolic links",
        ("dotted.json", "ref"): "$ref '.secret.yaml#/Token' points to a hidden file or folder",
    }
    assert report.failed_sources == 3 and report.errors == 4
    assert report.errors_by_stage == {"read": 3, "ref": 1}
    assert report.filtered == {} and report.files_read == 7


async def test_a_failure_in_the_main_processs_share_of_a_source_costs_that_source(
    tmp_path: Path, spec_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_tool_id = IdRegistry.tool_id

    def tool_id(self: IdRegistry, title: str, source: str) -> str:
        if title == "Hotel Finder":
            raise ValueError("no id for you")
        return real_tool_id(self, title, source)

    monkeypatch.setattr(IdRegistry, "tool_id", tool_id)
    settings = settings_for(tmp_path)

    report = await collect_catalog([str(spec_folder)], settings)

    assert set(tools_by_name(settings.run_dir)) == {"Weather Now", "Stock Quotes"}
    errors = list(read_jsonl(CatalogPaths(settings.run_dir).errors))
    failed = [e for e in errors if e["source"].endswith("hotels.json")]
    assert [(e["stage"], e["reason"]) for e in failed] == [("ids", "could not be understood (ValueError: no id for you)")]
    assert report.tools == 2 and report.failed_sources == 2  # with broken.yaml


async def test_inputs_that_cannot_be_expanded_are_discovery_errors(tmp_path: Path, spec_folder: Path) -> None:
    settings = settings_for(tmp_path)
    report = await collect_catalog(
        [str(spec_folder), "~no-such-user-toolgen/specs", "ftp://example.com/spec.json", "a\x00b.json"], settings
    )
    errors = {e["source"]: (e["stage"], e["reason"]) for e in read_jsonl(CatalogPaths(settings.run_dir).errors)}
    assert errors["~no-such-user-toolgen/specs"][0] == "discover"
    assert errors["ftp://example.com/spec.json"] == ("discover", "only http(s) URLs can be fetched")
    assert errors["a\x00b.json"] == ("discover", "no such file or folder")
    assert report.tools == 3


async def test_urls_and_an_apisguru_index_are_collected_and_recollected_conditionally(
    tmp_path: Path, spec_server: SpecServer, spec_folder: Path
) -> None:
    index = {
        "example.com:weather": {
            "preferred": "2.1",
            "versions": {"2.1": {"swaggerYamlUrl": "weather.yaml", "info": {"x-apisguru-categories": ["weather"]}}},
        },
        "example.com:missing": {
            "preferred": "1",
            "versions": {"1": {"swaggerUrl": "missing.json", "info": {}}},
        },
    }
    (spec_folder / "list.json").write_bytes(orjson.dumps(index))
    sources = [f"{spec_server.base_url}/list.json", f"{spec_server.base_url}/hotels.json"]

    # the index lists URLs on a loopback server: allowed only because the configuration trusts it
    trusted = spec_server.base_url.removeprefix("http://")
    settings = settings_for(tmp_path, workers=1, fetch={"trusted_hosts": [trusted]})
    report = await collect_catalog(sources, settings)
    tools = tools_by_name(settings.run_dir)
    assert set(tools) == {"Weather Now", "Hotel Finder"}
    assert tools["Weather Now"]["source"]["kind"] == "url"
    assert tools["Weather Now"]["source"]["index"] == f"{spec_server.base_url}/list.json"
    errors = list(read_jsonl(CatalogPaths(settings.run_dir).errors))
    assert [(e["stage"], e["source"]) for e in errors] == [("fetch", f"{spec_server.base_url}/missing.json")]
    assert "404" in errors[0]["reason"] and not errors[0]["reason"].startswith("http")
    assert report.urls_fetched == 2 and report.urls_not_modified == 0

    spec_server.requests.clear()
    again = await collect_catalog(sources, settings)
    assert again.urls_not_modified == 2
    assert ("/hotels.json", 304) in spec_server.requests
    assert set(tools_by_name(settings.run_dir)) == {"Weather Now", "Hotel Finder"}


async def test_urls_an_index_lists_in_private_space_are_refused_and_recorded_per_source(
    tmp_path: Path, spec_server: SpecServer, spec_folder: Path
) -> None:
    index = {
        "example.com:weather": {
            "preferred": "2.1",
            "versions": {"2.1": {"swaggerYamlUrl": "weather.yaml", "info": {}}},
        },
        "cloud:metadata": {
            "preferred": "1",
            "versions": {"1": {"swaggerUrl": "http://169.254.169.254/latest/meta-data/", "info": {}}},
        },
    }
    (spec_folder / "list.json").write_bytes(orjson.dumps(index))
    sources = [f"{spec_server.base_url}/list.json", f"{spec_server.base_url}/hotels.json"]
    settings = settings_for(tmp_path, workers=1)

    report = await collect_catalog(sources, settings)

    # what the user typed is fetched; what the index on the same loopback server lists is not
    assert set(tools_by_name(settings.run_dir)) == {"Hotel Finder"}
    errors = list(read_jsonl(CatalogPaths(settings.run_dir).errors))
    hint = "add the host to collect.fetch.trusted_hosts (or --trust-host) to allow"
    assert errors == [
        {"source": f"{spec_server.base_url}/weather.yaml", "stage": "fetch",
         "reason": f"refused: 127.0.0.1 is a loopback address; {hint}", "detail": "refused by the host policy"},
        {"source": "http://169.254.169.254/latest/meta-data/", "stage": "fetch",
         "reason": f"refused: 169.254.169.254 is a link-local address (cloud metadata); {hint}",
         "detail": "refused by the host policy"},
    ]
    assert report.errors_by_stage == {"fetch": 2}
    assert sorted(path for path, _status in spec_server.requests) == ["/hotels.json", "/list.json"]
    bodies = {path.read_bytes() for path in (settings.shared_cache_dir / "http").glob("*.body")}
    assert bodies == {(spec_folder / "list.json").read_bytes(), (spec_folder / "hotels.json").read_bytes()}


async def test_an_exported_toolbench_catalog_collects_back_to_the_same_tools(
    tmp_path: Path, spec_folder: Path
) -> None:
    first = settings_for(tmp_path / "one")
    await collect_catalog([str(spec_folder)], first)
    exported = tmp_path / "toolbench"
    assert export_toolbench(iter_tools(first.run_dir), exported) == 3
    assert sorted(p.parent.name for p in exported.rglob("*.json")) == ["Finance", "Travel", "Weather"]

    second = settings_for(tmp_path / "two")
    await collect_catalog([str(exported)], second)
    before = {t.tool_name: t for t in iter_tools(first.run_dir)}
    after = {t.tool_name: t for t in iter_tools(second.run_dir)}
    assert before.keys() == after.keys()
    for name, tool in before.items():
        again = after[name]
        assert again.category == tool.category and again.base_url == tool.base_url
        assert [a.model_dump(exclude={"id"}) for a in again.api_list] == [
            a.model_dump(exclude={"id"}) for a in tool.api_list
        ]


def _read_or_die(path: str) -> str:
    if path.endswith("crash"):
        os._exit(11)  # what a segfaulting C parser looks like to the pool
    return path.upper()


def test_a_crashing_reader_costs_only_its_own_file() -> None:
    items = ["a", "b", "crash", "c", "d", "e"]
    results = list(ordered_map(_read_or_die, items, workers=2, on_failure=lambda item, error: f"crashed:{item}"))
    assert results == ["A", "B", "crashed:crash", "C", "D", "E"]


def _slow_head_then_crash(item: str) -> str:
    import time

    if item == "slow":
        time.sleep(1.0)
    return _read_or_die(item)


def test_a_crash_behind_a_slow_item_costs_only_its_own_file() -> None:
    # the pool breaks while the head item still runs, and new items keep coming
    items = ["slow", "crash", *(f"i{i}" for i in range(20))]
    results = list(
        ordered_map(
            _slow_head_then_crash, items, workers=2, on_failure=lambda item, error: f"crashed:{item}:{error}"
        )
    )
    assert results == ["SLOW", "crashed:crash:None", *(f"I{i}" for i in range(20))]


def _raise_on_b(item: str) -> str:
    if item == "b":
        raise LookupError("no b")
    return item.upper()


@pytest.mark.parametrize("workers", [0, 2])
def test_an_item_that_raises_yields_its_failure_and_the_rest_go_on(workers: int) -> None:
    results = list(
        ordered_map(
            _raise_on_b, ["a", "b", "c"], workers=workers,
            on_failure=lambda item, error: f"failed:{item}:{type(error).__name__}:{error}",
        )
    )
    assert results == ["A", "failed:b:LookupError:no b", "C"]


def _slow_first(item: int) -> tuple[int, float]:
    import time

    time.sleep(1.5 if item == 0 else 0.01)
    return item, time.time()


def test_a_slow_item_does_not_stop_the_other_workers_and_order_is_kept() -> None:
    results = list(
        ordered_map(_slow_first, list(range(40)), workers=2, window=4, on_failure=lambda item, error: (-1, 0.0), weigh=lambda r: 1)
    )
    assert [item for item, _ in results] == list(range(40))
    finished = dict(results)
    # the other worker got through every quick item while the first one was still running
    assert max(finished[i] for i in range(1, 40)) < finished[0]


def test_finished_results_waiting_behind_a_slow_item_are_bounded_by_weight() -> None:
    results = list(
        ordered_map(
            _slow_first, list(range(12)), workers=2, window=2, weigh=lambda r: 10, max_waiting_weight=50,
            on_failure=lambda item, error: (-1, 0.0),
        )
    )
    assert [item for item, _ in results] == list(range(12))
    finished = dict(results)
    # submission stops once the results waiting behind the slow item weigh 50 (five of them)
    assert sum(finished[i] < finished[0] for i in range(1, 12)) == 5
