"""The offline policy's words: answers that count what the calls returned, never more, without
raw JSON, and thoughts and openings that vary by query but not between two runs."""

from __future__ import annotations

import random
import re
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.llm.offline_policy.conversation import Call, Function
from pipeline.llm.offline_policy.phrasing import (
    call_thought,
    describe_call,
    final_answer,
    phrasing_rng,
    purpose,
)

from .test_offline_policy import CURRENT, FINISH, Conversation, ask

HOTELS = Function(
    name="searchhotels_for_stayfinder_hotels",
    description='This is the subfunction for tool "stayfinder_hotels", you can use this tool.The description of '
                'this function is: "Search hotels in a city (by CityAtlas city id). Filters by price and stars."',
    properties={"city_id": {"type": "integer"}}, required=["city_id"],
)
RAW_JSON = re.compile(r"[{\[]\s*\"[^\"]+\"\s*:")


def hotel(n: int) -> dict[str, Any]:
    return {"id": f"htl-1-{n:02d}", "name": f"Hotel {n}", "stars": 3, "price_from": 50.0 + n}


def test_purpose_is_the_descriptions_first_sentence_as_an_imperative() -> None:
    assert purpose(HOTELS) == "search hotels in a city"
    bare = Function(name="getquote_for_marketpulse", description="", properties={}, required=[])
    assert purpose(bare) == "getquote"
    boilerplate = Function(name="get_quote_for_marketpulse", properties={}, required=[],
                           description='This is the subfunction for tool "marketpulse", you can use this tool.')
    assert purpose(boilerplate) == "get quote"


def test_one_hotel_is_one_result_not_five() -> None:
    text = describe_call(random.Random(0), "search hotels in a city", {"results": [hotel(1)], "total": 1}, cut=False)
    assert "1 result" in text and "Hotel 1" in text and "5 results" not in text
    assert not RAW_JSON.search(text)


def test_a_record_with_lists_is_one_record_not_a_list() -> None:
    movie = {"id": 1001, "title": "Frozen Orbit", "year": 2024, "rating": 7.3, "runtime": 101,
             "genres": ["animation", "thriller"]}
    text = describe_call(random.Random(0), "get movie details", movie, cut=False)
    assert "Frozen Orbit" in text and "2 genres (animation and thriller)" in text
    assert not re.search(r"\b2 results\b", text)


def test_an_empty_list_says_no_results() -> None:
    assert "no results" in describe_call(random.Random(0), "search hotels", {"results": []}, cut=False)


@settings(max_examples=100, deadline=None)
@given(count=st.integers(0, 30), cut=st.booleans(), seed=st.integers(0, 10**6),
       wrapped=st.booleans())
def test_the_count_stated_is_the_count_returned(count: int, cut: bool, seed: int, wrapped: bool) -> None:
    items = [hotel(n) for n in range(count)]
    response: Any = {"results": items} if wrapped else items
    text = describe_call(random.Random(seed), "search hotels in a city", response, cut=cut)
    stated = [int(n) for n in re.findall(r"(\d+) results?\b", text)]
    if count == 0 and not cut:
        assert "no results" in text
    else:
        assert stated == [count], text
        assert ("at least" in text.lower() and "cut off" in text) == cut
    # names only of items that were returned, and never JSON
    assert set(re.findall(r"Hotel \d+", text)) <= {item["name"] for item in items}
    assert not RAW_JSON.search(text)


def test_the_answer_describes_only_successful_calls_of_offered_functions() -> None:
    ok = Call(id="1", name=HOTELS.name, arguments={}, raw_arguments="{}", ok=True,
              response={"results": [hotel(1), hotel(2)]})
    failed = Call(id="2", name=HOTELS.name, arguments={}, raw_arguments="{}", ok=False, error="boom",
                  response={"results": [hotel(9)]})
    text = final_answer(random.Random(0), [failed, ok], {HOTELS.name: HOTELS})
    assert "2 results" in text and "Hotel 9" not in text and "boom" not in text


def test_phrasings_vary_by_query_and_repeat_for_the_same_query() -> None:
    thoughts = {call_thought(phrasing_rng(f"query {i}", 0, 0, "phrasing"), HOTELS, {"city_id": 1}, first=False,
                             chained={}) for i in range(40)}
    assert len({t.split(";")[0].split(".")[0][:25] for t in thoughts}) >= 4
    again = call_thought(phrasing_rng("query 1", 0, 0, "phrasing"), HOTELS, {"city_id": 1}, first=False, chained={})
    assert again == call_thought(phrasing_rng("query 1", 0, 0, "phrasing"), HOTELS, {"city_id": 1}, first=False,
                                 chained={})


async def test_answers_open_differently_across_queries() -> None:
    openings = set()
    for city in ("Lisbon", "Paris", "Tokyo", "Toronto", "Madrid", "Oslo", "Rome", "Vienna", "Prague", "Dublin"):
        conv = Conversation(f"What's the current weather in {city}?")
        conv.call(CURRENT["function"]["name"], {"city": city},
                  response={"city": city, "temperature_c": 21.5, "condition": "Sunny"})
        name, args, thought = await ask(conv.messages, tools=[CURRENT, FINISH])
        assert name == "Finish" and city in args["final_answer"] and "21.5" in args["final_answer"]
        openings.add(" ".join(args["final_answer"].split()[:4]))
    assert len(openings) >= 3


def _described(name: str, text: str) -> Function:
    return Function(name=name, properties={}, required=[],
                    description=f'This is the subfunction for tool "t", you can use this tool.The description of '
                                f'this function is: "{text}"')


def test_purposes_read_as_imperatives() -> None:
    assert purpose(_described("getsimilarrecipes_for_pantry", "Similar recipes. Recipes close to one.")) == \
        "get similar recipes"
    long = "Convert an amount between two currencies at today's rate, rounded to the target currency's decimals."
    assert purpose(_described("convertcurrency_for_fx", long)) == "convert an amount between two currencies at today's rate"
    assert purpose(_described("weather_for_sky", "Current weather in a city.")) == "look up current weather in a city"
