"""The OpenAI Batch API for the roles that need no answer at once (``--batch``: writer, judge).

Half the price, answered within 24 h. Requests that arrive together are gathered (a batch is sent
once no new request came for ``llm.batch_flush_s``, or when ``llm.batch_max_requests`` wait),
written as a JSONL batch file, uploaded (``POST /files``), submitted (``POST /batches``) and
polled (``GET /batches/{id}``) every ``llm.batch_poll_s``; the output file's lines answer the
waiting requests by ``custom_id``. The reply cache above this model keeps every answer, so a rerun
replays instead of paying again.

Resumable across restarts: each submitted batch is recorded in ``<run>/llm/batches.jsonl`` with
the ``custom_id`` of each request, which is the request's cache key (the same request gets the
same id in the next process). A request whose id is in a batch an earlier process submitted
waits for that batch instead of being sent again.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from pipeline.io import JsonlAppender, read_jsonl
from pipeline.llm.cache import request_key
from pipeline.llm.openai_backend import OpenAIChatModel
from pipeline.llm.types import (
    MAX_BODY_CHARS,
    ChatReply,
    ChatRequest,
    ModelError,
    check_chat_model,
    close_chat_model,
    model_usage,
)

log = logging.getLogger(__name__)

BATCHES_FILE = Path("llm") / "batches.jsonl"
DONE = ("completed",)
FAILED = ("failed", "expired", "cancelled")


@dataclass
class _Waiting:
    request: ChatRequest
    body: dict[str, Any]
    text_calls: bool
    answer: asyncio.Future[ChatReply] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class BatchChatModel:
    """A :class:`~pipeline.llm.types.ChatModel` that answers through the Batch API."""

    def __init__(self, client: OpenAIChatModel, run_dir: Path, *, flush_s: float, poll_s: float,
                 max_requests: int) -> None:
        self.client = client
        self.path = Path(run_dir) / BATCHES_FILE
        self.flush_s = flush_s
        self.poll_s = poll_s
        self.max_requests = max_requests
        self._pending: dict[str, _Waiting] = {}
        self._flusher: asyncio.TimerHandle | None = None
        self._submitted: dict[str, str] = {}  # custom_id -> batch id (this and earlier processes)
        self._pollers: dict[str, asyncio.Task[None]] = {}
        self._waiting: dict[str, list[_Waiting]] = {}  # custom_id -> requests waiting for its batch line
        self.batches_sent = 0
        if self.path.is_file():
            for record in read_jsonl(self.path):
                for custom_id in record.get("custom_ids") or []:
                    self._submitted[str(custom_id)] = str(record["batch_id"])

    async def chat(self, request: ChatRequest) -> ChatReply:
        body, text_calls = self.client.request_body(request)
        custom_id = request_key(request, str(body["model"]), "batch")
        waiting = _Waiting(request, body, text_calls)
        batch_id = self._submitted.get(custom_id)
        if batch_id is not None:  # sent by an earlier process (or already by this one): wait for it
            self._waiting.setdefault(custom_id, []).append(waiting)
            self._poll(batch_id)
        else:
            if custom_id in self._pending:
                self._waiting.setdefault(custom_id, []).append(waiting)
            else:
                self._pending[custom_id] = waiting
            self._schedule_flush()
        return await waiting.answer

    def _schedule_flush(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
        loop = asyncio.get_running_loop()
        delay = 0.0 if len(self._pending) >= self.max_requests else self.flush_s
        self._flusher = loop.call_later(delay, lambda: loop.create_task(self._flush()))

    async def _flush(self) -> None:
        self._flusher = None
        if not self._pending:
            return
        sending, self._pending = self._pending, {}
        try:
            batch_id = await self._submit(sending)
        except Exception as error:  # noqa: BLE001 - every waiting request gets the failure
            failure = ModelError(f"the Batch API refused the batch: {self.client.scrub(str(error))[:500]}")
            for custom_id, waiting in sending.items():
                for one in [waiting, *self._waiting.pop(custom_id, [])]:
                    if not one.answer.done():
                        one.answer.set_exception(failure)
            return
        for custom_id, waiting in sending.items():
            self._waiting.setdefault(custom_id, []).insert(0, waiting)
        self._poll(batch_id)

    async def _submit(self, sending: dict[str, _Waiting]) -> str:
        lines = b"".join(
            orjson.dumps({"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions",
                          "body": waiting.body}) + b"\n"
            for custom_id, waiting in sending.items())
        api = self.client.client
        uploaded = await api.files.create(file=("toolgen-batch.jsonl", lines, "application/jsonl"), purpose="batch")
        batch = await api.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions",
                                         completion_window="24h")
        custom_ids = list(sending)
        JsonlAppender(self.path).write({"batch_id": batch.id, "input_file_id": uploaded.id, "custom_ids": custom_ids})
        for custom_id in custom_ids:
            self._submitted[custom_id] = batch.id
        self.batches_sent += 1
        log.info("submitted batch %s with %d requests; polling every %g s", batch.id, len(custom_ids), self.poll_s)
        return batch.id

    def _poll(self, batch_id: str) -> None:
        if batch_id not in self._pollers or self._pollers[batch_id].done():
            self._pollers[batch_id] = asyncio.get_running_loop().create_task(self._wait_for(batch_id))

    async def _wait_for(self, batch_id: str) -> None:
        api = self.client.client
        try:
            while True:
                batch = await api.batches.retrieve(batch_id)
                if batch.status in DONE or batch.status in FAILED:
                    break
                await asyncio.sleep(self.poll_s)
            answers: dict[str, Any] = {}
            if batch.status in DONE and batch.output_file_id:
                content = await api.files.content(batch.output_file_id)
                for line in content.content.splitlines():
                    if line.strip():
                        item = orjson.loads(line)
                        answers[str(item.get("custom_id"))] = item
            self._answer(batch_id, str(batch.status), answers)
        except Exception as error:  # noqa: BLE001 - the waiting requests fail, the stage records them
            self._answer(batch_id, f"unreadable ({type(error).__name__}: {self.client.scrub(str(error))[:300]})", {})

    def _answer(self, batch_id: str, status: str, answers: dict[str, Any]) -> None:
        for custom_id in [c for c, b in self._submitted.items() if b == batch_id]:
            for waiting in self._waiting.pop(custom_id, []):
                if waiting.answer.done():
                    continue
                item = answers.get(custom_id)
                try:
                    waiting.answer.set_result(self._reply(waiting, item, batch_id, status))
                except ModelError as error:
                    waiting.answer.set_exception(error)

    def _reply(self, waiting: _Waiting, item: dict[str, Any] | None, batch_id: str, status: str) -> ChatReply:
        role = waiting.request.role
        if item is None:
            raise ModelError(f"{role}: batch {batch_id} ended {status} without an answer for this request",
                             role=role, retryable=True)
        response = item.get("response") or {}
        code = int(response.get("status_code") or 0)
        body = response.get("body")
        if code != 200 or not isinstance(body, dict):
            text = orjson.dumps(body).decode() if not isinstance(body, str) else body
            raise ModelError(f"{role}: batch {batch_id} answered HTTP {code}: {self.client.scrub(text)[:300]}",
                             status=code or None, role=role, body=self.client.scrub(text)[:MAX_BODY_CHARS],
                             retryable=code >= 500 or code == 429)
        try:
            return self.client.read_completion(body, waiting.request, waiting.text_calls)
        except Exception as error:  # noqa: BLE001 - an unreadable line fails its request only
            raise ModelError(f"{role}: batch {batch_id} answer unreadable: {error}", role=role) from None

    def stats(self) -> dict[str, dict[str, Any]]:
        figures = self.client.stats()
        for role in figures:
            figures[role]["batches"] = self.batches_sent
        return figures

    async def aclose(self) -> None:
        for task in self._pollers.values():
            task.cancel()


BATCH_ROLES = ("writer", "judge")


class BatchRoles:
    """Sends the batchable roles' requests to a :class:`BatchChatModel`, the rest to ``direct``."""

    def __init__(self, direct: Any, batch: BatchChatModel, roles: tuple[str, ...]) -> None:
        self.direct = direct
        self.batch = batch
        self.roles = roles

    async def chat(self, request: ChatRequest) -> ChatReply:
        model = self.batch if request.role in self.roles else self.direct
        reply: ChatReply = await model.chat(request)
        return reply

    async def check_endpoint(self, roles: Any) -> None:
        await check_chat_model(self.direct, roles)

    def stats(self) -> dict[str, dict[str, Any]]:
        return {**model_usage(self.direct), **{role: figures for role, figures in self.batch.stats().items()
                                               if role in self.roles}}

    async def aclose(self) -> None:
        await self.batch.aclose()
        await close_chat_model(self.batch.client)
        await close_chat_model(self.direct)
