"""The LLM API simulator (StableToolBench's virtual API server) over real HTTP against the
scripted fake OpenAI server: the prompt, reading the reply, the retry and the rule-based
fallback, and the environment using it for simulated tools."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from pipeline.env.cache import ResponseCache
from pipeline.env.environment import open_environment
from pipeline.env.llm_simulate import RETRY_PROMPT, LLMSimulator, parse_simulated
from pipeline.env.observation import Observation
from pipeline.env.simulate import ResponseSimulator
from pipeline.llm.cache import CachedChatModel
from pipeline.llm.factory import build_chat_model, close_chat_model
from pipeline.llm.fake_server import FakeOpenAIServer, http_error, text
from pipeline.llm.openai_backend import OpenAIChatModel
from pipeline.llm.routing import RequestDefaults
from pipeline.models import Api, Param, SourceRef, Tool
from pipeline.settings import LLMSettings, SimulationSettings, load_settings

KEY = "sk-test-simulator"
RESPONSE_SCHEMA = {
    "type": "object",
    "required": ["city", "temperature"],
    "properties": {"city": {"type": "string"}, "temperature": {"type": "number"}, "conditions": {"type": "string"}},
}
CURRENT = Api(
    name="Current weather",
    id="current_weather",
    url="https://api.weather.example/v2/current",
    method="GET",
    description="Current weather conditions for a city",
    required_parameters=[Param(name="city", type="STRING", description="City name", required=True)],
    optional_parameters=[Param(name="units", type="STRING", description="Unit system", enum=["metric", "imperial"],
                               default="metric")],
    response_schema=RESPONSE_SCHEMA,
)
WEATHER = Tool(
    id="weather_now",
    tool_name="Weather Now",
    tool_description="Current weather and forecasts for any city.",
    base_url="https://api.weather.example/v2",
    source=SourceRef(kind="file", location="weather.yaml", format="openapi-3.0"),
    api_list=[CURRENT],
)
LISBON = {"city": "Lisbon", "temperature": 24.5, "conditions": "sunny"}


@pytest.fixture(autouse=True)
def _no_real_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
async def server() -> AsyncIterator[FakeOpenAIServer]:
    async with FakeOpenAIServer() as fake:
        yield fake


def model_for(server: FakeOpenAIServer, **settings: Any) -> OpenAIChatModel:
    values: dict[str, Any] = {"backend": "openai", "base_url": server.base_url, "api_key": KEY,
                              "models": {"simulator": "sim-model"}, "backoff_base_s": 0.01}
    values.update(settings)
    return OpenAIChatModel(LLMSettings(**values))


def simulator_for(model: Any, cache: ResponseCache | None = None) -> LLMSimulator:
    return LLMSimulator(model, cache, SimulationSettings(use_llm=True, examples_in_prompt=2),
                        fallback=ResponseSimulator())


def wrapped(response: Any, error: str = "") -> str:
    return orjson.dumps({"error": error, "response": response}).decode()


def user_prompt(server: FakeOpenAIServer, number: int = 0) -> str:
    return server.requests[number].json["messages"][1]["content"]


# --------------------------------------------------------------------------------------------
# The simulator on its own


async def test_the_prompt_holds_the_api_doc_the_cached_examples_and_the_call(
    server: FakeOpenAIServer, tmp_path: Path
) -> None:
    server.set_script([text(wrapped(LISBON))])
    with ResponseCache(tmp_path / "responses.sqlite") as cache:
        cache.put(WEATHER.id, CURRENT.id, {"city": "Oslo"}, Observation(response={"city": "Oslo", "temperature": 3.0}))
        cache.put(WEATHER.id, CURRENT.id, {"city": "Rome"}, Observation(response={"city": "Rome", "temperature": 19.0}))
        cache.put(WEATHER.id, CURRENT.id, {"city": "Nowhere"}, Observation(error="city not found", status=404))
        cache.put(WEATHER.id, CURRENT.id, {"city": "Kyiv"}, Observation(response={"city": "Kyiv", "temperature": 9.0}))
        async with model_for(server) as model:
            observation = await simulator_for(model, cache).asimulate(WEATHER, CURRENT, {"city": "Lisbon"})
    assert observation.response == LISBON and observation.mode == "llm-simulated"
    sent = server.requests[0].json
    assert sent["model"] == "sim-model" and sent["temperature"] == 0
    assert sent["response_format"] == {"type": "json_object"}
    system, user = sent["messages"]
    assert "API server" in system["content"] and '"error": ""' in system["content"]
    for fact in ("Weather Now", "Current weather", "Current weather conditions for a city", "GET", "https://api.weather.example/v2/current", '"name":"city"', '"type":"STRING"',
                 '"enum":["metric","imperial"]', '"response_schema"', '"temperature":{"type":"number"}'):
        assert fact in user["content"], fact
    # the two newest successful answers, newest first; never the error
    assert user["content"].index('{"city":"Kyiv"}') < user["content"].index('{"city":"Rome"}')
    assert '"temperature":9.0' in user["content"] and "Oslo" not in user["content"]
    assert "city not found" not in user["content"]
    assert user["content"].rstrip().endswith("only.") and 'Arguments: {"city":"Lisbon"}' in user["content"]


async def test_examples_given_by_the_caller_are_used(server: FakeOpenAIServer) -> None:
    server.set_script([text(wrapped(LISBON))])
    examples = [({"city": "Paris"}, Observation(response={"city": "Paris", "temperature": 15.5}, mode="real"))]
    async with model_for(server) as model:
        await simulator_for(model).asimulate(WEATHER, CURRENT, {"city": "Lisbon"}, examples=examples)
    assert '"temperature":15.5' in user_prompt(server)


@pytest.mark.parametrize(
    "reply",
    [
        wrapped(LISBON),
        f"Sure! Here is the server's answer:\n{wrapped(LISBON)}\nLet me know if you need more.",
        f"```json\n{wrapped(LISBON)}\n```",
        "{'error': '', 'response': {'city': 'Lisbon', 'temperature': 24.5, 'conditions': 'sunny',},}",
        wrapped(orjson.dumps(LISBON).decode()),  # the body written as a JSON string
        orjson.dumps(LISBON).decode(),  # a bare body, without the wrapper
    ],
    ids=["json", "prose-wrapped", "fenced", "python-literal", "body-as-string", "bare-body"],
)
async def test_a_json_reply_becomes_the_observation(server: FakeOpenAIServer, reply: str) -> None:
    server.set_script([text(reply)])
    async with model_for(server) as model:
        simulator = simulator_for(model)
        observation = await simulator.asimulate(WEATHER, CURRENT, {"city": "Lisbon"})
    assert (observation.error, observation.response, observation.mode) == ("", LISBON, "llm-simulated")
    assert simulator.stats() == {"calls": 1, "answered": 1}
    assert len(server.requests) == 1


async def test_an_error_answer_is_an_error_observation(server: FakeOpenAIServer) -> None:
    server.set_script([text(wrapped(None, error="city 'Xq' not found"))])
    async with model_for(server) as model:
        observation = await simulator_for(model).asimulate(WEATHER, CURRENT, {"city": "Xq"})
    assert observation.error == "city 'Xq' not found" and observation.response is None


async def test_garbage_is_retried_once_then_the_rules_answer(server: FakeOpenAIServer) -> None:
    server.set_script([text("I am sorry, I cannot help with that."), text("Still no JSON here.")])
    async with model_for(server) as model:
        simulator = simulator_for(model)
        observation = await simulator.asimulate(WEATHER, CURRENT, {"city": "Lisbon"})
    assert observation.mode == "simulated" and not observation.error
    assert observation.response == ResponseSimulator().simulate(WEATHER, CURRENT, {"city": "Lisbon"}).response
    assert simulator.stats() == {"calls": 1, "unparseable": 2, "retries": 1, "fallbacks": 1}
    assert len(server.requests) == 2
    retry_messages = server.requests[1].json["messages"]
    assert retry_messages[-2] == {"role": "assistant", "content": "I am sorry, I cannot help with that."}
    assert retry_messages[-1] == {"role": "user", "content": RETRY_PROMPT}


async def test_garbage_then_json_is_answered_by_the_model(server: FakeOpenAIServer) -> None:
    server.set_script([text("no"), text(wrapped(LISBON))])
    async with model_for(server) as model:
        simulator = simulator_for(model)
        observation = await simulator.asimulate(WEATHER, CURRENT, {"city": "Lisbon"})
    assert observation.mode == "llm-simulated" and observation.response == LISBON
    assert simulator.stats()["retries"] == 1 and "fallbacks" not in simulator.stats()


async def test_a_failing_model_falls_back_to_the_rules(server: FakeOpenAIServer) -> None:
    server.set_script([http_error(503, "overloaded")])
    async with model_for(server, retries=0) as model:
        simulator = simulator_for(model)
        observation = await simulator.asimulate(WEATHER, CURRENT, {"city": "Lisbon"})
    assert observation.mode == "simulated" and observation.response["city"] == "Lisbon"
    assert simulator.stats() == {"calls": 1, "model_errors": 1, "fallbacks": 1}


async def test_a_server_without_json_mode_is_asked_again_without_it(server: FakeOpenAIServer) -> None:
    server.set_script([http_error(400, "response_format is not supported"), text(wrapped(LISBON)),
                       text(wrapped(LISBON))])
    async with model_for(server) as model:
        simulator = simulator_for(model)
        await simulator.asimulate(WEATHER, CURRENT, {"city": "Lisbon"})
        await simulator.asimulate(WEATHER, CURRENT, {"city": "Porto"})
    assert [("response_format" in r.json) for r in server.requests] == [True, False, False]


async def test_a_schema_mismatch_is_counted_and_kept(server: FakeOpenAIServer) -> None:
    server.set_script([text(wrapped({"city": "Lisbon", "temperature": "warm"}))])
    async with model_for(server) as model:
        simulator = simulator_for(model)
        observation = await simulator.asimulate(WEATHER, CURRENT, {"city": "Lisbon"})
    assert observation.response == {"city": "Lisbon", "temperature": "warm"}
    assert simulator.stats()["schema_mismatches"] == 1


def test_replies_without_json_are_not_answers() -> None:
    for reply in (None, "", "   ", "The weather is nice", "[unclosed", "42"):
        assert parse_simulated(reply) is None, reply


# --------------------------------------------------------------------------------------------
# Through the environment


async def test_the_environment_asks_the_model_for_simulated_tools_and_caches(
    server: FakeOpenAIServer, tmp_path: Path
) -> None:
    server.set_script([text(wrapped(LISBON))])
    settings = load_settings(
        run_dir=tmp_path,
        env={"mode": "simulated", "simulation": {"use_llm": True}},
        llm={"backend": "openai", "base_url": server.base_url, "api_key": KEY},
    )
    model = build_chat_model(settings, run_dir=tmp_path)
    assert isinstance(model, RequestDefaults) and isinstance(model.inner, CachedChatModel)
    try:
        async with open_environment([WEATHER], settings, run_dir=tmp_path, model=model) as environment:
            first = await environment.call(WEATHER.id, CURRENT.id, {"city": "Lisbon"})
            second = await environment.call(WEATHER.id, CURRENT.id, {"city": "Lisbon"})
            stats = environment.stats()
    finally:
        await close_chat_model(model)
    assert first.response == LISBON and first.mode == "llm-simulated" and not first.cached
    assert second.response == LISBON and second.cached
    assert len(server.requests) == 1  # the second call never reached the model
    assert stats["llm-simulated"] == 1 and stats["cache_hits"] == 1
    assert stats["simulator"] == {"calls": 1, "answered": 1}
    assert server.requests[0].json["model"] == settings.llm.model_for("simulator")


async def test_without_use_llm_or_without_a_model_the_rules_answer(server: FakeOpenAIServer, tmp_path: Path) -> None:
    env = {"mode": "simulated", "cache": False}
    async with model_for(server) as model:
        rules_only = load_settings(run_dir=tmp_path, env=env)
        async with open_environment([WEATHER], rules_only, run_dir=tmp_path, model=model) as environment:
            assert (await environment.call(WEATHER.id, CURRENT.id, {"city": "Lisbon"})).mode == "simulated"
        with_llm = load_settings(run_dir=tmp_path, env={**env, "simulation": {"use_llm": True}})
        async with open_environment([WEATHER], with_llm, run_dir=tmp_path) as environment:
            assert (await environment.call(WEATHER.id, CURRENT.id, {"city": "Lisbon"})).mode == "simulated"
            assert "simulator" not in environment.stats()
    assert server.requests == []


async def test_the_environment_builds_the_simulator_model_from_settings(server: FakeOpenAIServer, tmp_path: Path) -> None:
    server.set_script([text(wrapped(LISBON))])
    settings = load_settings(
        run_dir=tmp_path,
        env={"mode": "simulated", "simulation": {"use_llm": True}},
        llm={"backend": "openai", "base_url": server.base_url, "api_key": KEY},
    )
    async with open_environment([WEATHER], settings, run_dir=tmp_path) as environment:
        observation = await environment.call(WEATHER.id, CURRENT.id, {"city": "Lisbon"})
    assert observation.mode == "llm-simulated" and observation.response == LISBON
    assert len(server.requests) == 1
    assert (tmp_path / "llm" / "cache.sqlite").is_file()  # replies are cached in the run folder


async def test_a_rule_based_stand_in_for_a_failing_model_is_not_cached(server: FakeOpenAIServer, tmp_path: Path) -> None:
    server.set_script([text("no json here"), text("still none"), text(wrapped(LISBON))])
    settings = load_settings(
        run_dir=tmp_path,
        env={"mode": "simulated", "simulation": {"use_llm": True}},
        llm={"backend": "openai", "base_url": server.base_url, "api_key": KEY, "cache": False},
    )
    async with open_environment([WEATHER], settings, run_dir=tmp_path) as environment:
        stand_in = await environment.call(WEATHER.id, CURRENT.id, {"city": "Lisbon"})
        retried = await environment.call(WEATHER.id, CURRENT.id, {"city": "Lisbon"})
    assert stand_in.mode == "simulated"  # the rules answered after the model failed twice
    assert retried.mode == "llm-simulated" and not retried.cached and retried.response == LISBON
    assert len(server.requests) == 3
