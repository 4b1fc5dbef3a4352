"""A stage whose model endpoint cannot work fails in a second with what to fix, instead of
"finishing" with every item failed: no server, a refused key, a model the server does not serve,
or request after request failing the same way."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.generate.stage import generate_queries
from pipeline.llm.fake_server import FakeOpenAIServer, http_error
from pipeline.llm.openai_backend import SAME_FAILURES_TO_STOP
from pipeline.llm.types import EndpointUnusable
from pipeline.manifest import read_manifest
from tests.generate.test_stage import fake_llm, run_dir, sandbox_catalog, settings_for  # noqa: F401 - fixtures


async def test_a_refused_key_stops_the_stage_before_any_chat_request(run_dir: Path) -> None:  # noqa: F811
    async with FakeOpenAIServer(api_key="sk-right") as server:
        settings = settings_for(run_dir, llm={**fake_llm(server), "api_key": "sk-wrong-key-123456"})
        with pytest.raises(EndpointUnusable) as caught:
            await generate_queries(settings, groups=["G1"], per_group=3)
        assert server.chat_requests == []
    message = str(caught.value)
    assert "HTTP 401" in message and "llm.api_key" in message and "sk-wrong-key-123456" not in message


async def test_a_model_the_server_does_not_serve_is_named_with_those_it_does(run_dir: Path) -> None:  # noqa: F811
    async with FakeOpenAIServer(models=["llama-3-8b", "qwen2.5-7b"]) as server:
        settings = settings_for(run_dir, llm={**fake_llm(server), "models": {"writer": "gpt-4o"}})
        with pytest.raises(EndpointUnusable, match=r"'gpt-4o' is not served .*llama-3-8b, qwen2.5-7b"):
            await generate_queries(settings, groups=["G1"], per_group=1)
        assert server.chat_requests == []


async def test_no_server_at_the_base_url_says_so(run_dir: Path) -> None:  # noqa: F811
    with socket.socket() as probe:  # a free loopback port: nothing listens there
        probe.bind(("127.0.0.1", 0))
        base_url = f"http://127.0.0.1:{probe.getsockname()[1]}/v1"
    settings = settings_for(run_dir, llm={"backend": "openai", "base_url": base_url, "api_key": "sk-x",
                                          "backoff_base_s": 0.0, "retries": 0})
    with pytest.raises(EndpointUnusable, match="no server answers at .* check llm.base_url"):
        await generate_queries(settings, groups=["G1"], per_group=1)


async def test_the_same_failure_again_and_again_stops_the_stage(run_dir: Path) -> None:  # noqa: F811
    async with FakeOpenAIServer(lambda body: http_error(400, "tools are not supported by this model")) as server:
        settings = settings_for(run_dir, llm=fake_llm(server), generate={"concurrency": 1})
        with pytest.raises(EndpointUnusable, match=f"last {SAME_FAILURES_TO_STOP} requests .* all failed"):
            await generate_queries(settings, groups=["G1", "G2", "G3"], per_group=10)
        # the 20th identical failure stops it; a set already waiting for its turn may have sent one
        # request more before the stage closed its client
        assert SAME_FAILURES_TO_STOP <= len(server.chat_requests) <= SAME_FAILURES_TO_STOP + 1


def test_the_cli_exits_one_with_the_reason(run_dir: Path, tmp_path: Path) -> None:  # noqa: F811
    config = tmp_path / "toolgen.toml"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config.write_text(f'[llm]\nbackend = "openai"\nbase_url = "http://127.0.0.1:{port}/v1"\napi_key = "sk-x"\n'
                      "retries = 0\n")
    result = CliRunner().invoke(app, ["generate", "--out", str(run_dir), "--config", str(config),
                                      "--engine", "local", "--groups", "G1", "--per-group", "1"])
    assert result.exit_code == 1, result.output
    assert "no server answers at" in result.output and "Traceback" not in result.output
    assert "generate" not in read_manifest(run_dir).get("stages", {})  # it never started its work


