"""The offline policy as a chat model: deterministic seeding, token accounting, and what happens
when the rules fail."""

from __future__ import annotations

import hashlib
import json
import logging
import random
from typing import Any

from pipeline.llm.offline_policy.conversation import FINISH
from pipeline.llm.offline_policy.decision import Decision
from pipeline.llm.types import ChatReply, ChatRequest, ToolCall, Usage

log = logging.getLogger(__name__)

MODEL_NAME = "offline-rule-policy"


class OfflinePolicy:
    """Rule-based :class:`~pipeline.llm.types.ChatModel` for the ``policy`` role (see module doc).

    If the rules themselves fail on a request (a bug), a production run should not lose the
    search: the reply is ``Finish`` with ``give_up_and_restart``, a warning with the exception is
    logged and the failure is counted (``errors`` in :meth:`stats`). With ``strict`` the
    exception propagates instead, so that in tests a bug fails the test rather than looking
    like a hard query.
    """

    def __init__(self, model_name: str = MODEL_NAME, *, strict: bool = False) -> None:
        self.model_name = model_name
        self.strict = strict
        self._requests = 0
        self._prompt_tokens = 0
        self._completion_tokens = 0
        self._errors = 0

    def stats(self) -> dict[str, dict[str, Any]]:
        return {
            "policy": {
                "requests": self._requests,
                "prompt_tokens": self._prompt_tokens,
                "completion_tokens": self._completion_tokens,
                "cost": 0.0,
                "errors": self._errors,  # requests the rules failed on, answered by giving up
            }
        }

    async def chat(self, request: ChatRequest) -> ChatReply:
        return self.decide(request)

    def decide(self, request: ChatRequest) -> ChatReply:
        seed_text = ""
        try:
            seed_text = json.dumps(
                [
                    request.messages,
                    [
                        t.get("function", t).get("name")
                        if isinstance(t, dict) and isinstance(t.get("function", t), dict)
                        else None
                        for t in request.tools or []
                    ],
                ],
                sort_keys=True,
                default=str,
            )
        except Exception:  # noqa: BLE001 - never raise
            seed_text = repr(request.messages)[:100000]
        seed = hashlib.sha256(f"{seed_text}|{request.sample_index}".encode()).hexdigest()
        try:
            thought, name, arguments = Decision(request, random.Random(int(seed[:16], 16))).run()
        except Exception as exc:
            if self.strict:
                raise
            # a bug in the rules must not take the search down: give up on this step, loudly
            self._errors += 1
            log.warning("offline policy: the rules failed on a request (%s: %s); answering "
                        "give_up_and_restart", type(exc).__name__, exc, exc_info=True)
            thought = (f"Thought: I could not work out a next step ({type(exc).__name__}); "
                       "I will give up and restart.")
            name, arguments = FINISH, {"return_type": "give_up_and_restart"}
        raw_args = json.dumps(arguments, ensure_ascii=False)
        call = ToolCall(
            id=f"call_{hashlib.sha256((seed + name + raw_args).encode()).hexdigest()[:24]}",
            name=name,
            arguments=raw_args,
        )
        prompt_tokens = max(1, len(seed_text) // 4)
        completion_tokens = max(1, (len(thought) + len(name) + len(raw_args)) // 4)
        self._requests += 1
        self._prompt_tokens += prompt_tokens
        self._completion_tokens += completion_tokens
        return ChatReply(
            content=thought,
            tool_calls=[call],
            finish_reason="tool_calls",
            usage=Usage(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens),
            model=self.model_name,
        )
