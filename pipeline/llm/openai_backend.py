"""The chat model behind an OpenAI-compatible endpoint (OpenAI, vLLM, Ollama, llama.cpp ...).

One :class:`OpenAIChatModel` serves every role; the role picks the model name
(``llm.models``). Around each request it keeps

* a bound on requests in flight (``llm.concurrency``) and in-process request / token rate limits
  (:mod:`pipeline.llm.ratelimit`), so a run stays under its quota instead of living on 429s;
* its own retries (the SDK's are off, so every attempt is counted and limited): 408, 409, 429,
  5xx, timeouts and dropped connections are retried with exponential backoff and jitter, or
  after the server's ``retry-after-ms`` / ``Retry-After``; a 429 that means "quota exhausted"
  and every other 4xx fail at once, as a :class:`ModelError` that says what to fix;
* per-role accounting of requests, retries, tokens, cost and errors (:meth:`stats`).

With ``llm.tool_mode = "text"`` tools are not sent as tools: they are written into the prompt in
ToolBench's ReAct format and the reply text is parsed back into tool calls
(:mod:`pipeline.llm.text_mode`). The API key is sent and never logged or put in an error.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Self

import openai
import orjson

from pipeline.io import dumps, loads
from pipeline.llm.ratelimit import Clock, Sleep, TokenBucket, estimate_tokens
from pipeline.llm.request_log import RequestLog
from pipeline.llm.text_mode import parse_react, text_mode_messages, text_mode_stop
from pipeline.llm.types import (
    MAX_BODY_CHARS,
    ChatReply,
    ChatRequest,
    EndpointUnusable,
    ModelError,
    ToolCall,
    Usage,
    server_seed,
)
from pipeline.net import parse_retry_after
from pipeline.redact import redact_text, redact_url
from pipeline.retry import MODEL_REQUEST_STATUSES, RetryPolicy, retrying
from pipeline.settings import LLMSettings

log = logging.getLogger(__name__)

DEFAULT_ENDPOINT = "https://api.openai.com/v1"
PLACEHOLDER_KEY = "EMPTY"  # local servers (vLLM, Ollama, llama.cpp) want no key, the SDK wants one
_MAX_DETAIL_CHARS = 300
SAME_FAILURES_TO_STOP = 20
"""Consecutive requests failing for good with one and the same message (a 400 for a malformed
request every prompt has, a model the key may not use) after which the stage stops: every
other item would fail the same way, and a run that "finishes" with 0 answers hides it."""
BATCH_PRICE_FACTOR = 0.5  # OpenAI's Batch API costs half the synchronous price
_STATUS_HINTS = {
    400: "request rejected",
    401: "authentication failed: check llm.api_key / OPENAI_API_KEY",
    403: "permission denied for this key or model",
    404: "model or endpoint not found: check llm.models and llm.base_url",
    422: "request rejected",
    429: "rate limited",
}


@dataclass
class RoleStats:
    requests: int = 0
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    errors: int = 0
    unpriced_models: set[str] = field(default_factory=set)

    def as_dict(self) -> dict[str, Any]:
        figures = asdict(self)
        # A reply from a model with no price makes the total unknown: None, never a made-up $0.
        figures["cost_usd"] = None if self.unpriced_models else round(self.cost_usd, 6)
        figures["unpriced_models"] = sorted(self.unpriced_models)
        return figures


@dataclass
class _Failure:
    what: str
    status: int | None
    retryable: bool
    retry_after: float | None = None
    body: str | None = None  # what the server sent, for the failures file


@dataclass
class _Answer:
    """One attempt: the reply, or the failure that stands in for it."""

    result: ChatReply | _Failure

    @property
    def retryable(self) -> bool:
        return isinstance(self.result, _Failure) and self.result.retryable

    @property
    def retry_after(self) -> float | None:
        return self.result.retry_after if isinstance(self.result, _Failure) else None

    @property
    def what(self) -> str:
        return self.result.what if isinstance(self.result, _Failure) else "answered"


class OpenAIChatModel:
    """:class:`~pipeline.llm.types.ChatModel` over ``openai.AsyncOpenAI``.

    ``client`` replaces the SDK client (it is then not closed here); ``sleep``, ``clock`` and
    ``rng`` replace the waits, the rate limiters' clock and the backoff jitter (for tests).
    """

    def __init__(
        self,
        settings: LLMSettings,
        *,
        client: openai.AsyncOpenAI | None = None,
        sleep: Sleep = asyncio.sleep,
        clock: Clock = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.endpoint = redact_url(settings.base_url or DEFAULT_ENDPOINT, drop_userinfo=True)
        self._key = settings.api_key.get_secret_value() if settings.api_key is not None else None
        self._owns_client = client is None
        if client is None:
            if self._key is None and settings.base_url is None:
                raise ModelError(f"no API key for {self.endpoint}: set OPENAI_API_KEY or llm.api_key "
                                 "(or llm.base_url for a local server that needs none)")
            client = openai.AsyncOpenAI(
                base_url=settings.base_url,
                api_key=self._key or PLACEHOLDER_KEY,
                max_retries=0,  # ours honour Retry-After and are counted
                timeout=settings.timeout_s,
                # aiohttp instead of httpx underneath: httpx was a quarter of a search
                # step's CPU at 64 concurrent requests (benchmarks/annotate.py)
                http_client=openai.DefaultAioHttpClient(timeout=settings.timeout_s),
            )
        self._client = client
        self._sleep = sleep
        self._rng = rng or random.Random()
        # backoff grows up to the longest wait a server may ask for
        self._retry = RetryPolicy(MODEL_REQUEST_STATUSES, settings.retries, settings.backoff_base_s,
                                  settings.max_retry_after_s, settings.max_retry_after_s)
        self._slots = asyncio.Semaphore(settings.concurrency)
        self._request_bucket = (
            TokenBucket.per_minute(settings.requests_per_minute, burst_s=0.0, clock=clock, sleep=sleep)
            if settings.requests_per_minute else None
        )
        self._token_bucket = (
            TokenBucket.per_minute(settings.tokens_per_minute, burst_s=1.0, clock=clock, sleep=sleep)
            if settings.tokens_per_minute else None
        )
        self._stats: defaultdict[str, RoleStats] = defaultdict(RoleStats)
        self._request_log = (RequestLog(settings.log_requests, scrub=self._scrub)
                             if settings.log_requests is not None else None)
        self._same_failures = 0  # consecutive requests that failed for good with one message
        self._last_failure = ""

    # ---- public API

    async def chat(self, request: ChatRequest) -> ChatReply:
        stats = self._stats[request.role]
        stats.requests += 1
        try:
            model = self.settings.model_for(request.role)
        except ValueError as error:
            stats.errors += 1
            raise ModelError(str(error)) from None
        arguments, text_calls = self._arguments(request, model)
        estimate = estimate_tokens(arguments["messages"], arguments.get("tools"))

        async def attempt(number: int) -> _Answer:
            started = time.perf_counter()
            completion: dict[str, Any] | None = None
            try:
                completion = await self._attempt(arguments, estimate)
                answer = _Answer(self._reply(completion, model, text_calls, estimate))
            except Exception as error:  # noqa: BLE001 - classified here; cancellation passes
                answer = _Answer(self._classify(error))
            if self._request_log is not None:
                failure = answer.result if isinstance(answer.result, _Failure) else None
                self._request_log.write(
                    role=request.role, model=model, endpoint=self.endpoint, attempt=number, request=arguments,
                    outcome=answer.what, status=failure.status if failure is not None else 200,
                    response=completion if completion is not None else (failure.body if failure else None),
                    elapsed_ms=(time.perf_counter() - started) * 1000)
            return answer

        def before_retry(answer: _Answer, number: int, delay: float) -> None:
            stats.retries += 1
            # one line per request would drown a stage's own events at -v; the totals are in stats()
            log.debug("%s model %r at %s: %s; retry %d in %.2f s",
                     request.role, model, self.endpoint, answer.what, number, delay)

        answer, attempts = await retrying(attempt, self._retry, rng=self._rng, sleep=self._sleep,
                                          before_retry=before_retry)
        reply = answer.result
        if isinstance(reply, _Failure):
            stats.errors += 1
            tries = f" after {attempts} attempts" if attempts > 1 else ""
            self._same_failures = self._same_failures + 1 if reply.what == self._last_failure else 1
            self._last_failure = reply.what
            if not reply.retryable and self._same_failures >= SAME_FAILURES_TO_STOP:
                raise EndpointUnusable(
                    f"the last {self._same_failures} requests to {self.endpoint} all failed the same way, "
                    f"so the rest would too: {reply.what}")
            raise ModelError(
                f"{request.role} model {model!r} at {self.endpoint}: {reply.what}{tries}",
                status=reply.status,
                retryable=reply.retryable,
                role=request.role,
                body=self._scrub(reply.body)[:MAX_BODY_CHARS] if reply.body is not None else None,
            ) from None  # the SDK's error may quote the key back (OpenAI's 401 does, masked)
        self._same_failures, self._last_failure = 0, ""
        self._count(stats, model, reply.usage)
        return reply

    async def check_endpoint(self, roles: Sequence[str]) -> None:
        """Raise :class:`EndpointUnusable` if no request for ``roles`` can succeed: nothing answers
        at the endpoint, the key is refused, or a role's model is not among those it serves.

        Asks ``GET /models`` (OpenAI, vLLM, Ollama and llama.cpp all have it); a server without it
        gets one chat request of one token per model instead. Anything else (a 5xx, a slow answer)
        is left to the requests' own retries.
        """
        wanted = sorted({self.settings.model_for(role) for role in roles})
        try:
            page = await self._client.models.list()
        except openai.NotFoundError:
            for model in wanted:
                await self._probe_chat(model)
            return
        except Exception as error:  # noqa: BLE001 - classified below; cancellation passes
            self._refuse_if_unusable(error, "GET /models")
            log.warning("could not list the models at %s (%s); going on", self.endpoint, type(error).__name__)
            return
        served = {model.id for model in page.data}
        missing = [model for model in wanted if served and model not in served]
        if missing:
            shown = ", ".join(sorted(served)[:12]) + (" ..." if len(served) > 12 else "")
            raise EndpointUnusable(
                f"model {', '.join(map(repr, missing))} is not served at {self.endpoint} (it serves {shown}): "
                "set llm.model or llm.models.<role>")

    async def _probe_chat(self, model: str) -> None:
        try:
            await self._client.chat.completions.create(
                model=model, messages=[{"role": "user", "content": "ping"}], max_tokens=1)
        except Exception as error:  # noqa: BLE001 - classified below
            self._refuse_if_unusable(error, f"a one-token request to {model!r}")

    def _refuse_if_unusable(self, error: Exception, what: str) -> None:
        if isinstance(error, openai.APIStatusError) and error.status_code in (401, 403, 404):
            failure = self._classify(error)
            raise EndpointUnusable(f"{self.endpoint} refused {what}: {failure.what}") from None
        if isinstance(error, openai.APIConnectionError) or _could_not_connect(error):
            cause = error.__cause__ or error
            raise EndpointUnusable(
                f"no server answers at {self.endpoint} ({self._scrub(str(cause) or type(cause).__name__)}): "
                "check llm.base_url and that the server is running") from None

    def stats(self) -> dict[str, dict[str, Any]]:
        """Per role: requests, retries, prompt and completion tokens, cost in USD, errors."""
        return {role: figures.as_dict() for role, figures in sorted(self._stats.items())}

    async def aclose(self) -> None:
        if self._request_log is not None:
            self._request_log.close()
        if self._owns_client:
            await self._client.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # ---- for the Batch API (pipeline.llm.batch): the same request body and reply reading

    def request_body(self, request: ChatRequest) -> tuple[dict[str, Any], bool]:
        """The chat-completions body this client would send for ``request``, and whether tool
        calls are to be read from the reply text."""
        return self._arguments(request, self.settings.model_for(request.role))

    def read_completion(self, completion: dict[str, Any], request: ChatRequest, text_calls: bool) -> ChatReply:
        """A chat-completions JSON body as a reply, counted in this client's per-role figures."""
        model = self.settings.model_for(request.role)
        reply = self._reply(completion, model, text_calls, estimate=0)
        stats = self._stats[request.role]
        stats.requests += 1
        self._count(stats, model, reply.usage, price_factor=BATCH_PRICE_FACTOR)
        return reply

    @property
    def client(self) -> openai.AsyncOpenAI:
        return self._client

    def scrub(self, text: str) -> str:
        return self._scrub(text)

    # ---- internals

    def _arguments(self, request: ChatRequest, model: str) -> tuple[dict[str, Any], bool]:
        """The SDK's arguments, and whether tool calls are to be read from the reply text."""
        arguments: dict[str, Any] = {"model": model, "temperature": request.temperature}
        stop = request.stop
        text_calls = False
        if self.settings.tool_mode == "text":
            # History is rewritten even without tools: the model may know no "tool" role.
            arguments["messages"] = text_mode_messages(request.messages, request.tools, request.tool_choice)
            text_calls = bool(request.tools) and request.tool_choice != "none"
            if text_calls:
                stop = text_mode_stop(stop)
        else:
            arguments["messages"] = request.messages
            if request.tools:
                arguments["tools"] = request.tools
                if request.tool_choice is not None:
                    arguments["tool_choice"] = request.tool_choice
        if request.top_p is not None:
            arguments["top_p"] = request.top_p
        if request.max_tokens is not None:
            arguments["max_tokens"] = request.max_tokens
        if stop:
            arguments["stop"] = stop
        if request.response_format is not None:
            arguments["response_format"] = request.response_format
        if request.n > 1:
            arguments["n"] = request.n
        if request.temperature > 0:
            # Servers that honour a seed (vLLM, llama.cpp, OpenAI best-effort) then give one
            # sample per index, as the reply cache does.
            arguments["seed"] = server_seed(request.seed, request.sample_index)
        return arguments, text_calls

    async def _attempt(self, arguments: dict[str, Any], estimate: int) -> Any:
        async with self._slots:
            if self._request_bucket is not None:
                await self._request_bucket.acquire()
            if self._token_bucket is not None:
                await self._token_bucket.acquire(estimate)
            # The SDK's timeout bounds each read; this bounds the whole answer (a trickling body).
            async with asyncio.timeout(self.settings.timeout_s):
                # The body is plain JSON already and the reply is read as plain JSON: going
                # through the SDK's typed transform and response models cost more CPU than the
                # rest of a search step together (benchmarks/annotate.py). The SDK still does
                # the transport, headers, auth and status errors.
                content = await self._client.post(
                    "/chat/completions", cast_to=bytes, content=dumps(arguments),
                    options={"headers": {"Content-Type": "application/json"}},
                )
        completion = _decode_completion(content)
        if self._token_bucket is not None:
            usage = completion.get("usage")
            if isinstance(usage, dict):
                used = (usage.get("prompt_tokens") or 0) + (usage.get("completion_tokens") or 0)
                self._token_bucket.adjust(used - estimate)
        return completion

    def _reply(self, completion: dict[str, Any], model: str, text_calls: bool, estimate: int) -> ChatReply:
        choices = completion.get("choices")
        if not choices or not isinstance(choices, list) or not isinstance(choices[0], dict):
            raise _EmptyReply("the reply has no choices", dumps(completion).decode()[:MAX_BODY_CHARS])
        if not isinstance(choices[0].get("message"), dict):
            raise _EmptyReply("the reply's first choice has no message",
                              dumps(completion).decode()[:MAX_BODY_CHARS])
        content, calls, finish_reason = self._choice(choices[0], text_calls)
        usage = completion.get("usage")
        if isinstance(usage, dict):
            counted = Usage(prompt_tokens=usage.get("prompt_tokens") or 0,
                            completion_tokens=usage.get("completion_tokens") or 0)
        else:  # some local servers report none: estimate, so cost and rate figures stay usable
            counted = Usage(prompt_tokens=estimate,
                            completion_tokens=estimate_tokens(content, [c.arguments for c in calls]))
        # n > 1: the other choices, each a reply of its own (usage is the request's, on the first)
        alternatives = []
        for choice in choices[1:]:
            if isinstance(choice, dict) and isinstance(choice.get("message"), dict):
                other_content, other_calls, other_finish = self._choice(choice, text_calls)
                alternatives.append(ChatReply(content=other_content, tool_calls=other_calls,
                                              finish_reason=other_finish, model=completion.get("model") or model))
        return ChatReply(
            content=content,
            tool_calls=calls,
            finish_reason=finish_reason,
            usage=counted,
            model=completion.get("model") or model,
            raw=completion,
            alternatives=alternatives,
        )

    def _choice(self, choice: dict[str, Any], text_calls: bool) -> tuple[str | None, list[ToolCall], str | None]:
        """One choice's text, tool calls and finish reason."""
        message = choice["message"]
        content = message.get("content")
        if content is not None and not isinstance(content, str):
            content = dumps(content).decode()  # content parts: keep them readable
        calls: list[ToolCall] = []
        for number, call in enumerate(message.get("tool_calls") or []):
            function = call.get("function") if isinstance(call, dict) else None
            if not isinstance(function, dict):  # a non-function (custom) tool call: nothing we asked for
                continue
            calls.append(ToolCall(id=call.get("id") or f"call_{number}", name=function.get("name") or "",
                                  arguments=_text(function.get("arguments"))))
        legacy = message.get("function_call")
        if not calls and isinstance(legacy, dict):  # servers that still answer in the pre-tools shape
            calls.append(ToolCall(id="call_0", name=legacy.get("name") or "",
                                  arguments=_text(legacy.get("arguments"))))
        finish_reason = choice.get("finish_reason")
        if text_calls:
            content, calls = parse_react(content)
            if calls:
                finish_reason = "tool_calls"
        return content, calls, finish_reason

    def _classify(self, error: Exception) -> _Failure:
        if isinstance(error, openai.APIStatusError):
            status = error.status_code
            detail = self._scrub(_server_message(error))
            hint = _STATUS_HINTS.get(status, "server error" if status >= 500 else "request failed")
            body = _response_text(error)
            if status == 429 and _is_quota(error):
                return _Failure(f"HTTP 429 (quota exhausted: {detail})", status, retryable=False, body=body)
            statuses = self._retry.statuses
            retryable = statuses.retries(status)
            retry_after = _retry_after(error.response.headers) if statuses.reads_retry_after(status) else None
            return _Failure(f"HTTP {status} ({hint}): {detail}", status, retryable, retry_after, body)
        if isinstance(error, (openai.APITimeoutError, TimeoutError)) and not _could_not_connect(error):
            return _Failure(f"no answer within {self.settings.timeout_s:g} s", None, retryable=True)
        if isinstance(error, openai.APIConnectionError):
            cause = error.__cause__ or error
            return _Failure(f"connection failed ({self._scrub(str(cause) or type(cause).__name__)})",
                            None, retryable=True)
        if isinstance(error, _EmptyReply):
            return _Failure(str(error), None, retryable=False, body=error.body)
        if isinstance(error, _UnreadableReply):
            return _Failure(self._scrub(str(error)), None, retryable=True, body=error.body)
        return _Failure(f"unexpected {type(error).__name__}: {self._scrub(str(error))}", None, retryable=False)

    def _count(self, stats: RoleStats, model: str, usage: Usage, *, price_factor: float = 1.0) -> None:
        """Add one answered request's tokens and cost (unknown for an unpriced model) to ``stats``."""
        stats.prompt_tokens += usage.prompt_tokens
        stats.completion_tokens += usage.completion_tokens
        cost = self._cost(model, usage)
        if cost is None:
            stats.unpriced_models.add(model)
        else:
            stats.cost_usd += cost * price_factor

    def _cost(self, model: str, usage: Usage) -> float | None:
        """USD for ``usage``; None when ``llm.prices`` has no price for ``model``."""
        price = self.settings.prices.get(model)
        if price is None:
            return None
        return (usage.prompt_tokens * price.prompt_per_1k + usage.completion_tokens * price.completion_per_1k) / 1000

    def _scrub(self, text: str) -> str:
        if self._key and len(self._key) >= 4:
            text = text.replace(self._key, "***")
        text = redact_text(text)
        return text if len(text) <= _MAX_DETAIL_CHARS else text[:_MAX_DETAIL_CHARS] + "..."


class _EmptyReply(Exception):
    def __init__(self, message: str, body: str | None = None) -> None:
        super().__init__(message)
        self.body = body


class _UnreadableReply(Exception):
    """A body that is not a JSON object: a proxy's error page or a cut-off answer; worth a retry."""

    def __init__(self, message: str, body: str | None = None) -> None:
        super().__init__(message)
        self.body = body


def _response_text(error: openai.APIStatusError) -> str | None:
    try:
        return error.response.text[:MAX_BODY_CHARS]
    except Exception:  # noqa: BLE001 - a streamed or closed body: nothing to keep
        return None


def _decode_completion(content: bytes) -> dict[str, Any]:
    try:
        completion = loads(content)
    except orjson.JSONDecodeError as error:
        raise _UnreadableReply(f"the reply is not JSON ({error}): {content[:120]!r}",
                               content[:MAX_BODY_CHARS].decode(errors="replace")) from None
    if not isinstance(completion, dict):
        raise _UnreadableReply(f"the reply is JSON but not an object: {content[:120]!r}",
                               content[:MAX_BODY_CHARS].decode(errors="replace"))
    return completion


def _text(value: Any) -> str:
    """Tool-call arguments as the JSON text the spec promises (some servers send an object)."""
    if value is None:
        return ""
    return value if isinstance(value, str) else dumps(value).decode()


def _server_message(error: openai.APIStatusError) -> str:
    body = error.body
    if isinstance(body, dict):
        inner: dict[str, Any] = body["error"] if isinstance(body.get("error"), dict) else body
        message = inner.get("message")
        if isinstance(message, str) and message:
            return message
    return error.message


def _is_quota(error: openai.APIStatusError) -> bool:
    body = error.body
    if isinstance(body, dict):
        inner: dict[str, Any] = body["error"] if isinstance(body.get("error"), dict) else body
        return inner.get("code") == "insufficient_quota" or inner.get("type") == "insufficient_quota"
    return False


def _retry_after(headers: Any) -> float | None:
    """Seconds the server asked to wait: ``retry-after-ms`` (OpenAI), else ``Retry-After``
    (seconds, possibly fractional, or an HTTP date)."""
    milliseconds = headers.get("retry-after-ms")
    if milliseconds is not None:
        try:
            return max(0.0, float(milliseconds) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return parse_retry_after(value)


def _could_not_connect(error: Exception) -> bool:
    """The aiohttp transport reports a refused connection as a connect *timeout*; tell them apart."""
    cause = error.__cause__
    text = str(cause or "")
    return isinstance(cause, ConnectionRefusedError) or "Cannot connect to host" in text or "Connect call failed" in text
