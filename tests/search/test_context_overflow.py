"""A prompt over the model's context is a dead end in the tree, not a lost query."""

from __future__ import annotations

from typing import Any

from pipeline.env.observation import Observation
from pipeline.llm.fake_server import FakeOpenAIServer, http_error
from pipeline.llm.openai_backend import OpenAIChatModel
from pipeline.llm.types import ChatReply, ChatRequest, ModelError, is_context_overflow
from pipeline.search.dfsdt import DFSDTSearch
from pipeline.search.react import ReActSearch
from pipeline.settings import LLMSettings

from .test_dfsdt import FakeEnvironment, answer, call, make_catalog

VLLM_OVERFLOW = ("This model's maximum context length is 8192 tokens. However, you requested 9000 tokens "
                 "(8000 in the messages, 1000 in the completion). Please reduce the length of the messages.")


def _overflow() -> ModelError:
    return ModelError(f"policy model 'm' at http://x/v1: request rejected: {VLLM_OVERFLOW}", status=400)


def _prompt_chars(request: ChatRequest) -> int:
    return sum(len(str(m.get("content") or "")) for m in request.messages if m["role"] == "tool")


class ContextLimitedPolicy:
    """Refuses any prompt whose tool results exceed ``limit`` characters; else asks ``script``."""

    def __init__(self, limit: int, script: Any) -> None:
        self.limit = limit
        self.script = script
        self.requests: list[ChatRequest] = []

    async def chat(self, request: ChatRequest) -> ChatReply:
        self.requests.append(request)
        if _prompt_chars(request) > self.limit:
            raise _overflow()
        depth = sum(1 for m in request.messages if m["role"] == "assistant")
        return self.script(request, depth)  # type: ignore[no-any-return]


def _big(api: str, size: int) -> Observation:
    return Observation(response={"api": api, "data": "x" * size})


async def test_a_long_observation_is_shortened_and_the_search_goes_on() -> None:
    environment = FakeEnvironment({"search": _big("search", 5000)})
    policy = ContextLimitedPolicy(2000, lambda request, depth: call("search_for_geo", {"q": "Paris"})
                                  if depth == 0 else answer("Paris found."))
    trajectory = await DFSDTSearch(policy, environment, make_catalog(), observation_chars=4096).run("Find Paris")
    assert trajectory.succeeded and trajectory.final_answer == "Paris found."
    assert trajectory.counts.context_overflows == 1
    retried = policy.requests[-1]
    assert any("over the model's context" in str(m.get("content")) for m in retried.messages if m["role"] == "tool")


async def test_a_path_that_cannot_fit_is_pruned_and_a_sibling_answers() -> None:
    # the first child's observation is too long even when shortened; its sibling's is short
    environment = FakeEnvironment({"search": _big("search", 5000), "current": Observation(response={"t": 20})})

    def script(request: ChatRequest, depth: int) -> ChatReply:
        if depth == 0:
            tried = sum(1 for r in policy.requests if not any(m["role"] == "assistant" for m in r.messages))
            return call("search_for_geo", {"q": "Paris"}) if tried == 1 else call("current_for_weather", {})
        return answer("It is 20 degrees.")

    policy = ContextLimitedPolicy(100, script)
    trajectory = await DFSDTSearch(policy, environment, make_catalog(), observation_chars=4096).run("Weather?")
    assert trajectory.succeeded and trajectory.final_answer == "It is 20 degrees."
    assert trajectory.counts.context_overflows == 2  # the first try and the shortened one
    pruned = [n for n in trajectory.tree["nodes"] if str(n.get("detail", "")).startswith("context overflow")]
    assert len(pruned) == 1 and pruned[0]["name"] == "search_for_geo"


async def test_a_query_whose_prompt_never_fits_is_settled_with_its_reason() -> None:
    class AlwaysOver:
        async def chat(self, request: ChatRequest) -> ChatReply:
            raise _overflow()

    for search in (DFSDTSearch(AlwaysOver(), FakeEnvironment(), make_catalog()),
                   ReActSearch(AlwaysOver(), FakeEnvironment(), make_catalog())):
        trajectory = await search.run("Anything")
        assert not trajectory.succeeded
        assert trajectory.stop_reason == "context_overflow"


async def test_other_model_errors_still_fail_the_query() -> None:
    class Refusing:
        async def chat(self, request: ChatRequest) -> ChatReply:
            raise ModelError("policy model 'm': request rejected: unknown parameter 'foo'", status=400)

    try:
        await DFSDTSearch(Refusing(), FakeEnvironment(), make_catalog()).run("Anything")
    except ModelError:
        pass
    else:  # pragma: no cover - the assertion below explains
        raise AssertionError("a 400 that is not about the context must not be swallowed")


async def test_the_backend_reports_a_servers_context_error_as_an_overflow() -> None:
    async with FakeOpenAIServer() as server:
        server.set_script([http_error(400, VLLM_OVERFLOW), http_error(400, "Invalid value for 'tool_choice'")])
        settings = LLMSettings(backend="openai", base_url=server.base_url, api_key="sk-x", retries=0)
        async with OpenAIChatModel(settings) as model:
            errors: list[ModelError] = []
            for _ in range(2):
                try:
                    await model.chat(ChatRequest(role="policy", messages=[{"role": "user", "content": "hi"}]))
                except ModelError as error:
                    errors.append(error)
    assert [is_context_overflow(e) for e in errors] == [True, False]
