"""Each LLM role may have its own endpoint, key, model and limits; the global values are defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.errors import ConfigError
from pipeline.llm.factory import build_chat_model
from pipeline.llm.fake_server import FakeOpenAIServer, text
from pipeline.llm.routing import RequestDefaults, RoleRouter
from pipeline.llm.types import ChatRequest, check_chat_model, close_chat_model, model_usage
from pipeline.settings import load_settings

from .conftest import KEY


def _ask(role: str, temperature: float = 0.5) -> ChatRequest:
    return ChatRequest(role=role, messages=[{"role": "user", "content": f"hello {role}"}], temperature=temperature)


async def test_a_role_with_its_own_endpoint_reaches_its_own_server(
    server: FakeOpenAIServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JUDGE_KEY", "sk-judge-0000")
    async with FakeOpenAIServer() as judge_server:
        server.set_script([text("from the global server")] * 3)
        judge_server.set_script([text("from the judge's server")])
        settings = load_settings(run_dir=tmp_path, llm={
            "backend": "openai", "base_url": server.base_url, "api_key": KEY, "cache": False,
            "models": {"policy": "local-policy"},
            "roles": {"judge": {"base_url": judge_server.base_url, "api_key_env": "JUDGE_KEY",
                                "model": "hosted-judge", "temperature": 0.0, "max_tokens": 7}},
        })
        model = build_chat_model(settings, run_dir=tmp_path)
        assert model is not None
        try:
            policy = await model.chat(_ask("policy"))
            judged = await model.chat(_ask("judge", temperature=0.9))
        finally:
            await close_chat_model(model)
    assert policy.content == "from the global server"
    assert judged.content == "from the judge's server"
    (global_request,) = server.chat_requests
    (judge_request,) = judge_server.chat_requests
    assert global_request.json["model"] == "local-policy"
    assert global_request.headers["Authorization"] == f"Bearer {KEY}"
    assert judge_request.json["model"] == "hosted-judge"
    # the role's own key, and its own temperature and max_tokens over the stage's
    assert judge_request.headers["Authorization"] == "Bearer sk-judge-0000"
    assert judge_request.json["temperature"] == 0.0
    assert judge_request.json["max_tokens"] == 7
    usage = model_usage(model)
    assert usage["policy"]["requests"] == 1 and usage["judge"]["requests"] == 1


async def test_a_role_on_another_endpoint_never_gets_the_global_key(server: FakeOpenAIServer, tmp_path: Path) -> None:
    async with FakeOpenAIServer() as local:
        local.set_script([text("ok")])
        settings = load_settings(run_dir=tmp_path, llm={
            "backend": "openai", "base_url": server.base_url, "api_key": KEY, "cache": False,
            "roles": {"policy": {"base_url": local.base_url}}})
        model = build_chat_model(settings, run_dir=tmp_path)
        assert model is not None
        try:
            await model.chat(_ask("policy"))
        finally:
            await close_chat_model(model)
        (request,) = local.chat_requests
    assert KEY not in request.headers.get("Authorization", "")


async def test_roles_without_their_own_endpoint_share_one_client(server: FakeOpenAIServer, tmp_path: Path) -> None:
    settings = load_settings(run_dir=tmp_path, llm={
        "backend": "openai", "base_url": server.base_url, "api_key": KEY, "cache": False,
        "roles": {"judge": {"temperature": 0.0}}})
    model = build_chat_model(settings, run_dir=tmp_path)
    assert isinstance(model, RequestDefaults) and isinstance(model.inner, RoleRouter)
    router = model.inner
    try:
        assert router.client_for("policy") is router.client_for("judge") is router.client_for("writer")
    finally:
        await close_chat_model(router)


async def test_the_endpoint_check_covers_each_roles_server(server: FakeOpenAIServer, tmp_path: Path) -> None:
    settings = load_settings(run_dir=tmp_path, llm={
        "backend": "openai", "base_url": server.base_url, "api_key": KEY, "cache": False,
        "roles": {"judge": {"base_url": "http://127.0.0.1:9/v1"}}})  # nothing listens on port 9
    model = build_chat_model(settings, run_dir=tmp_path)
    assert model is not None
    from pipeline.llm.types import EndpointUnusable

    try:
        await check_chat_model(model, ["policy"])  # the global server is fine
        with pytest.raises(EndpointUnusable, match="127.0.0.1:9"):
            await check_chat_model(model, ["policy", "judge"])
    finally:
        await close_chat_model(model)


@pytest.mark.parametrize("llm", [
    {"roles": {"jduge": {"model": "x"}}},
    {"models": {"poilcy": "x"}},
    {"roles": {"judge": {"modle": "x"}}},
])
def test_unknown_roles_and_misspelt_keys_are_configuration_errors(llm: dict[str, object], tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(run_dir=tmp_path, llm=llm)
    message = str(raised.value)
    assert "llm" in message
    assert any(word in message for word in ("jduge", "poilcy", "modle"))


async def test_a_role_key_variable_that_is_not_set_is_named(server: FakeOpenAIServer, tmp_path: Path) -> None:
    settings = load_settings(run_dir=tmp_path, llm={
        "backend": "openai", "base_url": server.base_url, "api_key": KEY,
        "roles": {"judge": {"api_key_env": "TOOLGEN_TEST_UNSET_KEY"}}})
    with pytest.raises(ConfigError, match=r"llm\.roles\.judge\.api_key_env.*TOOLGEN_TEST_UNSET_KEY"):
        build_chat_model(settings, run_dir=tmp_path)


async def test_the_seed_sent_mixes_the_run_seed_with_the_sample_index(server: FakeOpenAIServer, tmp_path: Path) -> None:
    server.set_script([text("a"), text("b"), text("c"), text("d")])
    seen: list[tuple[int, int]] = []
    for run_seed in (0, 7):
        settings = load_settings(run_dir=tmp_path / str(run_seed), seed=run_seed, llm={
            "backend": "openai", "base_url": server.base_url, "api_key": KEY})
        model = build_chat_model(settings, run_dir=tmp_path / str(run_seed))
        assert model is not None
        try:
            for index in (0, 1):
                await model.chat(ChatRequest(role="policy", messages=[{"role": "user", "content": "same"}],
                                             temperature=1.0, sample_index=index))
        finally:
            await close_chat_model(model)
    sent = [request.json["seed"] for request in server.chat_requests]
    seen = [(sent[0], sent[1]), (sent[2], sent[3])]
    assert len(set(sent)) == 4  # a new run seed gives new samples, and so does a new index
    # the same seed and index send the same seed again (reproducible runs)
    rerun = load_settings(run_dir=tmp_path / "again", seed=7, llm={
        "backend": "openai", "base_url": server.base_url, "api_key": KEY, "cache": False})
    server.set_script([text("e")])
    model = build_chat_model(rerun, run_dir=tmp_path / "again")
    assert model is not None
    try:
        await model.chat(ChatRequest(role="policy", messages=[{"role": "user", "content": "same"}],
                                     temperature=1.0, sample_index=1))
    finally:
        await close_chat_model(model)
    assert server.chat_requests[-1].json["seed"] == seen[1][1]


async def test_a_role_temperature_is_part_of_the_cache_key(server: FakeOpenAIServer, tmp_path: Path) -> None:
    server.set_script([text("hot"), text("cold")])
    for temperature in (1.0, 0.0):
        settings = load_settings(run_dir=tmp_path, llm={
            "backend": "openai", "base_url": server.base_url, "api_key": KEY,
            "roles": {"judge": {"temperature": temperature}}})
        model = build_chat_model(settings, run_dir=tmp_path)
        assert model is not None
        try:
            reply = await model.chat(_ask("judge"))
        finally:
            await close_chat_model(model)
        assert not reply.cached  # a changed role temperature asks again instead of replaying
    assert len(server.chat_requests) == 2
