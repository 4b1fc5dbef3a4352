"""Structured output: asking a server for JSON that fits a schema, and falling back when it can't.

``response_format = {"type": "json_schema", ...}`` (OpenAI, vLLM's guided decoding, llama.cpp's
grammars) makes a reply parse every time. Servers that do not know it refuse the request with a
400/422; :class:`StructuredAsker` then steps down to ``{"type": "json_object"}`` and then to no
``response_format`` at all (the prompts ask for JSON anyway, and the parsers read JSON in prose),
and remembers the step for the rest of the run, so a refusing server costs one request, not one
per item.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from pipeline.llm.types import ChatModel, ChatReply, ChatRequest, ModelError, is_refused_option

log = logging.getLogger(__name__)

StructuredMode = Literal["json_schema", "json_object", "off"]
_STEPS: tuple[StructuredMode, ...] = ("json_schema", "json_object", "off")


def json_schema_format(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    """OpenAI's ``response_format`` for ``schema`` (not strict: strict mode forbids optional keys)."""
    return {"type": "json_schema", "json_schema": {"name": name, "schema": schema, "strict": False}}


class StructuredAsker:
    """Sends requests with the strongest ``response_format`` the server has not refused."""

    def __init__(self, model: ChatModel, *, mode: StructuredMode, name: str, schema: dict[str, Any]) -> None:
        self.model = model
        self.mode: StructuredMode = mode
        self._format = json_schema_format(name, schema)
        self.refusals = 0

    def _response_format(self, mode: StructuredMode) -> dict[str, Any] | None:
        if mode == "json_schema":
            return self._format
        if mode == "json_object":
            return {"type": "json_object"}
        return None

    async def chat(self, request: ChatRequest) -> ChatReply:
        while True:
            mode = self.mode
            asked = request.model_copy(update={"response_format": self._response_format(mode)})
            try:
                return await self.model.chat(asked)
            except ModelError as error:
                if mode == "off" or not is_refused_option(error):
                    raise
                # one step below what *this* request used: requests in flight at once that are
                # refused together must not step down twice
                weaker = _STEPS[_STEPS.index(mode) + 1]
                if _STEPS.index(weaker) > _STEPS.index(self.mode):
                    log.info("the %s model refused response_format %s (%s); using %s from now on",
                             request.role, mode, str(error)[:200], weaker)
                    self.refusals += 1
                    self.mode = weaker
