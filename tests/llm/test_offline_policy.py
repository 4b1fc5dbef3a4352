"""The offline rule-based policy, on hand-built OpenAI-format conversations and tools."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from pipeline.llm.offline_policy import OfflinePolicy, decision
from pipeline.llm.types import ChatModel, ChatRequest

SYSTEM = "You are AutoGPT, you can use many tools(functions) to do the following task."


def tool(
    name: str, description: str, properties: dict[str, Any] | None = None, required: list[str] | None = None
) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {"type": "object", "properties": properties or {}, "required": required or []},
        },
    }


FINISH = tool(
    "Finish",
    "If you believe that you have obtained a result that can answer the task, please call this function to provide the final answer.",
    {
        "return_type": {"type": "string", "enum": ["give_answer", "give_up_and_restart"]},
        "final_answer": {"type": "string"},
    },
    ["return_type"],
)
CURRENT = tool(
    "get_current_weather_for_sky_cast_weather",
    "Current weather in a city: temperature, wind and humidity of the latest observation.",
    {
        "city": {"type": "string", "description": "City name."},
        "units": {"type": "string", "enum": ["metric", "imperial"]},
    },
    ["city"],
)
FORECAST = tool(
    "get_forecast_for_sky_cast_weather",
    "Daily weather forecast for a city: minimum and maximum temperature for each day.",
    {"city": {"type": "string"}, "days": {"type": "integer", "example_value": 3}},
    ["city"],
)
SEARCH_CITIES = tool(
    "search_cities_for_city_atlas_geo",
    "Search cities by (part of) their name, country or minimum population.",
    {
        "q": {"type": "string", "description": "Text to look for in the city name."},
        "limit": {"type": "integer", "example_value": 10},
    },
    ["q"],
)
GET_CITY = tool(
    "get_city_for_city_atlas_geo",
    "Get city details: coordinates, population and time zone of one city.",
    {"city_id": {"type": "integer", "description": "City id."}},
    ["city_id"],
)
CONVERT = tool(  # as the sandbox's convertCurrency comes out of the function builder
    "convertcurrency_for_fxrates_currency",
    "Convert an amount between two currencies at today's rate, rounded to the target currency's decimals.",
    {
        "from": {"type": "string", "enum": ["USD", "EUR", "GBP", "JPY", "MXN"], "example_value": "USD"},
        "to": {"type": "string", "enum": ["USD", "EUR", "GBP", "JPY", "MXN"], "example_value": "EUR"},
        "amount": {"type": "integer", "example_value": 250},
    },
    ["from", "to", "amount"],
)
MOVERS = tool(
    "getmarketmovers_for_marketpulse_stocks",
    "Biggest gainers or losers of the day on an exchange.",
    {
        "exchange": {"type": "string", "enum": ["NASDAQ", "NYSE"]},
        "direction": {"type": "string", "enum": ["gainers", "losers"]},
    },
    [],
)
SEARCH_FLIGHTS = tool(
    "searchflights_for_skyroute_flights",
    "Search flights between two airports on a date.",
    {
        "origin": {"type": "string", "description": "IATA code of the departure airport."},
        "destination": {"type": "string", "description": "IATA code of the arrival airport."},
        "date": {"type": "string", "description": "Departure date (YYYY-MM-DD)."},
    },
    ["origin", "destination", "date"],
)
WEATHER_TOOLS = [CURRENT, FORECAST, SEARCH_CITIES, GET_CITY, SEARCH_FLIGHTS, FINISH]


class Conversation:
    """Builds an OpenAI chat history by hand: assistant tool calls and their observations."""

    def __init__(self, query: str) -> None:
        self.messages: list[dict[str, Any]] = [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": query},
        ]
        self.n = 0

    def call(
        self, name: str, arguments: dict[str, Any], *, response: Any = None, error: str = ""
    ) -> Conversation:
        self.n += 1
        cid = f"call_{self.n}"
        self.messages.append(
            {
                "role": "assistant",
                "content": f"Thought: calling {name}",
                "tool_calls": [
                    {
                        "id": cid,
                        "type": "function",
                        "function": {"name": name, "arguments": json.dumps(arguments)},
                    }
                ],
            }
        )
        body = response if isinstance(response, str) else json.dumps(response)
        self.messages.append(
            {
                "role": "tool",
                "tool_call_id": cid,
                "content": json.dumps({"error": error, "response": body if not error else ""}),
            }
        )
        return self

    def user(self, text: str) -> Conversation:
        self.messages.append({"role": "user", "content": text})
        return self


async def ask(
    messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = WEATHER_TOOLS, sample_index: int = 0
) -> tuple[str, dict[str, Any], str]:
    policy = OfflinePolicy(strict=True)  # a bug in the rules fails the test
    reply = await policy.chat(
        ChatRequest(role="policy", messages=messages, tools=tools, sample_index=sample_index)
    )
    assert len(reply.tool_calls) == 1
    assert reply.content and reply.content.startswith("Thought:")
    assert reply.usage.prompt_tokens > 0 and reply.usage.completion_tokens > 0
    call = reply.tool_calls[0]
    return call.name, json.loads(call.arguments), reply.content


def test_is_a_chat_model() -> None:
    assert isinstance(OfflinePolicy(), ChatModel)


async def test_picks_the_weather_function_and_fills_the_city_from_the_query() -> None:
    name, args, thought = await ask(Conversation("What's the current weather in Lisbon right now?").messages)
    assert name == "get_current_weather_for_sky_cast_weather"
    assert args == {"city": "Lisbon"}
    assert "get_current_weather_for_sky_cast_weather" in thought


async def test_fills_city_id_from_an_earlier_observation() -> None:
    conv = Conversation("Search for the city Porto, then get the city details (population and time zone).")
    name, args, _ = await ask(conv.messages)
    assert name == "search_cities_for_city_atlas_geo"
    assert args["q"] == "Porto"
    conv.call(
        name,
        args,
        response={
            "results": [
                {"id": 2735943, "name": "Porto", "country_code": "PT"},
                {"id": 1, "name": "Porto Alegre"},
            ],
            "count": 2,
        },
    )
    name, args, _ = await ask(conv.messages)
    assert name == "get_city_for_city_atlas_geo"
    assert args == {"city_id": 2735943}


async def test_a_function_needing_an_earlier_output_waits_for_it() -> None:
    # get_city's city_id has no example: nothing fits before the search has run
    conv = Conversation(
        "Get the city details of Osaka: population and time zone, after searching cities for it."
    )
    name, _, _ = await ask(conv.messages)
    assert name == "search_cities_for_city_atlas_geo"


async def test_adds_a_missing_argument_from_the_enum_and_retries() -> None:
    conv = Conversation("What's the current weather in Lisbon?")
    conv.call(CURRENT["function"]["name"], {"city": "Lisbon"}, error="missing required argument 'units'")
    name, args, thought = await ask(conv.messages)
    assert name == "get_current_weather_for_sky_cast_weather"
    assert args["city"] == "Lisbon"
    assert args["units"] in ("metric", "imperial")
    assert "units" in thought


async def test_reads_enum_and_type_errors() -> None:
    conv = Conversation("Give me the weather forecast for Lisbon for the next days.")
    conv.call(
        FORECAST["function"]["name"],
        {"city": "Lisbon", "days": "three"},
        error="argument 'days' must be integer, got 'three'",
    )
    name, args, _ = await ask(conv.messages)
    assert name == "get_forecast_for_sky_cast_weather" and isinstance(args["days"], int)

    conv = Conversation("Show the biggest gainers or losers on the NYSE.")
    conv.call(
        MOVERS["function"]["name"],
        {"exchange": "LSE"},
        error="argument 'exchange' must be one of ['NASDAQ', 'NYSE'], got 'LSE'",
    )
    name, args, _ = await ask(conv.messages, tools=[MOVERS, CONVERT, FINISH])
    assert name == "getmarketmovers_for_marketpulse_stocks" and args["exchange"] == "NYSE"


async def test_not_found_tries_the_next_value_from_the_observation() -> None:
    conv = Conversation("Search for the city Porto, then get the city details (population and time zone).")
    conv.call(
        "search_cities_for_city_atlas_geo",
        {"q": "Porto"},
        response={"results": [{"id": 11, "name": "Porto"}, {"id": 12, "name": "Porto Alegre"}]},
    )
    conv.call("get_city_for_city_atlas_geo", {"city_id": 11}, error="HTTP 404: city 11 not found")
    name, args, _ = await ask(conv.messages)
    assert name == "get_city_for_city_atlas_geo" and args == {"city_id": 12}


async def test_moves_on_after_two_failures_of_the_same_function() -> None:
    conv = Conversation("What's the current weather in Lisbon?")
    conv.call(CURRENT["function"]["name"], {"city": "Lisbon"}, error="HTTP 500: upstream unavailable")
    conv.call(CURRENT["function"]["name"], {"city": "Paris"}, error="HTTP 500: upstream unavailable")
    name, _, _ = await ask(conv.messages)
    assert name != "get_current_weather_for_sky_cast_weather"
    assert name == "get_forecast_for_sky_cast_weather"


async def test_answers_with_finish_when_the_needed_calls_are_done() -> None:
    conv = Conversation("What's the current weather in Lisbon?")
    conv.call(
        CURRENT["function"]["name"],
        {"city": "Lisbon"},
        response={"city": "Lisbon", "temperature_c": 21.5, "humidity": 64, "condition": "Sunny"},
    )
    name, args, _ = await ask(conv.messages)
    assert name == "Finish"
    assert args["return_type"] == "give_answer"
    assert "21.5" in args["final_answer"] and "Lisbon" in args["final_answer"]


async def test_a_two_part_query_calls_both_parts_before_answering() -> None:
    query = "Convert an amount between two currencies (from 'USD', to 'MXN', amount 250), then look up biggest gainers or losers (exchange 'NYSE', direction 'losers')."
    tools = [CONVERT, MOVERS, FINISH]
    conv = Conversation(query)
    name, args, _ = await ask(conv.messages, tools=tools)
    assert name == "convertcurrency_for_fxrates_currency"
    assert args == {"from": "USD", "to": "MXN", "amount": 250}
    conv.call(name, args, response={"from": "USD", "to": "MXN", "amount": 250, "result": 4301.25})
    name, args, _ = await ask(conv.messages, tools=tools)
    assert name == "getmarketmovers_for_marketpulse_stocks"
    assert args == {"exchange": "NYSE", "direction": "losers"}
    conv.call(name, args, response={"results": [{"symbol": "XYZ", "change_pct": -7.5}]})
    name, args, _ = await ask(conv.messages, tools=tools)
    assert name == "Finish" and args["return_type"] == "give_answer"
    assert "4301.25" in args["final_answer"] and "XYZ" in args["final_answer"]


async def test_fills_codes_and_dates_from_the_query() -> None:
    name, args, _ = await ask(Conversation("Search flights from LIS to JFK on 2025-07-14 please.").messages)
    assert name == "searchflights_for_skyroute_flights"
    assert args == {"origin": "LIS", "destination": "JFK", "date": "2025-07-14"}


async def test_gives_up_when_nothing_can_be_called() -> None:
    name, args, _ = await ask(
        Conversation("Get the city details: population and time zone.").messages, tools=[GET_CITY, FINISH]
    )
    assert name == "Finish" and args == {"return_type": "give_up_and_restart"}
    name, args, _ = await ask(Conversation("What's the weather in Lisbon?").messages, tools=[])
    assert name == "Finish" and args["return_type"] == "give_up_and_restart"


async def test_diversity_prompt_avoids_the_previously_tried_function() -> None:
    conv = Conversation("What's the weather in Lisbon? The current weather or the forecast is fine.")
    first, _, _ = await ask(conv.messages)
    previous = [
        {
            "name": first,
            "arguments": json.dumps({"city": "Lisbon"}),
            "function_output": json.dumps({"error": "HTTP 500", "response": ""}),
            "mcts_value": 0,
        }
    ]
    conv.user(
        "This is not the first time you try this task, all previous trails failed.\n"
        "Before you generate your thought for this state, I will first show you your previous actions for this state, "
        "and then you must generate actions that is different from all of them. Here are some previous actions candidates:\n"
        + json.dumps(previous)
        + "\nRemember you are now in the intermediate state of a trail, you will first analyze the now state and previous "
        "action candidates, then make actions that is different from all the previous."
    )
    name, args, thought = await ask(conv.messages, sample_index=1)
    assert name != first and name != "Finish"
    assert args["city"] == "Lisbon"
    assert "different" in thought


async def test_deterministic_and_sample_index_is_part_of_the_seed() -> None:
    conv = Conversation("What's the weather in Lisbon? The current weather or the forecast is fine.")
    policy = OfflinePolicy(strict=True)
    replies = [
        await policy.chat(
            ChatRequest(role="policy", messages=conv.messages, tools=WEATHER_TOOLS, sample_index=i)
        )
        for i in (0, 0, 1, 1)
    ]
    assert replies[0].model_dump() == replies[1].model_dump()
    assert replies[2].model_dump() == replies[3].model_dump()
    names = set()
    for i in range(8):
        reply = await policy.chat(
            ChatRequest(role="policy", messages=conv.messages, tools=WEATHER_TOOLS, sample_index=i)
        )
        names.add(reply.tool_calls[0].name)
    assert len(names) >= 2  # re-expanding with new sample indexes can choose differently
    assert policy.stats()["policy"]["requests"] == 12


async def test_never_raises_on_odd_inputs() -> None:
    no_params = {
        "type": "function",
        "function": {
            "name": "list_languages_for_linguakit_translate",
            "description": "List supported languages.",
        },
    }
    conv = Conversation("List the supported languages.")
    name, args, _ = await ask(conv.messages, tools=[no_params, FINISH])
    assert name == "list_languages_for_linguakit_translate" and args == {}
    # observation that is not JSON, a malformed tool entry, arguments that are not JSON
    conv.messages.append(
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "x1",
                    "type": "function",
                    "function": {"name": "list_languages_for_linguakit_translate", "arguments": "{not json"},
                }
            ],
        }
    )
    conv.messages.append({"role": "tool", "tool_call_id": "x1", "content": "en, fr, de, <html>"})
    name, args, _ = await ask(
        conv.messages, tools=[no_params, {"function": "junk"}, {"type": "function"}, FINISH]
    )
    assert name == "Finish" and args["return_type"] == "give_answer"
    # a very long history
    long = Conversation("What's the current weather in Lisbon?")
    for i in range(200):
        long.call(FORECAST["function"]["name"], {"city": "Lisbon"}, error=f"HTTP 500 #{i}")
    name, args, _ = await ask(long.messages)
    assert name == "Finish"
    # odd messages
    name, _, _ = await ask(
        [
            {"role": "user", "content": [{"type": "text", "text": "weather in Lisbon"}]},
            {"role": "tool", "content": None},
            {"foo": 1},
        ]
    )
    assert name
    name, args, _ = await ask([], tools=[FINISH])
    assert name == "Finish" and args["return_type"] == "give_up_and_restart"


def _broken_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(self: object) -> None:
        raise KeyError("a bug in the rules")

    monkeypatch.setattr(decision.Decision, "run", fail)


async def test_a_rule_failure_gives_up_with_a_warning_and_is_counted(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    _broken_rules(monkeypatch)
    policy = OfflinePolicy()  # lenient, as production runs use it
    request = ChatRequest(role="policy", messages=Conversation("Weather in Lisbon?").messages, tools=WEATHER_TOOLS)
    with caplog.at_level(logging.WARNING, logger="pipeline.llm.offline_policy"):
        reply = await policy.chat(request)
        await policy.chat(request)
    call = reply.tool_calls[0]
    assert call.name == "Finish" and json.loads(call.arguments) == {"return_type": "give_up_and_restart"}
    assert policy.stats()["policy"]["errors"] == 2 and policy.stats()["policy"]["requests"] == 2
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2 and "KeyError" in warnings[0].getMessage()
    assert warnings[0].exc_info is not None  # the traceback goes with it


async def test_a_strict_policy_lets_a_rule_failure_through(monkeypatch: pytest.MonkeyPatch) -> None:
    _broken_rules(monkeypatch)
    policy = OfflinePolicy(strict=True)
    with pytest.raises(KeyError, match="a bug in the rules"):
        await policy.chat(ChatRequest(role="policy", messages=Conversation("Weather in Lisbon?").messages,
                                      tools=WEATHER_TOOLS))
    assert policy.stats()["policy"]["errors"] == 0


async def test_a_healthy_run_counts_no_errors() -> None:
    policy = OfflinePolicy()
    await policy.chat(ChatRequest(role="policy", messages=Conversation("Weather in Lisbon?").messages,
                                  tools=WEATHER_TOOLS))
    assert policy.stats()["policy"]["errors"] == 0


async def test_the_prompts_begin_line_is_never_an_argument_value() -> None:
    """ToolBench's user message ends in "Begin!": a word of the template is not a value the user gave."""
    hotel = tool(
        "gethotel_for_stayfinder_hotels",
        "Get hotel details: address, amenities and room types of one hotel.",
        {"hotel_id": {"type": "string", "description": "Hotel id."}},
        ["hotel_id"],
    )
    conv = Conversation("\nGet hotel details for the hotel you find, thanks.\nBegin!\n")
    name, args, _ = await ask(conv.messages, tools=[hotel, FINISH])
    assert "Begin" not in json.dumps(args)
    assert name == "Finish" and args["return_type"] == "give_up_and_restart"


async def test_reads_ids_from_an_observation_cut_at_the_character_cap() -> None:
    hotels = tool(
        "searchhotels_for_stayfinder_hotels",
        "Search hotels in a city by city id.",
        {"city_id": {"type": "integer"}},
        ["city_id"],
    )
    hotel = tool(
        "gethotel_for_stayfinder_hotels",
        "Get hotel details of one hotel.",
        {"hotel_id": {"type": "string", "description": "Hotel id."}},
        ["hotel_id"],
    )
    conv = Conversation("\nSearch hotels in a city (city id 2988507); then take the hotel id it returns and get hotel details.\nBegin!\n")
    name, args, _ = await ask(conv.messages, tools=[hotels, hotel, FINISH])
    assert name == "searchhotels_for_stayfinder_hotels" and args == {"city_id": 2988507}
    cut = '{"error":"","response":{"results":[{"id":"htl-2988507-05","name":"The Old Town"},{"id":"htl-29...(truncated)'
    conv.messages += [
        {"role": "assistant", "content": "Thought: search", "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}]},
        {"role": "tool", "tool_call_id": "c1", "content": cut},
    ]
    name, args, _ = await ask(conv.messages, tools=[hotels, hotel, FINISH])
    assert name == "gethotel_for_stayfinder_hotels" and args == {"hotel_id": "htl-2988507-05"}
