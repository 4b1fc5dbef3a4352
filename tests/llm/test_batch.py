"""The Batch API (``llm.batch``) against the fake server's /files and /batches."""

from __future__ import annotations

import asyncio
from pathlib import Path

from pipeline.io import read_jsonl
from pipeline.llm.batch import BATCHES_FILE, BatchChatModel
from pipeline.llm.fake_server import FakeOpenAIServer, http_error, text
from pipeline.llm.openai_backend import OpenAIChatModel
from pipeline.llm.types import ChatRequest, ModelError

from .conftest import llm_settings


def _ask(number: int, role: str = "judge") -> ChatRequest:
    return ChatRequest(role=role, messages=[{"role": "user", "content": f"question {number}"}])


def _batch_model(server: FakeOpenAIServer, run_dir: Path) -> BatchChatModel:
    return BatchChatModel(OpenAIChatModel(llm_settings(server)), run_dir, flush_s=0.05, poll_s=0.02,
                          max_requests=1000)


def _direct(server: FakeOpenAIServer) -> int:
    return sum(1 for r in server.requests if r.path == "/v1/chat/completions")


async def test_requests_asked_together_go_in_one_batch_and_come_back_to_their_callers(tmp_path: Path) -> None:
    async with FakeOpenAIServer(lambda body: text(f"answer to {body['messages'][0]['content']}")) as server:
        server.batch_polls_to_finish = 3
        model = _batch_model(server, tmp_path)
        try:
            replies = await asyncio.gather(*(model.chat(_ask(n)) for n in range(12)))
        finally:
            await model.aclose()
        assert [r.content for r in replies] == [f"answer to question {n}" for n in range(12)]
        assert len(server.batches) == 1 and _direct(server) == 0
        assert model.stats()["judge"]["requests"] == 12
    (record,) = list(read_jsonl(tmp_path / BATCHES_FILE))
    assert len(record["custom_ids"]) == 12


async def test_a_restarted_run_waits_for_the_batch_it_already_sent(tmp_path: Path) -> None:
    async with FakeOpenAIServer(lambda body: text("late but here")) as server:
        server.batch_polls_to_finish = 10**6  # never done while the first process waits
        first = _batch_model(server, tmp_path)
        asking = asyncio.ensure_future(first.chat(_ask(1)))
        for _ in range(200):
            if server.batches:
                break
            await asyncio.sleep(0.02)
        asking.cancel()  # the process is killed while the batch is in progress
        await first.aclose()
        assert len(server.batches) == 1

        for batch in server.batches.values():
            batch["polls"] = 0
        server.batch_polls_to_finish = 2
        second = _batch_model(server, tmp_path)
        try:
            reply = await second.chat(_ask(1))
        finally:
            await second.aclose()
        assert reply.content == "late but here"
        assert len(server.batches) == 1  # not sent again
        assert second.batches_sent == 0


async def test_a_failed_line_fails_only_its_request(tmp_path: Path) -> None:
    def answer(body: dict[str, object]) -> object:
        content = str(body["messages"][0]["content"])  # type: ignore[index]
        return http_error(400, "bad request") if content.endswith("2") else text("fine")

    async with FakeOpenAIServer(answer) as server:  # type: ignore[arg-type]
        model = _batch_model(server, tmp_path)
        try:
            results = await asyncio.gather(*(model.chat(_ask(n)) for n in range(4)), return_exceptions=True)
        finally:
            await model.aclose()
    assert [isinstance(r, ModelError) for r in results] == [False, False, True, False]
    failed = results[2]
    assert isinstance(failed, ModelError) and failed.status == 400 and failed.role == "judge"


def test_the_batch_flag_is_offered_where_the_writer_or_the_judge_is_asked() -> None:
    from typer.testing import CliRunner

    from pipeline.cli import app

    for command in ("run", "generate", "verify"):
        result = CliRunner().invoke(app, [command, "--help"], terminal_width=200)
        assert "--batch" in result.output, command
