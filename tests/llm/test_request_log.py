"""--log-requests: every attempt's request and response in a JSONL file, the key never in it."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.io import read_jsonl
from pipeline.llm.fake_server import FakeOpenAIServer, http_error, text
from pipeline.llm.openai_backend import OpenAIChatModel
from pipeline.llm.types import ChatRequest

from .conftest import KEY, llm_settings


async def test_each_attempt_is_logged_with_what_was_sent_and_what_came_back(
    server: FakeOpenAIServer, tmp_path: Path
) -> None:
    log_file = tmp_path / "requests.jsonl"
    server.set_script([http_error(500, "overloaded"), text("hello")])
    settings = llm_settings(server, log_requests=log_file, models={"judge": "judge-model"})
    async with OpenAIChatModel(settings) as model:
        reply = await model.chat(ChatRequest(role="judge", messages=[{"role": "user", "content": f"my key is {KEY}"}]))
    assert reply.content == "hello"
    lines = list(read_jsonl(log_file))
    assert [line["attempt"] for line in lines] == [1, 2]
    assert [line["status"] for line in lines] == [500, 200]
    assert lines[0]["role"] == "judge" and lines[0]["model"] == "judge-model"
    assert "overloaded" in lines[0]["response"]
    assert lines[1]["response"]["choices"][0]["message"]["content"] == "hello"
    assert lines[1]["request"]["messages"][0]["role"] == "user"
    assert KEY not in log_file.read_text()


def test_every_command_that_calls_models_offers_the_flag() -> None:
    for command in ("run", "generate", "annotate", "verify"):
        result = CliRunner().invoke(app, [command, "--help"], terminal_width=200)
        assert "--log-requests" in result.output, command
