"""An LLM that plays the API server, as StableToolBench's virtual API server does.

For a call it cannot make for real, the simulator model (role ``simulator``, temperature 0,
JSON output where the server supports it) is shown

* the API's documentation: tool and API names and descriptions, method, URL, the parameters
  with their types, and what it returns (response schema, ToolBench ``template_response``,
  documented example), large parts cut to a bounded size;
* up to ``env.simulation.examples_in_prompt`` earlier calls of the same API and their answers,
  from the response cache (:meth:`~pipeline.env.cache.ResponseCache.examples`: real answers
  and earlier simulations, newest first), so answers stay consistent with each other;
* the call's arguments;

and asked for ``{"error": "", "response": ...}``. The reply is read leniently (JSON inside
prose or a code fence, trailing commas, single quotes; a bare response body without the
wrapper is accepted as the response; a response that is JSON written as a string is decoded).
An unreadable reply is retried once with a reminder of the format; after that, or when the
model call itself fails, the rule-based :class:`~pipeline.env.simulate.ResponseSimulator`
answers instead and the observation says so: its mode is ``"simulated"``, where the model's
answers are ``"llm-simulated"``. Each outcome is counted (:meth:`LLMSimulator.stats`).

Schema check, lenient by decision: when the API declares a response schema, the answer is
checked against it, and a mismatch is logged and counted but the answer is kept. Collected
schemas are often incomplete or wrong (a missing ``nullable``, a field renamed since), and a
plausible answer that the model wrote from the description teaches a policy more than a
rule-based substitute would; the count in the stats shows how often it happens.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

from pipeline.env.cache import ResponseCache
from pipeline.env.observation import Observation
from pipeline.env.simulate import ResponseSimulator
from pipeline.io import dumps
from pipeline.llm.jsonparse import NotJson, find_json, parse_lenient
from pipeline.llm.types import ChatModel, ChatRequest, ModelError
from pipeline.models import Api, Param, Tool
from pipeline.schema_values import fits_schema
from pipeline.settings import SimulationSettings

log = logging.getLogger(__name__)

ROLE = "simulator"
MAX_DOC_FIELD_CHARS = 4000  # a response schema, template or example shown to the model
MAX_EXAMPLE_CHARS = 1500  # one cached answer shown to the model
_JSON_OBJECT = {"type": "json_object"}

SYSTEM_PROMPT = (
    "You are playing a real REST API server. You are given the documentation of one API of a "
    "tool and a call to it with its arguments. Answer exactly as the real server would: "
    "realistic, specific data in the documented response format that agrees with the arguments "
    "(a search for \"Paris\" returns results about Paris) and with the example calls when some "
    "are shown. Do not copy an example's answer for different arguments, and do not repeat an "
    "example that is only an error message. If the arguments are clearly invalid for this API, "
    "put the message the real API would give in \"error\" and null in \"response\"; otherwise "
    "leave \"error\" empty.\n"
    "Reply with one JSON object and nothing else:\n"
    '{"error": "", "response": <the response body>}'
)
RETRY_PROMPT = (
    "That reply could not be read. Reply with only one JSON object of the form "
    '{"error": "", "response": <the response body>}, with no other text.'
)


class LLMSimulator:
    """The StableToolBench-style simulator; satisfies :class:`~pipeline.env.simulate.Simulator`."""

    mode = "llm-simulated"  # what its own answers are marked; fallbacks say "simulated"

    def __init__(
        self,
        model: ChatModel,
        cache: ResponseCache | None,
        settings: SimulationSettings,
        fallback: ResponseSimulator,
        *,
        json_mode: bool = True,
    ) -> None:
        self.model = model
        self.cache = cache
        self.settings = settings
        self.fallback = fallback
        self.json_mode = json_mode
        self.counts: Counter[str] = Counter()

    async def asimulate(
        self,
        tool: Tool,
        api: Api,
        arguments: dict[str, Any],
        *,
        examples: Sequence[tuple[dict[str, Any], Observation]] = (),
    ) -> Observation:
        started = time.perf_counter()
        self.counts["calls"] += 1
        limit = self.settings.examples_in_prompt
        if not examples and self.cache is not None and limit > 0:
            examples = self.cache.examples(tool.id, api.id, limit)
        messages = simulation_messages(tool, api, arguments, list(examples)[:limit])
        for attempt in range(2):
            try:
                content = await self._ask(messages, attempt)
            except ModelError as error:
                self.counts["model_errors"] += 1
                log.warning("simulating %s/%s with the model failed (%s); rule-based answer instead",
                            tool.id, api.id, error)
                return self._fall_back(tool, api, arguments)
            parsed = parse_simulated(content)
            if parsed is not None:
                return self._observation(api, *parsed, started=started)
            self.counts["unparseable"] += 1
            log.info("simulator reply for %s/%s is not the JSON asked for (attempt %d): %.200r",
                     tool.id, api.id, attempt + 1, content)
            if attempt == 0:
                self.counts["retries"] += 1
                messages = [*messages, {"role": "assistant", "content": content or ""},
                            {"role": "user", "content": RETRY_PROMPT}]
        return self._fall_back(tool, api, arguments)

    def stats(self) -> dict[str, int]:
        """calls, answered (by the model), retries, unparseable replies, schema_mismatches,
        model_errors, fallbacks (rule-based answers given instead)."""
        return dict(self.counts)

    async def _ask(self, messages: list[dict[str, Any]], attempt: int) -> str | None:
        request = ChatRequest(role=ROLE, messages=messages, temperature=0.0, sample_index=attempt,
                              response_format=_JSON_OBJECT if self.json_mode else None)
        try:
            reply = await self.model.chat(request)
        except ModelError as error:
            if not (self.json_mode and error.status in (400, 422)):
                raise
            # Servers without structured output reject response_format; the prompt asks for
            # JSON anyway, so ask again without it and stop sending it.
            log.info("the simulator model rejected response_format (%s); asking without it", error)
            self.json_mode = False
            reply = await self.model.chat(request.model_copy(update={"response_format": None}))
        return reply.content

    def _observation(self, api: Api, error: str, response: Any, *, started: float) -> Observation:
        self.counts["answered"] += 1
        if not error and api.response_schema and not fits_schema(response, api.response_schema):
            self.counts["schema_mismatches"] += 1
            log.info("simulated answer of %s does not fit its response schema; kept", api.id or api.name)
        return Observation(error=error, response=response, status=None, mode="llm-simulated",
                           elapsed_ms=round((time.perf_counter() - started) * 1000, 3))

    def _fall_back(self, tool: Tool, api: Api, arguments: dict[str, Any]) -> Observation:
        self.counts["fallbacks"] += 1
        return self.fallback.simulate(tool, api, arguments)  # mode "simulated": rule-based


def simulation_messages(
    tool: Tool, api: Api, arguments: dict[str, Any], examples: Sequence[tuple[dict[str, Any], Observation]]
) -> list[dict[str, Any]]:
    """The chat messages that ask the model to answer one call."""
    parts = ["API documentation:", _dumps(api_documentation(tool, api))]
    if examples:
        parts.append("\nExample calls to this API and their responses:")
        for number, (example_arguments, observation) in enumerate(examples, 1):
            parts.append(f"Example {number}. Arguments: {_dumps(example_arguments)}\n"
                         f"Response: {observation.for_model(MAX_EXAMPLE_CHARS)}")
    parts.append(f"\nThe call to answer. Arguments: {_dumps(arguments)}")
    parts.append('Reply with the JSON object {"error": ..., "response": ...} only.')
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": "\n".join(parts)}]


def api_documentation(tool: Tool, api: Api) -> dict[str, Any]:
    """What the model is told about an API (big schemas and examples cut to a bounded size)."""
    doc: dict[str, Any] = {
        "tool_name": tool.tool_name,
        "tool_description": tool.tool_description[:MAX_DOC_FIELD_CHARS],
        "api_name": api.name,
        "api_description": api.description[:MAX_DOC_FIELD_CHARS],
        "method": api.method,
        "url": api.url,
        "required_parameters": [_param(p) for p in api.required_parameters],
        "optional_parameters": [_param(p) for p in api.optional_parameters],
    }
    for name in ("body_schema", "response_schema", "template_response", "response_example"):
        value = getattr(api, name)
        if value not in (None, "", {}, []):
            doc[name] = _bounded(value)
    return doc


def parse_simulated(content: str | None) -> tuple[str, Any] | None:
    """(error, response) from the model's reply, or None when it holds no usable JSON."""
    if not content or not content.strip():
        return None
    try:
        value = find_json(content, accept=lambda v: isinstance(v, dict) and "response" in v)
    except NotJson:
        try:  # a bare response body, without the wrapper
            body = find_json(content, accept=lambda v: isinstance(v, (dict, list)))
        except NotJson:
            return None
        return "", body
    error = value.get("error")
    if error in (None, False, "", {}, []):
        error = ""
    elif not isinstance(error, str):
        error = _dumps(error)
    response = value["response"]
    if isinstance(response, str) and response.strip()[:1] in ("{", "["):
        try:  # the body written as a JSON string, as models often do
            response = parse_lenient(response)
        except NotJson:
            pass
    return error, response


def _param(param: Param) -> dict[str, Any]:
    described: dict[str, Any] = {"name": param.name, "type": param.type, "description": param.description}
    if param.default not in ("", None):
        described["default"] = param.default
    if param.enum:
        described["enum"] = param.enum[:50]
    if param.example is not None:
        described["example"] = param.example
    return described


def _bounded(value: Any) -> Any:
    text = _dumps(value)
    return value if len(text) <= MAX_DOC_FIELD_CHARS else text[:MAX_DOC_FIELD_CHARS] + "...(cut)"


def _dumps(value: Any) -> str:
    return dumps(value, any_object=True).decode("utf-8")
