"""The OpenAI-compatible backend over real HTTP: replies, tool calls, retries and what is not
retried, timeouts, concurrency and rate limits, accounting."""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

import orjson
import pytest

from pipeline.llm.fake_server import (
    FakeOpenAIServer,
    Raw,
    hang,
    http_error,
    malformed_tool_call,
    rate_limited,
    text,
    tool_calls,
)
from pipeline.llm.openai_backend import PLACEHOLDER_KEY, OpenAIChatModel
from pipeline.llm.types import ChatRequest, ModelError, server_seed
from pipeline.settings import LLMSettings

from .conftest import KEY, llm_settings

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


def ask(role: str = "policy", content: str = "What is the weather in Paris?", **options: Any) -> ChatRequest:
    return ChatRequest(role=role, messages=[{"role": "user", "content": content}], **options)


class RecordedSleep:
    """Stands in for asyncio.sleep: records each wait and returns at once."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


# --------------------------------------------------------------------------------------------
# Replies


async def test_a_plain_reply(server: FakeOpenAIServer) -> None:
    server.set_script([text("It is sunny.", usage=(12, 4))])
    settings = llm_settings(server, models={"policy": "policy-model"})
    async with OpenAIChatModel(settings) as model:
        reply = await model.chat(ask(max_tokens=50, stop=["END"]))
    assert (reply.content, reply.tool_calls, reply.finish_reason) == ("It is sunny.", [], "stop")
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (12, 4)
    assert reply.model == "policy-model" and not reply.cached
    assert reply.raw is not None and reply.raw["choices"][0]["message"]["content"] == "It is sunny."
    sent = server.requests[0]
    assert sent.json["model"] == "policy-model" and sent.json["temperature"] == 0
    assert sent.json["max_tokens"] == 50 and sent.json["stop"] == ["END"]
    assert "tools" not in sent.json and "seed" not in sent.json
    assert sent.headers["Authorization"] == f"Bearer {KEY}"


async def test_native_tool_calls_are_passed_through_and_parsed(server: FakeOpenAIServer) -> None:
    server.set_script([tool_calls(("get_weather", {"city": "Paris"}), ("get_weather", {"city": "Oslo"}),
                                  content="Checking both.")])
    async with OpenAIChatModel(llm_settings(server)) as model:
        reply = await model.chat(ask(tools=[WEATHER_TOOL], tool_choice="auto"))
    assert [(call.name, call.arguments) for call in reply.tool_calls] == [
        ("get_weather", '{"city":"Paris"}'),
        ("get_weather", '{"city":"Oslo"}'),
    ]
    assert reply.content == "Checking both." and reply.finish_reason == "tool_calls"
    assert len({call.id for call in reply.tool_calls}) == 2
    assert server.requests[0].json["tools"] == [WEATHER_TOOL]
    assert server.requests[0].json["tool_choice"] == "auto"


async def test_malformed_tool_call_json_comes_back_raw(server: FakeOpenAIServer) -> None:
    server.set_script([malformed_tool_call("get_weather", "{'city': Paris")])
    async with OpenAIChatModel(llm_settings(server)) as model:
        reply = await model.chat(ask(tools=[WEATHER_TOOL]))
    assert reply.tool_calls[0].name == "get_weather"
    assert reply.tool_calls[0].arguments == "{'city': Paris"


async def test_sampling_sends_a_seed_made_of_the_run_seed_and_the_sample_index(server: FakeOpenAIServer) -> None:
    server.set_script([text("a"), text("b")])
    async with OpenAIChatModel(llm_settings(server)) as model:
        await model.chat(ask(temperature=0.8, top_p=0.9, sample_index=3))
        await model.chat(ask(temperature=0.0, sample_index=3))
    assert server.requests[0].json["seed"] == server_seed(0, 3) and server.requests[0].json["top_p"] == 0.9
    assert "seed" not in server.requests[1].json


async def test_a_local_server_needs_no_key_but_openai_does(server: FakeOpenAIServer) -> None:
    server.set_script([text("hi")])
    async with OpenAIChatModel(llm_settings(server, api_key=None)) as model:
        await model.chat(ask())
    assert server.requests[0].headers["Authorization"] == f"Bearer {PLACEHOLDER_KEY}"
    with pytest.raises(ModelError, match="OPENAI_API_KEY"):
        OpenAIChatModel(LLMSettings(backend="openai", base_url=None, api_key=None))


async def test_an_unknown_role_is_a_clear_error(server: FakeOpenAIServer) -> None:
    async with OpenAIChatModel(llm_settings(server)) as model:
        with pytest.raises(ModelError, match="llm.models.summariser"):
            await model.chat(ask(role="summariser"))
    assert server.requests == []


# --------------------------------------------------------------------------------------------
# Retries


async def test_429_waits_as_long_as_retry_after_says(server: FakeOpenAIServer) -> None:
    server.set_script([rate_limited(retry_after=0.2), text("ok")])
    async with OpenAIChatModel(llm_settings(server, backoff_base_s=0.0)) as model:
        reply = await model.chat(ask())
        assert reply.content == "ok"
        assert model.stats()["policy"]["retries"] == 1
    first, second = server.requests
    assert second.received_at - first.received_at >= 0.19


async def test_retry_after_ms_wins_and_long_waits_are_capped(server: FakeOpenAIServer) -> None:
    server.set_script([rate_limited(retry_after=9, retry_after_ms=1500), rate_limited(retry_after=3600), text("ok")])
    sleep = RecordedSleep()
    async with OpenAIChatModel(llm_settings(server, max_retry_after_s=30), sleep=sleep) as model:
        await model.chat(ask())
    assert sleep.waits == [1.5, 30.0]


async def test_500_then_success_is_retried_with_backoff_and_counted(server: FakeOpenAIServer) -> None:
    server.set_script([http_error(500, "boom"), http_error(502, "bad gateway"), text("ok")])
    sleep = RecordedSleep()
    settings = llm_settings(server, backoff_base_s=1.0, max_retry_after_s=60)
    async with OpenAIChatModel(settings, sleep=sleep) as model:
        assert (await model.chat(ask(role="judge"))).content == "ok"
        judge = model.stats()["judge"]
        assert (judge["requests"], judge["retries"], judge["errors"]) == (1, 2, 0)
    assert len(server.requests) == 3
    # exponential with jitter: at least half of 1 s, then of 2 s
    assert 0.5 <= sleep.waits[0] <= 1.0 and 1.0 <= sleep.waits[1] <= 2.0


async def test_persistent_5xx_gives_up_after_the_configured_retries(server: FakeOpenAIServer) -> None:
    server.set_script([http_error(503, "overloaded")] * 3)
    async with OpenAIChatModel(llm_settings(server, retries=2), sleep=RecordedSleep()) as model:
        with pytest.raises(ModelError, match="HTTP 503.*overloaded.*after 3 attempts") as failure:
            await model.chat(ask())
        assert failure.value.status == 503 and failure.value.retryable
        assert model.stats()["policy"]["errors"] == 1 and model.stats()["policy"]["retries"] == 2


@pytest.mark.parametrize(
    ("status", "hint"),
    [(400, "request rejected"), (401, "authentication failed"), (404, "not found"), (422, "request rejected")],
)
async def test_client_errors_are_not_retried(server: FakeOpenAIServer, status: int, hint: str) -> None:
    # OpenAI's 401 quotes the key back (partly masked); ours quotes it whole to be sure.
    server.set_script([http_error(status, f"Incorrect API key provided: {KEY}. Bearer {KEY}")])
    async with OpenAIChatModel(llm_settings(server, models={"policy": "pm"})) as model:
        with pytest.raises(ModelError) as failure:
            await model.chat(ask())
    message = str(failure.value)
    assert f"HTTP {status}" in message and hint in message
    assert "policy model 'pm'" in message and server.base_url in message
    assert KEY not in message and "SECRET" not in message
    assert failure.value.status == status and not failure.value.retryable
    assert failure.value.__cause__ is None and failure.value.__suppress_context__
    assert len(server.requests) == 1


async def test_a_body_that_is_not_json_is_retried_then_named(server: FakeOpenAIServer) -> None:
    page = "<html>502 from the proxy</html>"
    server.set_script([Raw(page, content_type="text/html"), text("ok"), Raw(page), Raw("[1, 2]")])
    async with OpenAIChatModel(llm_settings(server, retries=1), sleep=RecordedSleep()) as model:
        assert (await model.chat(ask())).content == "ok"
        with pytest.raises(ModelError, match="not an object.*after 2 attempts"):
            await model.chat(ask())
        assert model.stats()["policy"]["retries"] == 2


async def test_a_reply_without_choices_fails_at_once(server: FakeOpenAIServer) -> None:
    server.set_script([Raw('{"id": "x", "choices": []}')])
    async with OpenAIChatModel(llm_settings(server, retries=3), sleep=RecordedSleep()) as model:
        with pytest.raises(ModelError, match="no choices") as failure:
            await model.chat(ask())
    assert not failure.value.retryable and len(server.requests) == 1


async def test_tool_call_arguments_sent_as_an_object_are_read_as_json_text(server: FakeOpenAIServer) -> None:
    body = {"id": "c", "object": "chat.completion", "model": "m", "choices": [{"index": 0, "finish_reason": "tool_calls",
            "message": {"role": "assistant", "content": None, "tool_calls": [
                {"id": "t1", "type": "function", "function": {"name": "f", "arguments": {"city": "Oslo"}}}]}}]}
    server.set_script([Raw(orjson.dumps(body))])
    async with OpenAIChatModel(llm_settings(server)) as model:
        reply = await model.chat(ask())
    assert [(c.name, orjson.loads(c.arguments)) for c in reply.tool_calls] == [("f", {"city": "Oslo"})]
    assert reply.usage.prompt_tokens > 0  # no usage reported: estimated


async def test_an_exhausted_quota_is_not_retried(server: FakeOpenAIServer) -> None:
    server.set_script([http_error(429, "You exceeded your current quota", code="insufficient_quota")])
    async with OpenAIChatModel(llm_settings(server)) as model:
        with pytest.raises(ModelError, match="quota exhausted"):
            await model.chat(ask())
    assert len(server.requests) == 1


async def test_a_hang_past_the_timeout_is_retried_then_fails() -> None:
    async with FakeOpenAIServer([hang(30), hang(30)]) as server:
        async with OpenAIChatModel(llm_settings(server, timeout_s=0.3, retries=1)) as model:
            started = time.monotonic()
            with pytest.raises(ModelError, match=r"no answer within 0.3 s after 2 attempts"):
                await model.chat(ask())
            assert time.monotonic() - started < 3.0
        assert len(server.requests) == 2


async def test_a_refused_connection_is_retried_then_fails() -> None:
    server = await FakeOpenAIServer().start()
    settings = llm_settings(server, retries=2)
    await server.close()  # nothing listens on the port any more
    sleep = RecordedSleep()
    async with OpenAIChatModel(settings, sleep=sleep) as model:
        with pytest.raises(ModelError, match="connection failed.*after 3 attempts"):
            await model.chat(ask())
    assert len(sleep.waits) == 2


# --------------------------------------------------------------------------------------------
# Limits


async def test_concurrency_bound_is_respected() -> None:
    async with FakeOpenAIServer(default=text("ok"), latency_s=0.1) as server:
        async with OpenAIChatModel(llm_settings(server, concurrency=3)) as model:
            await asyncio.gather(*(model.chat(ask(content=f"q{i}")) for i in range(9)))
        assert len(server.requests) == 9 and server.max_in_flight == 3


async def test_requests_per_minute_spaces_requests() -> None:
    async with FakeOpenAIServer(default=text("ok")) as server:
        async with OpenAIChatModel(llm_settings(server, requests_per_minute=600)) as model:  # one per 0.1 s
            await asyncio.gather(*(model.chat(ask(content=f"q{i}")) for i in range(5)))
        arrivals = sorted(request.received_at for request in server.requests)
    gaps = [later - earlier for earlier, later in itertools.pairwise(arrivals)]
    assert min(gaps) >= 0.08 and arrivals[-1] - arrivals[0] >= 0.38


async def test_tokens_per_minute_charges_the_reported_usage() -> None:
    # 60,000 tokens a minute = 1,000 a second; the first reply reports 1,500: the next request
    # must wait about half a second for the bucket to come back out of debt.
    async with FakeOpenAIServer([text("long", usage=(1000, 500)), text("short", usage=(10, 1))]) as server:
        async with OpenAIChatModel(llm_settings(server, tokens_per_minute=60_000)) as model:
            await model.chat(ask())
            await model.chat(ask())
        first, second = server.requests
    assert second.received_at - first.received_at >= 0.4


# --------------------------------------------------------------------------------------------
# Accounting


async def test_usage_and_cost_are_accounted_per_role(server: FakeOpenAIServer) -> None:
    server.set_script([text("a", usage=(1000, 500)), text("b", usage=(2000, 0)), text("c", usage=(100, 100)),
                       http_error(400, "bad")])
    prices = {"priced": {"prompt_per_1k": 1.0, "completion_per_1k": 2.0}}
    settings = llm_settings(server, models={"policy": "priced", "judge": "free"}, prices=prices)
    async with OpenAIChatModel(settings) as model:
        await model.chat(ask(role="policy"))
        await model.chat(ask(role="policy"))
        await model.chat(ask(role="judge"))
        with pytest.raises(ModelError):
            await model.chat(ask(role="judge"))
        stats = model.stats()
    assert stats["policy"] == {"requests": 2, "retries": 0, "prompt_tokens": 3000, "completion_tokens": 500,
                               "cost_usd": 4.0, "errors": 0, "unpriced_models": []}
    # a model with no price costs "unknown", not a made-up $0
    assert stats["judge"] == {"requests": 2, "retries": 0, "prompt_tokens": 100, "completion_tokens": 100,
                              "cost_usd": None, "errors": 1, "unpriced_models": ["free"]}
