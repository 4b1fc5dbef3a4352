"""The persistent reply cache in front of the HTTP backend: a repeated request makes no HTTP
request, the key covers everything that decides an answer, failures are not stored, the file
outlives the process; and the factory that builds the cached model from settings."""

from __future__ import annotations

import multiprocessing
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from pipeline.llm.cache import CachedChatModel, ReplyCacheError, request_key
from pipeline.llm.factory import CACHE_FILE, build_chat_model, close_chat_model
from pipeline.llm.fake_server import FakeOpenAIServer, http_error, text, tool_call
from pipeline.llm.openai_backend import OpenAIChatModel
from pipeline.llm.routing import RequestDefaults
from pipeline.llm.types import ChatReply, ChatRequest, ModelError
from pipeline.settings import LLMSettings, load_settings

from .conftest import KEY, llm_settings

TOOL = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}


def ask(**options: Any) -> ChatRequest:
    values: dict[str, Any] = {"role": "policy", "messages": [{"role": "user", "content": "hi"}]}
    values.update(options)
    return ChatRequest(**values)


def cached_model(server: FakeOpenAIServer, path: Path, **settings: Any) -> CachedChatModel:
    llm = llm_settings(server, **settings)
    return CachedChatModel(OpenAIChatModel(llm), path, model_name_for=llm.model_for)


async def test_the_second_identical_request_makes_no_http_request(server: FakeOpenAIServer, tmp_path: Path) -> None:
    server.set_script([tool_call("f", {"x": 1}, content="thinking", usage=(30, 5))])
    async with cached_model(server, tmp_path / "cache.sqlite") as model:
        first = await model.chat(ask(tools=[TOOL]))
        second = await model.chat(ask(tools=[TOOL]))
        assert len(server.requests) == 1
        assert not first.cached and second.cached
        assert second.model_dump(exclude={"cached"}) == first.model_dump(exclude={"cached"})
        assert model.cache_stats.as_dict() == {"hits": 1, "misses": 1, "writes": 1}
        policy = model.stats()["policy"]
        assert (policy["requests"], policy["cache_hits"], policy["cache_misses"]) == (1, 1, 1)
        assert policy["prompt_tokens"] == 30  # the replay cost nothing


async def test_each_sample_index_is_its_own_entry(server: FakeOpenAIServer, tmp_path: Path) -> None:
    server.set_script([text("sample 0"), text("sample 1")])
    async with cached_model(server, tmp_path / "cache.sqlite") as model:
        replies = [await model.chat(ask(temperature=0.9, sample_index=i)) for i in (0, 1, 0, 1)]
    assert [r.content for r in replies] == ["sample 0", "sample 1", "sample 0", "sample 1"]
    assert [r.cached for r in replies] == [False, False, True, True]
    assert len(server.requests) == 2


@pytest.mark.parametrize(
    "change",
    [
        {"messages": [{"role": "user", "content": "hi!"}]},
        {"tools": [TOOL]},
        {"tool_choice": "required"},
        {"temperature": 0.5},
        {"top_p": 0.5},
        {"max_tokens": 10},
        {"response_format": {"type": "json_object"}},
        {"stop": ["\n"]},
        {"sample_index": 1},
    ],
    ids=lambda change: next(iter(change)),
)
def test_every_field_that_decides_the_answer_is_in_the_key(change: dict[str, Any]) -> None:
    assert request_key(ask(), "m") != request_key(ask(**change), "m")


def test_the_key_follows_meaning_not_spelling() -> None:
    assert request_key(ask(), "m") != request_key(ask(), "other-model")
    assert request_key(ask(), "m", "tool_mode=text") != request_key(ask(), "m", "tool_mode=native")
    assert request_key(ask(role="judge"), "m") == request_key(ask(role="policy"), "m")
    reordered = ask(messages=[{"content": "hi", "role": "user"}], temperature=0)
    assert request_key(reordered, "m") == request_key(ask(temperature=0.0), "m")


async def test_failed_replies_are_not_cached(server: FakeOpenAIServer, tmp_path: Path) -> None:
    server.set_script([http_error(500, "down"), text("back")])
    async with cached_model(server, tmp_path / "cache.sqlite", retries=0) as model:
        with pytest.raises(ModelError):
            await model.chat(ask())
        assert len(model) == 0
        reply = await model.chat(ask())
    assert reply.content == "back" and not reply.cached and len(server.requests) == 2


async def test_answers_persist_across_instances(server: FakeOpenAIServer, tmp_path: Path) -> None:
    path = tmp_path / "run" / "llm" / "cache.sqlite"
    server.set_script([text("remembered")])
    async with cached_model(server, path) as model:
        await model.chat(ask())
    async with cached_model(server, path) as again:
        reply = await again.chat(ask())
    assert reply.content == "remembered" and reply.cached and len(server.requests) == 1


def _write_from_another_process(path: str, start: int) -> None:
    cache = CachedChatModel(_NoModel(), Path(path), model_name_for=lambda role: "m")
    for number in range(start, start + 50):
        request = ask(messages=[{"role": "user", "content": str(number)}])
        cache.put(request_key(request, "m"), request, "m", ChatReply(content=str(number)))
    cache.close()


class _NoModel:
    async def chat(self, request: ChatRequest) -> ChatReply:
        raise AssertionError("the cache should have answered")


async def test_processes_share_the_file(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite"
    context = multiprocessing.get_context("spawn")  # fork is unsafe once the suite has started threads
    writers = [context.Process(target=_write_from_another_process, args=(str(path), start)) for start in (0, 50)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(60)
    assert [writer.exitcode for writer in writers] == [0, 0]
    async with CachedChatModel(_NoModel(), path, model_name_for=lambda role: "m") as cache:
        assert len(cache) == 100
        reply = await cache.chat(ask(messages=[{"role": "user", "content": "73"}]))
        assert reply.content == "73" and reply.cached
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_foreign_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite"
    sqlite3.connect(path).execute("CREATE TABLE people (name TEXT)")
    with pytest.raises(ReplyCacheError, match="not a toolgen model reply cache"):
        CachedChatModel(_NoModel(), path, model_name_for=lambda role: "m")


# --------------------------------------------------------------------------------------------
# The factory


def test_the_offline_backend_builds_no_model(tmp_path: Path) -> None:
    assert build_chat_model(load_settings(llm={"backend": "offline"}), run_dir=tmp_path) is None


async def test_the_openai_backend_is_cached_in_the_run_folder(server: FakeOpenAIServer, tmp_path: Path) -> None:
    server.set_script([text("once")])
    settings = load_settings(llm={"backend": "openai", "base_url": server.base_url, "api_key": KEY})
    model = build_chat_model(settings, run_dir=tmp_path)
    assert isinstance(model, RequestDefaults)
    assert isinstance(model.inner, CachedChatModel) and model.inner.path == tmp_path / CACHE_FILE
    try:
        assert (await model.chat(ask())).content == "once"
        assert (await model.chat(ask())).cached
    finally:
        await close_chat_model(model)
    assert len(server.requests) == 1


async def test_the_cache_can_be_switched_off(server: FakeOpenAIServer, tmp_path: Path) -> None:
    settings = load_settings(llm={"backend": "openai", "base_url": server.base_url, "cache": False})
    model = build_chat_model(settings, run_dir=tmp_path)
    assert isinstance(model, RequestDefaults) and isinstance(model.inner, OpenAIChatModel)
    await model.aclose()
    assert not (tmp_path / CACHE_FILE).exists()


def test_settings_keep_default_roles_and_mask_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    from pipeline.settings import redacted_dump

    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://localhost:8000/v1")
    settings = load_settings(llm={"backend": "openai", "models": {"policy": "llama-3-8b"}})
    assert settings.llm.api_key is not None and settings.llm.api_key.get_secret_value() == KEY
    assert settings.llm.base_url == "http://localhost:8000/v1"
    assert settings.llm.model_for("policy") == "llama-3-8b" and settings.llm.model_for("judge") == "gpt-4o-mini"
    dumped = redacted_dump(settings)
    assert dumped["llm"]["api_key"] == "***" and KEY not in repr(dumped) and KEY not in repr(settings)
    assert LLMSettings().backend == "offline"
