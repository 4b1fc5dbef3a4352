"""Text (ReAct) tool mode for models without native tool calls: tools rendered into the prompt,
history rewritten as text, replies parsed back into tool calls."""

from __future__ import annotations

import orjson
import pytest

from pipeline.llm.fake_server import FakeOpenAIServer, text
from pipeline.llm.openai_backend import OpenAIChatModel
from pipeline.llm.text_mode import OBSERVATION_STOP, parse_react, text_mode_messages
from pipeline.llm.types import ChatRequest

from .conftest import llm_settings

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "search_hotels_for_stay_finder",
            "description": "Search hotels in a city",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}, "max_price": {"type": "number"}},
                "required": ["city"],
            },
        },
    },
    {"type": "function", "function": {"name": "Finish", "description": "Finish the task", "parameters": {}}},
]
QUESTION = [
    {"role": "system", "content": "You are AutoGPT."},
    {"role": "user", "content": "Find a hotel in Lisbon under 120 EUR."},
]


def arguments_of(text_reply: str) -> dict:
    _, calls = parse_react(text_reply)
    assert len(calls) == 1, text_reply
    return orjson.loads(calls[0].arguments)


async def test_tools_go_into_the_system_prompt_and_replies_become_tool_calls(server: FakeOpenAIServer) -> None:
    server.set_script([text(
        'Thought: I should search Lisbon first.\nAction: search_hotels_for_stay_finder\n'
        'Action Input: {"city": "Lisbon", "max_price": 120}'
    )])
    async with OpenAIChatModel(llm_settings(server, tool_mode="text")) as model:
        reply = await model.chat(ChatRequest(role="policy", messages=QUESTION, tools=TOOLS, stop=["END"]))
    assert reply.content == "I should search Lisbon first."
    assert reply.finish_reason == "tool_calls"
    assert [(c.name, orjson.loads(c.arguments)) for c in reply.tool_calls] == [
        ("search_hotels_for_stay_finder", {"city": "Lisbon", "max_price": 120})
    ]
    sent = server.requests[0].json
    assert "tools" not in sent and "tool_choice" not in sent
    system = sent["messages"][0]
    assert system["role"] == "system" and system["content"].startswith("You are AutoGPT.")
    assert "Action Input:" in system["content"]
    assert "Specifically, you have access to the following APIs:" in system["content"]
    assert "search_hotels_for_stay_finder" in system["content"] and "Search hotels in a city" in system["content"]
    assert sent["messages"][1] == QUESTION[1]
    assert sent["stop"] == ["END", OBSERVATION_STOP]


async def test_an_unparseable_reply_has_no_tool_calls_and_keeps_the_text(server: FakeOpenAIServer) -> None:
    garbled = "Thought: hmm\nAction: search_hotels_for_stay_finder\nAction Input: city is Lisbon, cheap please"
    server.set_script([text(garbled)])
    async with OpenAIChatModel(llm_settings(server, tool_mode="text")) as model:
        reply = await model.chat(ChatRequest(role="policy", messages=QUESTION, tools=TOOLS))
    assert reply.tool_calls == [] and reply.content == garbled and reply.finish_reason == "stop"


async def test_without_tools_text_mode_sends_the_request_unchanged(server: FakeOpenAIServer) -> None:
    server.set_script([text("Action: not a call, just prose")])
    async with OpenAIChatModel(llm_settings(server, tool_mode="text")) as model:
        reply = await model.chat(ChatRequest(role="writer", messages=QUESTION))
    assert reply.tool_calls == [] and reply.content == "Action: not a call, just prose"
    assert server.requests[0].json["messages"] == QUESTION and "stop" not in server.requests[0].json


@pytest.mark.parametrize(
    "reply",
    [
        'Action: search_hotels_for_stay_finder\nAction Input: ```json\n{"city": "Lisbon", "max_price": 120}\n```',
        'Action: search_hotels_for_stay_finder\nAction Input: {"city": "Lisbon", "max_price": 120,}',
        "Action: search_hotels_for_stay_finder\nAction Input: {'city': 'Lisbon', 'max_price': 120}",
        'Action: `search_hotels_for_stay_finder`\nAction Input:\n```\n{\n  "city": "Lisbon",\n  "max_price": 120,\n}\n```',
        '**Action:** search_hotels_for_stay_finder\n**Action Input:** {"city": "Lisbon", "max_price": 120}',
        'Action: search_hotels_for_stay_finder()\nAction Input: "{\\"city\\": \\"Lisbon\\", \\"max_price\\": 120}"',
        'Action: search_hotels_for_stay_finder\nAction Input: Here you go: {"city": "Lisbon", "max_price": 120} ok',
        'Action: search_hotels_for_stay_finder\nAction Input: {"city": "Lisbon", "max_price": 120}\nObservation: fake',
    ],
    ids=["fenced", "trailing-comma", "single-quotes", "fenced-multiline-trailing-comma", "markdown-bold",
         "json-in-a-string", "json-in-prose", "invented-observation"],
)
def test_forgiving_action_input_parsing(reply: str) -> None:
    assert arguments_of(f"Thought: search first.\n{reply}") == {"city": "Lisbon", "max_price": 120}


def test_valid_json_input_is_kept_exactly_as_written() -> None:
    _, calls = parse_react('Action: Finish\nAction Input: {"return_type": "give_answer",  "final_answer": "x"}')
    assert calls[0].arguments == '{"return_type": "give_answer",  "final_answer": "x"}'


@pytest.mark.parametrize(
    "reply",
    [
        "Action: search_hotels_for_stay_finder\nAction Input: {'city': Lisbon}",  # not a literal
        "Action: search_hotels_for_stay_finder\nAction Input: [1, 2]",  # not an object
        "Action: search_hotels_for_stay_finder",  # no input at all
        "Action: ***\nAction Input: {}",  # no name
        "Action: f\nAction Input: {}\nAction: g\nAction Input: {broken",  # one of two is broken
    ],
)
def test_unreadable_actions_give_no_calls_and_the_whole_text(reply: str) -> None:
    assert parse_react(reply) == (reply, [])


def test_an_answer_without_action_is_content_only() -> None:
    assert parse_react("The cheapest hotel is Casa Azul.") == ("The cheapest hotel is Casa Azul.", [])
    assert parse_react("") == ("", []) and parse_react(None) == (None, [])


def test_several_actions_and_empty_input() -> None:
    thought, calls = parse_react("Thought: two lookups\nAction: a\nAction Input: {}\nAction: b\nAction Input:")
    assert thought == "two lookups"
    assert [(c.name, c.arguments) for c in calls] == [("a", "{}"), ("b", "{}")]
    assert len({c.id for c in calls}) == 2
    assert parse_react("Action: a\nAction Input: {}")[1][0].id == parse_react("Action: a\nAction Input: {}")[1][0].id


def test_history_with_calls_and_results_is_rewritten_as_text() -> None:
    history = [
        {"role": "user", "content": "Hotels in Lisbon?"},
        {"role": "assistant", "content": "Search first.", "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "search", "arguments": '{"city": "Lisbon"}'}},
            {"id": "c2", "type": "function", "function": {"name": "search", "arguments": '{"city": "Porto"}'}},
        ]},
        {"role": "tool", "tool_call_id": "c1", "content": '{"error": "", "response": ["Casa Azul"]}'},
        {"role": "tool", "tool_call_id": "c2", "content": '{"error": "", "response": []}'},
    ]
    converted = text_mode_messages(history, TOOLS, "required")
    assert converted[0]["role"] == "system" and "You must call one of the functions" in converted[0]["content"]
    assert converted[1] == history[0]
    assert converted[2] == {"role": "assistant", "content": (
        'Thought: Search first.\nAction: search\nAction Input: {"city": "Lisbon"}\n'
        'Action: search\nAction Input: {"city": "Porto"}')}
    assert converted[3] == {"role": "user", "content": (
        'Observation: {"error": "", "response": ["Casa Azul"]}\nObservation: {"error": "", "response": []}')}
    assert len(converted) == 4


def test_tool_choice_none_renders_no_tools_and_a_named_choice_is_demanded() -> None:
    assert text_mode_messages(QUESTION, TOOLS, "none") == QUESTION
    named = text_mode_messages(QUESTION, TOOLS, {"type": "function", "function": {"name": "Finish"}})
    assert "You must call the function Finish" in named[0]["content"]


async def test_tool_choice_none_asks_for_prose_and_reads_no_calls(server: FakeOpenAIServer) -> None:
    server.set_script([text("Action: search_hotels_for_stay_finder\nAction Input: {}")])
    async with OpenAIChatModel(llm_settings(server, tool_mode="text")) as model:
        reply = await model.chat(ChatRequest(role="policy", messages=QUESTION, tools=TOOLS, tool_choice="none"))
    assert reply.tool_calls == [] and reply.content.startswith("Action:")
    sent = server.requests[0].json
    assert sent["messages"] == QUESTION and "stop" not in sent and "tools" not in sent
