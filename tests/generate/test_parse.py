"""Reading the instruction writer's reply, and rejecting APIs outside the sampled set."""

from __future__ import annotations

import random

import pytest

from pipeline.generate.parse import (
    GeneratedInstruction,
    allowed_apis,
    check_relevant_apis,
    parse_instructions,
)
from pipeline.models import Api, SourceRef, Tool

REPLY = """[
  {"query": "What's the weather in Paris tomorrow?", "relevant APIs": [["Weather Now", "get_forecast"]]},
  {"query": "Convert 100 EUR to USD and tell me the rate.", "relevant APIs": [["FX Rates", "convert"], ["FX Rates", "latest"]]}
]"""


def queries(items: list[GeneratedInstruction]) -> list[str]:
    return [item.query for item in items]


def test_reads_a_plain_top_level_list() -> None:
    items, problems = parse_instructions(REPLY)
    assert problems == []
    assert queries(items) == [
        "What's the weather in Paris tomorrow?",
        "Convert 100 EUR to USD and tell me the rate.",
    ]
    assert items[1].relevant_apis == [("FX Rates", "convert"), ("FX Rates", "latest")]


def test_finds_the_list_inside_prose_and_a_code_fence() -> None:
    text = f"Sure! Here are the queries:\n```json\n{REPLY}\n```\nLet me know if you need more."
    items, problems = parse_instructions(text)
    assert len(items) == 2 and problems == []


def test_finds_the_list_in_prose_without_a_fence() -> None:
    items, _ = parse_instructions(f"Here you go: {REPLY} Hope it helps (really).")
    assert len(items) == 2


@pytest.mark.parametrize("key", ["queries", "instructions", "items", "data", "whatever_else"])
def test_reads_the_list_under_any_key_of_an_object(key: str) -> None:
    items, problems = parse_instructions(f'{{"{key}": {REPLY}, "note": "ten queries"}}')
    assert len(items) == 2 and problems == []


def test_reads_a_list_wrapped_in_nested_objects() -> None:
    items, _ = parse_instructions(f'{{"result": {{"queries": {REPLY}}}}}')
    assert len(items) == 2


def test_forgives_trailing_commas_and_single_quotes() -> None:
    text = """[{'query': 'Weather in Oslo?', 'relevant APIs': [['Weather Now', 'get_forecast'],],},]"""
    items, problems = parse_instructions(text)
    assert queries(items) == ["Weather in Oslo?"] and problems == []


@pytest.mark.parametrize("key", ["query", "Query", "instruction", "question", "text", "prompt"])
def test_accepts_variant_query_keys(key: str) -> None:
    items, _ = parse_instructions(f'[{{"{key}": "Weather in Oslo?", "apis": [["W", "f"]]}}]')
    assert queries(items) == ["Weather in Oslo?"]


@pytest.mark.parametrize(
    "key", ["relevant APIs", "relevant_apis", "related apis", "apis", "api_list", "related_apis"]
)
def test_accepts_variant_relevant_api_keys(key: str) -> None:
    items, _ = parse_instructions(f'[{{"query": "Weather in Oslo?", "{key}": [["W", "f"]]}}]')
    assert items[0].relevant_apis == [("W", "f")]


@pytest.mark.parametrize(
    ("entry", "pair"),
    [
        ('["Weather Now", "get_forecast"]', ("Weather Now", "get_forecast")),
        ('{"tool_name": "Weather Now", "api_name": "get_forecast"}', ("Weather Now", "get_forecast")),
        ('{"tool": "weather_now", "api": "get_forecast"}', ("weather_now", "get_forecast")),
        ('"Weather Now/get_forecast"', ("Weather Now", "get_forecast")),
        ('"Weather Now::get_forecast"', ("Weather Now", "get_forecast")),
        ('"weather.com.get_forecast"', ("weather.com", "get_forecast")),  # last dot
        ('"get_forecast_for_weather_now"', ("weather_now", "get_forecast")),  # ToolBench name
    ],
)
def test_reads_each_way_of_writing_a_relevant_api(entry: str, pair: tuple[str, str]) -> None:
    items, problems = parse_instructions(f'[{{"query": "q?", "relevant APIs": [{entry}]}}]')
    assert problems == []
    assert items[0].relevant_apis == [pair]


def test_reads_a_single_pair_written_without_the_outer_list() -> None:
    items, _ = parse_instructions('[{"query": "q?", "relevant APIs": ["Weather.com", "forecast"]}]')
    assert items[0].relevant_apis == [("Weather.com", "forecast")]


def test_reads_jsonl_one_object_per_line() -> None:
    text = (
        '{"query": "Weather in Oslo?", "relevant APIs": [["W", "f"]]}\n'
        '{"query": "Rate EUR to USD?", "relevant APIs": [["FX", "rate"]]}\n'
    )
    items, problems = parse_instructions(text)
    assert queries(items) == ["Weather in Oslo?", "Rate EUR to USD?"] and problems == []


def test_reads_a_numbered_list_of_objects() -> None:
    text = """Here are the queries:
1. {"query": "Weather in Oslo?", "relevant APIs": [["W", "f"]]}
2. {
     "query": "Rate EUR to USD?",
     "relevant APIs": [["FX", "rate"]]
   }
"""
    items, _ = parse_instructions(text)
    assert queries(items) == ["Weather in Oslo?", "Rate EUR to USD?"]


def test_keeps_the_complete_items_of_a_reply_cut_off_mid_item() -> None:
    cut = REPLY[: REPLY.index("Convert") + 10]
    items, _ = parse_instructions(cut)
    assert queries(items) == ["What's the weather in Paris tomorrow?"]


def test_reports_one_problem_per_dropped_item_with_its_number() -> None:
    text = """[
      {"query": "Fine one", "relevant APIs": [["W", "f"]]},
      {"query": "No APIs here"},
      {"relevant APIs": [["W", "f"]]},
      {"query": "   ", "relevant APIs": [["W", "f"]]},
      {"query": "Bad entry", "relevant APIs": [["W", "f"], 42]},
      7,
      {"query": "Another fine one", "apis": ["W/f"]}
    ]"""
    items, problems = parse_instructions(text)
    assert queries(items) == ["Fine one", "Another fine one"]
    assert problems == [
        "item 2: relevant APIs missing",
        "item 3: no query text",
        "item 4: no query text",
        "item 5: unreadable relevant API 42",
        "item 6: not an object (int)",
    ]


def test_reports_a_reply_with_no_instructions() -> None:
    assert parse_instructions("I cannot help with that.") == (
        [],
        ["no JSON instructions found in the reply"],
    )
    assert parse_instructions('{"queries": []}')[0] == []


HOSTILE = [
    "",
    " ",
    "[",
    "{",
    "]]]]}}}}",
    "{" * 5000,
    "[" * 5000 + "]" * 5000,
    '{"query": ' * 300,
    "```json\n```",
    "```",
    '{"query": null, "relevant APIs": null}',
    '[{"query": 1, "apis": {"a": 1}}]',
    '[{"query": "q", "apis": [[1, 2], [null, "x"]]}]',
    '[{"query": "q", "apis": [["a", "b", "c"]]}]',
    '[{"query": "q", "apis": "not/really/an/api"}]',
    '[{"query": ["q"], "apis": []}]',
    '{"queries": {"query": "nested", "apis": []}}',
    "[1, 2, 3]",
    '"just a string"',
    "NaN",
    "1e999999",
    '\x00\x01\x02{"query": "\ud800"}',
    "{'query': __import__('os').system('true')}",
    "{1: 2}",
    '{"a":' * 1020 + "1" + "}" * 1020,
    "[{'query': 'q', 'apis': [('a', 'b')]}]",
    '{"query": "q", "apis": [["a", "b"]]}' * 200,
]


@pytest.mark.parametrize("text", HOSTILE)
def test_never_raises_on_hostile_text(text: str) -> None:
    items, problems = parse_instructions(text)
    assert isinstance(items, list) and isinstance(problems, list)


def test_never_raises_on_mangled_replies() -> None:
    rng = random.Random(1234)
    alphabet = "{}[]\",:'\n `1a_/."
    base = f"Here:\n```json\n{REPLY}\n```"
    for _ in range(400):
        chars = list(base)
        for _ in range(rng.randint(1, 12)):
            position = rng.randrange(len(chars))
            action = rng.random()
            if action < 0.4:
                del chars[position]
            elif action < 0.8:
                chars.insert(position, rng.choice(alphabet))
            else:
                chars[position] = rng.choice(alphabet)
        cut = rng.randint(0, len(chars))
        items, problems = parse_instructions("".join(chars[:cut]))
        assert all(isinstance(item, GeneratedInstruction) for item in items)
        assert all(isinstance(problem, str) for problem in problems)


def test_never_raises_on_non_text() -> None:
    assert parse_instructions(None) == ([], ["reply is not text"])  # type: ignore[arg-type]


# --- the hallucination filter -------------------------------------------------------------

SAMPLED = {"Weather Now": {"get_forecast", "current"}, "FX Rates": {"convert"}}


def item(*pairs: tuple[str, str]) -> GeneratedInstruction:
    return GeneratedInstruction(query="q?", relevant_apis=list(pairs))


def test_accepts_apis_from_the_sampled_set() -> None:
    resolved, reason = check_relevant_apis(
        item(("Weather Now", "get_forecast"), ("FX Rates", "convert")), SAMPLED
    )
    assert reason is None
    assert resolved == [("Weather Now", "get_forecast"), ("FX Rates", "convert")]


def test_rejects_an_api_outside_the_sampled_set_naming_it() -> None:
    resolved, reason = check_relevant_apis(
        item(("Weather Now", "get_forecast"), ("Weather Now", "get_history")), SAMPLED
    )
    assert resolved is None
    assert reason == "hallucinated API Weather Now/get_history"


def test_rejects_an_unknown_tool() -> None:
    _, reason = check_relevant_apis(item(("Stock Quotes", "convert")), SAMPLED)
    assert reason == "hallucinated API Stock Quotes/convert"


def test_rejects_an_empty_relevant_api_list() -> None:
    assert check_relevant_apis(item(), SAMPLED) == (None, "no relevant APIs")


@pytest.mark.parametrize(
    "pair",
    [
        ("weather now", "GET_FORECAST"),
        ("weather_now", "get forecast"),
        ("WeatherNow", "getForecast"),
        ("Weather-Now", "get-forecast"),
    ],
)
def test_resolves_case_space_and_underscore_variants(pair: tuple[str, str]) -> None:
    resolved, reason = check_relevant_apis(item(pair), SAMPLED)
    assert reason is None and resolved == [("Weather Now", "get_forecast")]


def test_resolves_names_split_at_the_wrong_separator() -> None:
    # "get_forecast_for_weather_now" and "weather.now.get_forecast" split where the parser
    # guessed; the pair joined back together still names the sampled API.
    for text in ('"get_forecast_for_weather_now"', '"Weather.Now.get_forecast"'):
        items, _ = parse_instructions(f'[{{"query": "q", "apis": [{text}]}}]')
        resolved, reason = check_relevant_apis(items[0], SAMPLED)
        assert reason is None and resolved == [("Weather Now", "get_forecast")]


def test_the_same_api_named_twice_resolves_once() -> None:
    resolved, _ = check_relevant_apis(
        item(("Weather Now", "get_forecast"), ("weather_now", "get forecast")), SAMPLED
    )
    assert resolved == [("Weather Now", "get_forecast")]


def test_accepts_a_mapping_of_names_and_ids_to_canonical_ids() -> None:
    tool = Tool(
        id="weather_now",
        tool_name="Weather Now",
        source=SourceRef(kind="file", location="w.yaml", format="openapi-3.0"),
        api_list=[Api(name="Get forecast", id="get_forecast"), Api(name="Current", id="current")],
    )
    allowed = allowed_apis([tool])
    for pair in [("Weather Now", "Get forecast"), ("weather_now", "get_forecast")]:
        resolved, reason = check_relevant_apis(item(pair), allowed)
        assert reason is None and resolved == [("weather_now", "get_forecast")]
    resolved, reason = check_relevant_apis(item(("weather_now", "alerts")), allowed)
    assert resolved is None and reason == "hallucinated API weather_now/alerts"
