"""The one chat interface every LLM role (writer, policy, judge, API simulator) talks through.

A :class:`ChatRequest` says what to ask and for which *role*; the backend maps the role to a
model name (``llm.models``). Messages and tools are OpenAI chat-completions JSON, because every
backend speaks it (OpenAI, vLLM, Ollama, llama.cpp) and the datasets are exported in it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, Field

from pipeline.errors import StageError


class ToolCall(BaseModel):
    """One function call of a reply; ``arguments`` is the JSON text exactly as the model sent it
    (possibly malformed: parsing and judging it is the caller's job, as in ToolBench)."""

    id: str
    name: str
    arguments: str


class Usage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class ChatRequest(BaseModel):
    """Everything that decides an answer; the reply cache keys on all of it (and the model name).

    ``sample_index`` tells apart repeated samples of one prompt at ``temperature > 0``: the same
    index replays the same cached answer, a new index asks again. ``seed`` is the run's seed
    (``Settings.seed``); the seed sent to servers that honour one mixes it with the sample index,
    so a new run seed gives new samples on vLLM, and the same seed the same ones.
    """

    role: str
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    temperature: float = 0.0
    top_p: float | None = None
    max_tokens: int | None = None
    response_format: dict[str, Any] | None = None
    sample_index: int = 0
    stop: list[str] | None = None
    seed: int = 0
    n: int = Field(default=1, ge=1)
    """Samples wanted from one request (OpenAI's ``n``); the reply's ``alternatives`` hold the
    others. A server may give fewer (vLLM with some settings, servers without ``n``): callers ask
    again for what is missing."""


def server_seed(run_seed: int, sample_index: int) -> int:
    """The ``seed`` sent to the server: one 31-bit value per (run seed, sample index), so two
    indices of one run, or one index of two runs, never share a seed."""
    digest = hashlib.sha256(f"{run_seed}:{sample_index}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


class ChatReply(BaseModel):
    content: str | None = None
    tool_calls: list[ToolCall] = Field(default_factory=list)
    finish_reason: str | None = None
    usage: Usage = Field(default_factory=Usage)
    model: str = ""
    cached: bool = False
    raw: dict[str, Any] | None = None  # the server's JSON reply as received (text mode: unparsed text inside)
    alternatives: list[ChatReply] = Field(default_factory=list)  # choices 2..n of an ``n > 1`` request

    @property
    def samples(self) -> list[ChatReply]:
        """This reply and its alternatives: every choice the server gave."""
        return [self, *self.alternatives]


@runtime_checkable
class ChatModel(Protocol):
    async def chat(self, request: ChatRequest) -> ChatReply: ...


async def check_chat_model(model: ChatModel, roles: Sequence[str]) -> None:
    """Before a stage spends its work on ``model``: raise :class:`EndpointUnusable` if it cannot
    serve ``roles`` at all (no server, key refused, model not served). Models that have no
    ``check_endpoint`` coroutine (the offline engines, test doubles) pass."""
    check = getattr(model, "check_endpoint", None)
    if callable(check):
        await check(roles)


async def close_chat_model(model: ChatModel | None) -> None:
    """Release what ``model`` holds (HTTP connections, a cache file), if it holds anything:
    models that do have an ``aclose`` coroutine method."""
    close = getattr(model, "aclose", None)
    if callable(close):
        await close()


class EndpointUnusable(StageError):
    """The model endpoint cannot serve the stage (no server answers, the key is refused, the
    model is not served, or request after request fails the same way); the message says what to
    fix. Not a :class:`ModelError`: per-item handlers record those and go on, this one stops the
    stage, because every other item would fail the same way."""


MAX_BODY_CHARS = 4000


class ModelError(Exception):
    """A model call that failed for good (after the retries it deserved).

    The message names the role, model and endpoint and what happened, never the key. ``status``
    is the HTTP status when the server answered, ``retryable`` whether more attempts might help
    (rate limits, timeouts, 5xx) as opposed to a request or configuration error. ``role`` and
    ``body`` (the failed response's text, cut to :data:`MAX_BODY_CHARS`) go into the stage's
    failures file, so a lost item says which role failed and what the server sent.
    """

    def __init__(
        self, message: str, *, status: int | None = None, retryable: bool = False,
        role: str | None = None, body: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retryable = retryable
        self.role = role
        self.body = body  # the server's failed response, as received (cut, key scrubbed), for failures/


_CONTEXT_OVERFLOW = re.compile(
    r"context[_ ]length|maximum context|context window|too many tokens|prompt is too long|"
    r"input (?:is )?too long|exceeds? the (?:model'?s? )?(?:maximum|context|max)|reduce the length|"
    r"max_model_len|maximum model length",
    re.IGNORECASE,
)


def is_context_overflow(error: ModelError) -> bool:
    """Whether the server refused the request because the prompt is longer than the model takes
    (OpenAI: 400 ``context_length_exceeded``; vLLM: 400 "maximum context length is N tokens")."""
    return error.status in (400, 413, 422) and bool(_CONTEXT_OVERFLOW.search(str(error)))


def is_refused_option(error: ModelError) -> bool:
    """Whether the server refused something in the request it does not support (a 400/422 that is
    not a context overflow): ``response_format``, ``n`` ... The caller may ask again without it."""
    return error.status in (400, 422) and not is_context_overflow(error)


def model_usage(model: object) -> dict[str, dict[str, Any]]:
    """Per-role usage of a model that keeps figures (requests, tokens, cost, cache hits); else {}."""
    stats = getattr(model, "stats", None)
    return stats() if callable(stats) else {}
