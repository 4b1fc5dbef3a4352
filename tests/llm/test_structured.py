"""Structured output for the writer and judge, stepping down where a server refuses it."""

from __future__ import annotations

from typing import Any

from pipeline.llm.fake_server import FakeOpenAIServer, Step, http_error, text
from pipeline.llm.openai_backend import OpenAIChatModel
from pipeline.llm.structured import StructuredAsker
from pipeline.llm.types import ChatRequest
from pipeline.verify.judge import JUDGEMENT_SCHEMA, LLMJudge

from .conftest import llm_settings


def _refusing(kinds: set[str]) -> Any:
    """A server that refuses the response_format types in ``kinds`` with a 400, as vLLM/Ollama do."""

    def reply(body: dict[str, Any]) -> Step:
        kind = (body.get("response_format") or {}).get("type")
        if kind in kinds:
            return http_error(400, f"response_format type {kind} is not supported")
        return text('{"answer_status": "Solved", "reason": "all parts answered"}')

    return reply


def _ask() -> ChatRequest:
    return ChatRequest(role="judge", messages=[{"role": "user", "content": "judge this"}])


async def test_a_server_that_takes_json_schema_gets_the_schema() -> None:
    async with FakeOpenAIServer(_refusing(set())) as server:
        async with OpenAIChatModel(llm_settings(server)) as model:
            asker = StructuredAsker(model, mode="json_schema", name="judgement", schema=JUDGEMENT_SCHEMA)
            await asker.chat(_ask())
        (request,) = server.chat_requests
    sent = request.json["response_format"]
    assert sent["type"] == "json_schema" and sent["json_schema"]["schema"] == JUDGEMENT_SCHEMA


async def test_refusals_step_down_once_for_the_whole_run() -> None:
    async with FakeOpenAIServer(_refusing({"json_schema", "json_object"})) as server:
        async with OpenAIChatModel(llm_settings(server)) as model:
            asker = StructuredAsker(model, mode="json_schema", name="judgement", schema=JUDGEMENT_SCHEMA)
            for _ in range(3):
                reply = await asker.chat(_ask())
                assert "Solved" in (reply.content or "")
        kinds = [(r.json.get("response_format") or {}).get("type") for r in server.chat_requests]
    # json_schema refused, json_object refused, then plain requests only
    assert kinds == ["json_schema", "json_object", None, None, None]
    assert asker.mode == "off" and asker.refusals == 2


async def test_other_errors_are_not_taken_for_a_refusal() -> None:
    async with FakeOpenAIServer([http_error(401, "bad key")]) as server:
        async with OpenAIChatModel(llm_settings(server, retries=0)) as model:
            asker = StructuredAsker(model, mode="json_schema", name="judgement", schema=JUDGEMENT_SCHEMA)
            try:
                await asker.chat(_ask())
            except Exception:  # noqa: BLE001 - the 401 must come through
                pass
    assert asker.mode == "json_schema"


async def test_the_llm_judge_uses_structured_output_and_falls_back() -> None:
    from tests.verify.test_funnel import good_record, verdict

    async with FakeOpenAIServer(_refusing({"json_schema"})) as server:
        async with OpenAIChatModel(llm_settings(server)) as model:
            judge = LLMJudge(model, model_name="m", votes=1)
            result = await verdict(good_record(), judge)
        kinds = [(r.json.get("response_format") or {}).get("type") for r in server.chat_requests]
    assert result.passed
    assert kinds == ["json_schema", "json_object"]


async def test_requests_refused_together_step_down_only_once() -> None:
    import asyncio

    async with FakeOpenAIServer(_refusing({"json_schema"}), latency_s=0.05) as server:
        async with OpenAIChatModel(llm_settings(server)) as model:
            asker = StructuredAsker(model, mode="json_schema", name="judgement", schema=JUDGEMENT_SCHEMA)
            await asyncio.gather(*(asker.chat(_ask()) for _ in range(4)))
    assert asker.mode == "json_object" and asker.refusals == 1
