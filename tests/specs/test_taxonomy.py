"""Tool categories from a taxonomy: declared labels mapped, the rest placed by embedding.

The embedding tests load the bundled all-MiniLM-L6-v2 (offline, a few seconds, once per test
process).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.errors import ConfigError
from pipeline.io import read_jsonl
from pipeline.models import Tool
from pipeline.settings import Settings, load_settings
from pipeline.specs.catalog import CatalogPaths
from pipeline.specs.categorize import CategoryEmbedder
from pipeline.specs.collect import collect_catalog
from pipeline.specs.openapi import ReadOptions
from pipeline.specs.taxonomy import Taxonomy, load_taxonomy

DEFAULT = load_taxonomy("default")
assert DEFAULT is not None
MAPPED = ReadOptions(taxonomy=DEFAULT.lookup())
MAPPED_WITH_TAGS = ReadOptions(taxonomy=DEFAULT.lookup(tags_decide=True))


def spec(
    title: str,
    description: str = "",
    *,
    info: dict[str, Any] | None = None,
    tags: list[str] | None = None,
    operations: tuple[str, ...] = ("getThing",),
) -> dict[str, Any]:
    return {
        "openapi": "3.0.3",
        "info": {"title": title, "version": "1", "description": description, **(info or {})},
        # a host per tool: the catalog drops an operation another tool already has
        "servers": [{"url": f"https://{title.lower().replace(' ', '-')}.example.com"}],
        "tags": [{"name": tag} for tag in tags or []],
        "paths": {
            f"/{name}": {"get": {"operationId": name, "summary": name, "responses": {"200": {"description": "ok"}}}}
            for name in operations
        },
    }


def settings_for(tmp_path: Path, **collect: object) -> Settings:
    collect.setdefault("workers", 0)
    collect.setdefault("derive_collections", False)
    return load_settings(run_dir=tmp_path / "run", cache_dir=tmp_path / "cache", collect=collect)


def catalog(settings: Settings) -> dict[str, dict[str, Any]]:
    return {t["tool_name"]: t for t in read_jsonl(CatalogPaths(settings.run_dir).tools)}


def test_the_default_taxonomy_is_toolbench_s_49_rapidapi_categories() -> None:
    assert len(DEFAULT.categories) == 49 and DEFAULT.fallback == "Other"
    assert {"Finance", "Weather", "Sports", "eCommerce", "Video_Images", "Health_and_Fitness"} <= set(DEFAULT.names)
    assert all(entry.description for entry in DEFAULT.categories)


@pytest.mark.parametrize(
    ("declared", "category"),
    [
        (["financial"], "Finance"),
        (["ecommerce"], "eCommerce"),
        (["developer_tools"], "Tools"),
        (["messaging"], "Communication"),
        (["location"], "Location"),
        (["machine_learning"], "Artificial_Intelligence_Machine_Learning"),
        # APIs.guru's "cloud" says nothing about what the API does: the next label decides
        (["cloud", "storage"], "Storage"),
    ],
)
def test_apisguru_categories_map_through_the_alias_table(
    read_tool: Callable[..., Tool], declared: list[str], category: str
) -> None:
    tool = read_tool(spec("Some API", info={"x-apisguru-categories": declared}), options=MAPPED)
    assert (tool.category, tool.category_origin) == (category, "x-apisguru-categories")
    assert tool.category_label in declared


def test_x_category_and_a_tag_naming_a_category_map_and_raw_tags_are_kept(read_tool: Callable[..., Tool]) -> None:
    by_x_category = read_tool(spec("A", info={"x-category": "Health & Fitness"}), options=MAPPED)
    assert (by_x_category.category, by_x_category.category_origin) == ("Health_and_Fitness", "x-category")

    by_tag = read_tool(spec("B", tags=["Admins", "Weather"]), options=MAPPED_WITH_TAGS)
    assert (by_tag.category, by_tag.category_origin, by_tag.category_label) == ("Weather", "tags", "Weather")
    assert by_tag.tags == ["Admins", "Weather"]


def test_by_default_tags_are_kept_but_do_not_decide_the_category(read_tool: Callable[..., Tool]) -> None:
    tool = read_tool(spec("B", tags=["Admins", "Weather"]), options=MAPPED)
    assert (tool.category, tool.category_origin, tool.tags) == ("Other", "default", ["Admins", "Weather"])


def test_operation_group_tags_do_not_make_categories(read_tool: Callable[..., Tool]) -> None:
    # "Auth" is a keyword of Cybersecurity, "Pet"/"Users" are nothing: as tags they place nothing
    tool = read_tool(spec("Petstore", tags=["Auth", "Pet", "Users", "Other"]), options=MAPPED_WITH_TAGS)
    assert (tool.category, tool.category_origin) == ("Other", "default")
    assert tool.tags == ["Auth", "Pet", "Users", "Other"]


def test_without_a_taxonomy_the_first_declared_label_is_kept_raw(read_tool: Callable[..., Tool]) -> None:
    tool = read_tool(spec("Petstore", tags=["Pet", "Users"]))
    assert (tool.category, tool.category_origin) == ("Pet", "tags")


def test_toolbench_tools_keep_their_category_when_the_taxonomy_has_it(read_tool: Callable[..., Tool]) -> None:
    document = {
        "tool_name": "Odds", "tool_description": "Betting odds.",
        "api_list": [{"name": "odds", "url": "https://x.example/odds"}],
    }
    kept = read_tool({**document, "category_name": "Sports"}, "odds.json", options=MAPPED)
    assert (kept.category, kept.category_origin) == ("Sports", "toolbench")
    unknown = read_tool({**document, "category_name": "Wagers"}, "odds2.json", options=MAPPED)
    assert (unknown.category, unknown.category_origin) == ("Other", "default")


ORIGINS = ["x-apisguru-categories", "index", "x-category", "toolbench", "tags", "folder"]


@given(st.lists(st.tuples(st.sampled_from(ORIGINS), st.text(max_size=40)), max_size=6))
@settings(max_examples=200, deadline=None)
def test_any_labels_place_a_tool_in_the_taxonomy_or_leave_it_unplaced(labels: list[Any]) -> None:
    placed = DEFAULT.lookup(tags_decide=True).place(labels)
    assert placed is None or (placed[0] in DEFAULT.names and placed[0] != "Other")


@pytest.fixture(scope="module")
def embedder() -> CategoryEmbedder:
    return CategoryEmbedder(DEFAULT)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("SkyCast. Current conditions and 5-day forecasts: temperature, rain and wind for any city. "
         "Operations: get Current Weather; get Forecast", {"Weather"}),
        ("PayFlow. Accept card payments, create charges and refunds, manage subscriptions and payouts. "
         "Operations: create Charge; refund Payment", {"Payments", "Finance", "Financial"}),
        ("Goal Line. Live football scores, fixtures, league standings and team rosters. "
         "Operations: list Fixtures; get Standings", {"Sports"}),
        ("Lyricist. Song lyrics, artists and albums, top charts. Operations: search Songs; get Lyrics", {"Music"}),
    ],
)
def test_the_embedding_places_clear_descriptions_in_the_obvious_category(
    embedder: CategoryEmbedder, text: str, expected: set[str]
) -> None:
    [(category, score)] = embedder.place([text])
    assert category in expected and 0.0 < score <= 1.0


async def test_collect_places_unlabelled_tools_by_embedding_and_reports_origins(tmp_path: Path) -> None:
    folder = tmp_path / "oasFiles"  # a folder name that is no category
    from tests.specs.conftest import write_spec

    write_spec(folder, spec("SkyCast", "Weather forecasts, temperature and rain for any city.",
                            operations=("getForecast",)), "a.json")
    write_spec(folder, spec("Ledger", "Stock market quotes, exchange rates and currency conversion.",
                            info={"x-apisguru-categories": ["financial"]}), "b.json")
    settings = settings_for(tmp_path)
    report = await collect_catalog([str(folder)], settings)

    tools = catalog(settings)
    assert (tools["SkyCast"]["category"], tools["SkyCast"]["category_origin"]) == ("Weather", "embedding")
    assert tools["SkyCast"]["category_score"] > 0.2
    assert (tools["Ledger"]["category"], tools["Ledger"]["category_origin"]) == ("Finance", "x-apisguru-categories")
    assert report.taxonomy == "rapidapi-49"
    assert report.category_origins == {"embedding": 1, "x-apisguru-categories": 1}
    assert report.single_tool_categories == 2 and report.categories == {"Finance": 1, "Weather": 1}


async def test_a_taxonomy_file_in_the_configuration_replaces_the_default(tmp_path: Path) -> None:
    mine = tmp_path / "mine.yaml"
    mine.write_text(
        "name: two\ncategories:\n"
        "  - {name: Outdoors, description: weather forecasts hiking trails and rain, keywords: [weather]}\n"
        "  - {name: Money, description: banking stocks currency exchange rates and payments}\n"
    )
    from tests.specs.conftest import write_spec

    write_spec(tmp_path / "specs", spec("SkyCast", "Forecasts and rain.", tags=["Weather"]), "a.json")
    write_spec(tmp_path / "specs", spec("Ledger", "Currency exchange rates and stock quotes."), "b.json")
    settings = settings_for(tmp_path, taxonomy=str(mine))
    report = await collect_catalog([str(tmp_path / "specs")], settings)

    tools = catalog(settings)
    # tags do not decide by default: the embedding places it
    assert (tools["SkyCast"]["category"], tools["SkyCast"]["category_origin"]) == ("Outdoors", "embedding")
    assert tools["Ledger"]["category"] == "Money" and tools["Ledger"]["category_origin"] == "embedding"
    assert report.taxonomy == "two"


async def test_taxonomy_none_keeps_the_labels_the_specs_declare(tmp_path: Path) -> None:
    from tests.specs.conftest import write_spec

    write_spec(tmp_path / "specs", spec("Petstore", tags=["Pet"]), "a.json")
    settings = settings_for(tmp_path, taxonomy="none")
    report = await collect_catalog([str(tmp_path / "specs")], settings)
    assert catalog(settings)["Petstore"]["category"] == "Pet" and report.taxonomy == "none"


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (None, "cannot read"),
        ("categories: [unclosed", "not valid YAML"),
        ("- just a list", "must hold a mapping"),
        ("categories:\n  - {name: A}\n  - {name: A}\n", "more than once"),
        ("categories:\n  - {name: A}\naliases: {x: B}\n", "not listed"),
    ],
)
def test_a_bad_taxonomy_file_is_a_configuration_error_naming_the_file(
    tmp_path: Path, content: str | None, says: str
) -> None:
    path = tmp_path / "taxonomy.yaml"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ConfigError) as raised:
        load_taxonomy(str(path))
    assert str(path) in str(raised.value) and says in str(raised.value)
    assert raised.value.exit_code == 2


async def test_collect_stops_with_the_configuration_error_before_reading(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, taxonomy=str(tmp_path / "missing.yaml"))
    with pytest.raises(ConfigError, match="missing.yaml"):
        await collect_catalog([str(tmp_path)], settings)


async def test_a_tool_whose_placement_fails_is_recorded_and_collect_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.specs.conftest import write_spec

    original = CategoryEmbedder.place

    def place(self: CategoryEmbedder, texts: list[str]) -> list[tuple[str, float]]:
        if any("Exploding" in text for text in texts):
            raise RuntimeError("the model choked")
        return original(self, texts)

    monkeypatch.setattr(CategoryEmbedder, "place", place)
    write_spec(tmp_path / "specs", spec("Exploding Widgets", "Widgets."), "a.json")
    write_spec(tmp_path / "specs", spec("SkyCast", "Weather forecasts and rain for any city."), "b.json")
    settings = settings_for(tmp_path)
    report = await collect_catalog([str(tmp_path / "specs")], settings)

    tools = catalog(settings)
    exploded = tools["Exploding Widgets"]
    assert (exploded["category"], exploded["category_origin"]) == ("Other", "default")
    assert tools["SkyCast"]["category"] == "Weather"
    errors = list(read_jsonl(CatalogPaths(settings.run_dir).errors))
    assert [(e["stage"], e["source"].endswith("a.json")) for e in errors] == [("category", True)]
    assert "the model choked" in errors[0]["reason"] and report.tools == 2


def test_category_texts_of_a_taxonomy_entry_name_the_category_in_words() -> None:
    taxonomy = Taxonomy.model_validate({"categories": [{"name": "Health_and_Fitness", "description": "Workouts."}]})
    entry = taxonomy.categories[0]
    assert entry.embedding_text().startswith("Health and Fitness: Workouts.")


async def test_the_report_shows_how_categories_were_assigned(tmp_path: Path) -> None:
    from pipeline.report.build import build_report
    from tests.specs.conftest import write_spec

    write_spec(tmp_path / "specs", spec("Ledger", info={"x-apisguru-categories": ["financial"]}), "a.json")
    write_spec(tmp_path / "specs", spec("Quotes", info={"x-apisguru-categories": ["financial"]}), "b.json")
    write_spec(tmp_path / "specs", spec("Odds", tags=["Sports"]), "c.json")
    settings = settings_for(tmp_path, category_from_tags=True)
    await collect_catalog([str(tmp_path / "specs")], settings)

    report = build_report(settings.run_dir)
    table = report.table("category_assignment")
    assert table is not None
    rows = {str(row[0]): row[1] for row in table.rows}
    assert rows["taxonomy"] == "rapidapi-49" and rows["categories"] == 2
    assert rows["categories with a single tool"] == 1
    assert rows["tools placed by: x-apisguru-categories"] == 2 and rows["tools placed by: tags"] == 1
    assert "Category assignment" in report.markdown_path.read_text()


REAL = Path(__file__).parent / "fixtures" / "apisguru"


@pytest.mark.parametrize(
    ("name", "declared", "placed"),
    [
        ("apis.guru_2.0.1_swagger.yaml", "Data", {"Data"}),
        ("xkcd.com_1.0.0_swagger.yaml", "Media", {"Media", "Entertainment"}),
        ("healthcare.gov_1.0.0_swagger.yaml", "Data", {"Data", "Medical", "Health_and_Fitness"}),
    ],
)
def test_real_apisguru_specs_are_placed_the_same_with_or_without_their_declared_category(
    read_tool: Callable[..., Tool], embedder: CategoryEmbedder, name: str, declared: str, placed: set[str]
) -> None:
    import yaml

    from pipeline.specs.graph import category_text

    document = yaml.safe_load((REAL / name).read_text())
    mapped = read_tool(document, "with.json", options=MAPPED)
    assert (mapped.category, mapped.category_origin) == (declared, "x-apisguru-categories")

    del document["info"]["x-apisguru-categories"]
    unlabelled = read_tool(document, "without.json", options=MAPPED)
    assert unlabelled.category_origin == "default"
    [(category, _)] = embedder.place([category_text(unlabelled)])
    assert category in placed
