"""A local OpenAI-compatible server that answers from a script, for tests and benchmarks.

No hosted model is needed to exercise the model layer for real: :class:`FakeOpenAIServer`
listens on 127.0.0.1 (a free port), serves ``POST /v1/chat/completions`` (non-streaming) and
``GET /v1/models``, and answers each chat request with the next *step* of its script, or with
what a callable script returns for the request's JSON::

    async with FakeOpenAIServer([rate_limited(retry_after=0.2), text("hello")]) as server:
        settings = LLMSettings(backend="openai", base_url=server.base_url, api_key="sk-test")
        ...
        assert len(server.requests) == 2

A step is a text reply (:func:`text`), tool calls (:func:`tool_call`, :func:`tool_calls`,
:func:`malformed_tool_call`), an HTTP error with status and headers (:func:`http_error`,
:func:`rate_limited`), a hang that outlasts the client's timeout (:func:`hang`) or a raw body
(:class:`Raw`); every step can add latency, and ``latency_s`` adds it to all. Every request is
recorded (JSON body, headers, arrival time) and the most requests ever in flight at once is
kept, for assertions about concurrency and rate limits. Replies carry usage numbers: the
step's, or about four characters per token.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Self

import orjson
from aiohttp import web


@dataclass(frozen=True)
class Text:
    content: str
    finish_reason: str = "stop"
    usage: tuple[int, int] | None = None  # (prompt_tokens, completion_tokens)
    latency_s: float = 0.0


@dataclass(frozen=True)
class ToolCalls:
    calls: tuple[tuple[str, Any], ...]  # (name, arguments: a JSON value, or the exact text to send)
    content: str | None = None
    finish_reason: str = "tool_calls"
    usage: tuple[int, int] | None = None
    latency_s: float = 0.0


@dataclass(frozen=True)
class HttpError:
    status: int
    message: str = "error"
    headers: Mapping[str, str] = field(default_factory=dict)
    code: str | None = None
    latency_s: float = 0.0


@dataclass(frozen=True)
class Hang:
    """Answer nothing for ``seconds`` (or until the server closes)."""

    seconds: float = 3600.0


@dataclass(frozen=True)
class Choices:
    """Several choices in one reply, as a server answers a request with ``n > 1``."""

    choices: tuple[Text | ToolCalls, ...]
    usage: tuple[int, int] | None = None
    latency_s: float = 0.0


@dataclass(frozen=True)
class Raw:
    body: bytes | str
    status: int = 200
    content_type: str = "application/json"
    latency_s: float = 0.0


Step = Text | ToolCalls | HttpError | Hang | Raw | Choices
Script = Sequence[Step] | Callable[[dict[str, Any]], Step | Awaitable[Step]]


def text(content: str, **options: Any) -> Text:
    return Text(content, **options)


def tool_call(name: str, arguments: Any = None, **options: Any) -> ToolCalls:
    return ToolCalls(((name, {} if arguments is None else arguments),), **options)


def choices(*steps: Text | ToolCalls, **options: Any) -> Choices:
    return Choices(tuple(steps), **options)


def tool_calls(*calls: tuple[str, Any], **options: Any) -> ToolCalls:
    return ToolCalls(tuple(calls), **options)


def malformed_tool_call(name: str, arguments_text: str = '{"city": "Paris",', **options: Any) -> ToolCalls:
    """A tool call whose arguments are not valid JSON (sent exactly as given)."""
    return ToolCalls(((name, arguments_text),), **options)


def http_error(status: int, message: str = "error", *, headers: Mapping[str, str] | None = None,
               code: str | None = None, latency_s: float = 0.0) -> HttpError:
    return HttpError(status, message, dict(headers or {}), code, latency_s)


def rate_limited(retry_after: float | None = None, *, retry_after_ms: float | None = None) -> HttpError:
    headers: dict[str, str] = {}
    if retry_after is not None:
        headers["Retry-After"] = f"{retry_after:g}"
    if retry_after_ms is not None:
        headers["retry-after-ms"] = f"{retry_after_ms:g}"
    return HttpError(429, "Rate limit reached for requests", headers, "rate_limit_exceeded")


def hang(seconds: float = 3600.0) -> Hang:
    return Hang(seconds)


@dataclass
class RecordedRequest:
    path: str
    json: dict[str, Any]
    headers: dict[str, str]
    received_at: float  # time.monotonic()


class FakeOpenAIServer:
    """A scripted OpenAI-compatible chat server on 127.0.0.1; see the module docstring."""

    def __init__(
        self,
        script: Script = (),
        *,
        default: Step | None = None,
        latency_s: float = 0.0,
        models: Sequence[str] = ("gpt-4o-mini",),
        api_key: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.default = default
        self.latency_s = latency_s
        self.models = list(models)
        self.api_key = api_key
        self.host = host
        self.port = port
        self.requests: list[RecordedRequest] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.base_url = ""
        self.set_script(script)
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._closing: asyncio.Event | None = None
        # the Batch API (/files, /batches): files by id, batches by id, polls before a batch is done
        self.files: dict[str, bytes] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self.batch_polls_to_finish = 1

    def set_script(self, script: Script) -> None:
        """Answer the next chat requests from ``script`` (also while the server runs)."""
        self.script = script
        self._steps = None if callable(script) else iter(list(script))

    # ---- lifecycle

    async def start(self) -> Self:
        self._closing = asyncio.Event()
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_get("/v1/models", self._models)
        app.router.add_post("/v1/files", self._upload)
        app.router.add_get("/v1/files/{file_id}/content", self._file_content)
        app.router.add_post("/v1/batches", self._create_batch)
        app.router.add_get("/v1/batches/{batch_id}", self._batch)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, shutdown_timeout=0.5)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://{self.host}:{port}/v1"
        return self

    async def close(self) -> None:
        if self._closing is not None:
            self._closing.set()  # hanging handlers return at once
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    # ---- handlers

    async def _models(self, request: web.Request) -> web.Response:
        self.requests.append(RecordedRequest(path=request.path, json={}, headers=dict(request.headers),
                                             received_at=time.monotonic()))
        if self.api_key is not None and request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return _error_response(HttpError(401, "Incorrect API key provided", code="invalid_api_key"))
        data = [{"id": name, "object": "model", "created": 0, "owned_by": "toolgen-fake"} for name in self.models]
        return web.json_response({"object": "list", "data": data})

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            try:
                body = await request.json(loads=orjson.loads)
            except ValueError:
                return _error_response(HttpError(400, "the request body is not JSON"))
            self.requests.append(RecordedRequest(request.path, body, dict(request.headers), time.monotonic()))
            if self.api_key is not None and request.headers.get("Authorization") != f"Bearer {self.api_key}":
                return _error_response(HttpError(401, "Incorrect API key provided", code="invalid_api_key"))
            step = await self._next_step(body)
            delay = self.latency_s + getattr(step, "latency_s", 0.0)
            if isinstance(step, Hang):
                delay += step.seconds
            if delay > 0:
                await self._wait(delay)
            return self._respond(step, body)
        finally:
            self.in_flight -= 1

    async def _next_step(self, body: dict[str, Any]) -> Step:
        if callable(self.script):
            scripted = self.script(body)
            if inspect.isawaitable(scripted):
                return await scripted
            return scripted
        assert self._steps is not None
        step = next(self._steps, None)
        if step is not None:
            return step
        if self.default is not None:
            return self.default
        return HttpError(400, f"fake server script exhausted (at request {len(self.chat_requests)})")

    async def _wait(self, seconds: float) -> None:
        assert self._closing is not None
        try:
            await asyncio.wait_for(self._closing.wait(), seconds)
        except TimeoutError:
            pass

    # ---- the Batch API: a batch is answered from the script, line by line, when it is created;
    # it reads as "in_progress" for ``batch_polls_to_finish`` polls, then "completed"

    async def _upload(self, request: web.Request) -> web.Response:
        form = await request.post()
        upload = form.get("file")
        data = upload.file.read() if isinstance(upload, web.FileField) else str(upload or "").encode()
        file_id = f"file-{next(self._ids)}"
        self.files[file_id] = data
        return web.json_response({"id": file_id, "object": "file", "bytes": len(data), "created_at": int(time.time()),
                                  "filename": getattr(upload, "filename", "batch.jsonl"),
                                  "purpose": str(form.get("purpose") or "batch"), "status": "processed"})

    async def _file_content(self, request: web.Request) -> web.Response:
        data = self.files.get(request.match_info["file_id"])
        if data is None:
            return _error_response(HttpError(404, "no such file"))
        return web.Response(body=data, content_type="application/octet-stream")

    async def _create_batch(self, request: web.Request) -> web.Response:
        body = await request.json(loads=orjson.loads)
        data = self.files.get(str(body.get("input_file_id")))
        if data is None:
            return _error_response(HttpError(400, "input_file_id is not an uploaded file"))
        outputs = []
        for line in data.splitlines():
            if not line.strip():
                continue
            item = orjson.loads(line)
            chat = item["body"]
            self.requests.append(RecordedRequest("/v1/batch/chat/completions", chat, {}, time.monotonic()))
            status, payload = self._completion(await self._next_step(chat), chat)
            outputs.append({"id": f"batch_req_{next(self._ids)}", "custom_id": item["custom_id"],
                            "response": {"status_code": status, "request_id": "", "body": payload}, "error": None})
        output_id = f"file-{next(self._ids)}"
        self.files[output_id] = b"".join(orjson.dumps(o) + b"\n" for o in outputs)
        batch_id = f"batch_{next(self._ids)}"
        self.batches[batch_id] = {
            "id": batch_id, "object": "batch", "endpoint": body.get("endpoint"), "input_file_id": body["input_file_id"],
            "completion_window": body.get("completion_window", "24h"), "created_at": int(time.time()),
            "status": "in_progress", "output_file_id": None, "error_file_id": None, "polls": 0,
            "ready_output": output_id, "request_counts": {"total": len(outputs), "completed": 0, "failed": 0},
        }
        return web.json_response(self._batch_view(batch_id))

    async def _batch(self, request: web.Request) -> web.Response:
        batch = self.batches.get(request.match_info["batch_id"])
        if batch is None:
            return _error_response(HttpError(404, "no such batch"))
        batch["polls"] += 1
        if batch["polls"] >= self.batch_polls_to_finish:
            batch["status"], batch["output_file_id"] = "completed", batch["ready_output"]
            batch["request_counts"]["completed"] = batch["request_counts"]["total"]
        return web.json_response(self._batch_view(batch["id"]))

    def _batch_view(self, batch_id: str) -> dict[str, Any]:
        return {key: value for key, value in self.batches[batch_id].items() if key not in ("polls", "ready_output")}

    def _completion(self, step: Step, body: dict[str, Any]) -> tuple[int, Any]:
        """A chat step as (HTTP status, JSON body), for batch output lines."""
        if isinstance(step, HttpError):
            return step.status, {"error": {"message": step.message, "type": "fake_error", "code": step.code}}
        if isinstance(step, Raw):
            return step.status, step.body if isinstance(step.body, str) else step.body.decode("utf-8", "replace")
        response = self._respond(step, body)
        assert isinstance(response, web.Response) and response.body is not None
        return response.status, orjson.loads(bytes(response.body))  # type: ignore[arg-type]

    def _respond(self, step: Step, body: dict[str, Any]) -> web.Response:
        if isinstance(step, HttpError):
            return _error_response(step)
        if isinstance(step, Raw):
            data = step.body.encode("utf-8") if isinstance(step.body, str) else step.body
            return web.Response(body=data, status=step.status, content_type=step.content_type)
        number = next(self._ids)
        if isinstance(step, Hang):  # the client has long gone; answer something well-formed
            step = Text("(late reply)")
        parts = step.choices if isinstance(step, Choices) else (step,)
        messages = [_message(part, number) for part in parts]
        message = messages[0]
        usage = step.usage or _estimated_usage(body, message)
        return web.json_response(
            {
                "id": f"chatcmpl-fake-{number}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", "fake"),
                "choices": [{"index": index, "message": one, "finish_reason": part.finish_reason, "logprobs": None}
                            for index, (one, part) in enumerate(zip(messages, parts, strict=True))],
                "usage": {"prompt_tokens": usage[0], "completion_tokens": usage[1],
                          "total_tokens": usage[0] + usage[1]},
            },
            dumps=lambda value: orjson.dumps(value).decode("utf-8"),
        )


def _message(step: Text | ToolCalls, number: int) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": step.content}
    if isinstance(step, ToolCalls):
        message["tool_calls"] = [
            {"id": f"call_{number}_{index}", "type": "function",
             "function": {"name": name,
                          "arguments": args if isinstance(args, str) else orjson.dumps(args).decode("utf-8")}}
            for index, (name, args) in enumerate(step.calls)
        ]
    return message


def _error_response(step: HttpError) -> web.Response:
    payload = {"error": {"message": step.message, "type": "fake_error", "param": None, "code": step.code}}
    return web.Response(body=orjson.dumps(payload), status=step.status, headers=dict(step.headers),
                        content_type="application/json")


def _estimated_usage(body: dict[str, Any], message: dict[str, Any]) -> tuple[int, int]:
    prompt = len(orjson.dumps([body.get("messages"), body.get("tools")])) // 4 + 1
    completion = len(orjson.dumps([message.get("content"), message.get("tool_calls")])) // 4 + 1
    return prompt, completion
