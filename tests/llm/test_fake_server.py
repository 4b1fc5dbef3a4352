"""The scripted OpenAI-compatible server that every model-layer test talks to, checked with the
real OpenAI SDK and with plain aiohttp requests."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import openai
import pytest

from pipeline.llm.fake_server import (
    FakeOpenAIServer,
    Raw,
    hang,
    http_error,
    malformed_tool_call,
    rate_limited,
    text,
    tool_call,
    tool_calls,
)

from .conftest import KEY

HELLO = [{"role": "user", "content": "hello"}]


def client_for(server: FakeOpenAIServer, **options: object) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=server.base_url, api_key=KEY, max_retries=0, **options)


async def test_it_listens_on_loopback_and_lists_models() -> None:
    async with FakeOpenAIServer(models=["m1", "m2"]) as server:
        assert server.base_url.startswith("http://127.0.0.1:") and server.base_url.endswith("/v1")
        async with client_for(server) as client:
            listed = await client.models.list()
        assert [model.id for model in listed.data] == ["m1", "m2"]


async def test_steps_are_served_in_order_and_every_request_is_recorded(server: FakeOpenAIServer) -> None:
    server.set_script([text("one"), tool_calls(("f", {"a": 1}), ("g", {})), malformed_tool_call("h", "{oops")])
    async with client_for(server) as client:
        first = await client.chat.completions.create(model="m", messages=HELLO, temperature=0.5)
        second = await client.chat.completions.create(model="m", messages=HELLO)
        third = await client.chat.completions.create(model="m", messages=HELLO)
    assert first.choices[0].message.content == "one"
    assert first.choices[0].finish_reason == "stop"
    assert first.usage is not None and first.usage.prompt_tokens > 0 and first.usage.completion_tokens > 0
    calls = second.choices[0].message.tool_calls
    assert [(c.function.name, c.function.arguments) for c in calls] == [("f", '{"a":1}'), ("g", "{}")]
    assert len({c.id for c in calls}) == 2 and second.choices[0].finish_reason == "tool_calls"
    assert third.choices[0].message.tool_calls[0].function.arguments == "{oops"
    assert [r.json["messages"] for r in server.requests] == [HELLO] * 3
    assert server.requests[0].json["temperature"] == 0.5
    assert server.requests[0].headers["Authorization"] == f"Bearer {KEY}"


async def test_a_callable_script_sees_each_request(server: FakeOpenAIServer) -> None:
    async def echo(request: dict) -> object:
        await asyncio.sleep(0)
        return text(f"you said {request['messages'][-1]['content']}", usage=(7, 3))

    server.set_script(echo)
    async with client_for(server) as client:
        reply = await client.chat.completions.create(model="m", messages=HELLO)
    assert reply.choices[0].message.content == "you said hello"
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (7, 3)


async def test_errors_carry_status_headers_and_an_openai_error_body(server: FakeOpenAIServer) -> None:
    server.set_script([rate_limited(0.5, retry_after_ms=500), http_error(503, "overloaded")])
    async with client_for(server) as client:
        with pytest.raises(openai.RateLimitError) as limited:
            await client.chat.completions.create(model="m", messages=HELLO)
        with pytest.raises(openai.InternalServerError) as overloaded:
            await client.chat.completions.create(model="m", messages=HELLO)
    assert limited.value.response.headers["retry-after"] == "0.5"
    assert limited.value.response.headers["retry-after-ms"] == "500"
    assert overloaded.value.status_code == 503 and "overloaded" in str(overloaded.value)


async def test_a_finished_script_answers_400_unless_there_is_a_default() -> None:
    async with FakeOpenAIServer([text("only")], default=tool_call("f")) as server, client_for(server) as client:
        await client.chat.completions.create(model="m", messages=HELLO)
        again = await client.chat.completions.create(model="m", messages=HELLO)
        assert again.choices[0].message.tool_calls[0].function.name == "f"
    async with FakeOpenAIServer([]) as server, client_for(server) as client:
        with pytest.raises(openai.BadRequestError, match="script exhausted"):
            await client.chat.completions.create(model="m", messages=HELLO)


async def test_a_key_can_be_required() -> None:
    async with FakeOpenAIServer([text("hi")], api_key="sk-right") as server, client_for(server) as client:
        with pytest.raises(openai.AuthenticationError):
            await client.chat.completions.create(model="m", messages=HELLO)


async def test_latency_and_in_flight_figures() -> None:
    async with FakeOpenAIServer(default=text("ok"), latency_s=0.1) as server, client_for(server) as client:
        started = time.monotonic()
        await asyncio.gather(*(client.chat.completions.create(model="m", messages=HELLO) for _ in range(4)))
        elapsed = time.monotonic() - started
        assert 0.1 <= elapsed < 1.0  # concurrent, each delayed
        assert server.max_in_flight == 4 and server.in_flight == 0


async def test_a_hang_outlasts_the_client_and_does_not_delay_closing() -> None:
    server = await FakeOpenAIServer([hang(60)]).start()
    async with client_for(server, timeout=0.2) as client:
        with pytest.raises(openai.APITimeoutError):
            await client.chat.completions.create(model="m", messages=HELLO)
    started = time.monotonic()
    await server.close()
    assert time.monotonic() - started < 2.0


async def test_a_raw_body_is_sent_as_is_and_non_json_requests_are_refused() -> None:
    raw = Raw("not json at all", content_type="text/plain")
    async with FakeOpenAIServer([raw]) as server, aiohttp.ClientSession() as session:
        async with session.post(f"{server.base_url}/chat/completions", json={"model": "m"}) as response:
            assert (response.status, await response.text()) == (200, "not json at all")
        async with session.post(f"{server.base_url}/chat/completions", data=b"{") as response:
            assert response.status == 400
