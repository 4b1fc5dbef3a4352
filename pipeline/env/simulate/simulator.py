"""The simulators' interface and the rule-based simulator: which description of the response it
uses, the random source of a call, and the generic answer when nothing else is usable.
"""

from __future__ import annotations

import hashlib
import logging
import random
import time
from collections.abc import Sequence
from typing import Any, Literal, Protocol, runtime_checkable

import orjson

from pipeline.canonical import canonical_arguments
from pipeline.env.observation import Observation
from pipeline.env.simulate.bounds import MAX_DEPTH, MAX_NODES, json_copy
from pipeline.env.simulate.echo import Echo
from pipeline.env.simulate.generator import Generation
from pipeline.env.simulate.names import name_tokens
from pipeline.env.simulate.template import schema_from_template
from pipeline.env.simulate.vocabulary import entity_of
from pipeline.models import Api, Tool
from pipeline.schema_values import MISSING
from pipeline.settings import SimulationSettings

log = logging.getLogger(__name__)


ResponseSource = Literal["example", "schema", "template", "generic"]


@runtime_checkable
class Simulator(Protocol):
    """Something that can play an API server for one call.

    ``examples`` are earlier (arguments, observation) pairs of the same API, most recent first,
    as :meth:`pipeline.env.cache.ResponseCache.examples` returns them; an LLM-backed simulator
    shows them in its prompt, the rule-based one ignores them. ``mode`` is what its own answers
    are marked with (a stand-in answer from a fallback carries another mode).
    """

    mode: str

    async def asimulate(
        self,
        tool: Tool,
        api: Api,
        arguments: dict[str, Any],
        *,
        examples: Sequence[tuple[dict[str, Any], Observation]] = (),
    ) -> Observation: ...


def response_source(api: Api) -> ResponseSource:
    """Which of the API's response descriptions the rule-based simulator uses."""
    if _usable_example(api.response_example) is not MISSING:
        return "example"
    if _informative_schema(api.response_schema):
        return "schema"
    if api.template_response not in (None, "", {}, []):
        return "template"
    return "generic"


class ResponseSimulator:
    """Deterministic, rule-based API responses (see the module docstring for the rules)."""

    mode = "simulated"

    def __init__(
        self,
        settings: SimulationSettings | None = None,
        *,
        seed: int = 0,
        max_nodes: int = MAX_NODES,
        max_depth: int = MAX_DEPTH,
    ) -> None:
        self.settings = settings or SimulationSettings()
        self.seed = seed
        self.max_nodes = max_nodes
        self.max_depth = max_depth

    def simulate(self, tool: Tool, api: Api, arguments: dict[str, Any] | None) -> Observation:
        started = time.perf_counter()
        arguments = arguments if arguments is not None else {}
        try:
            response = self._response(tool, api, arguments)
        except Exception as error:  # noqa: BLE001 - a simulator bug must not end a search
            log.warning("simulating %s/%s failed (%s: %s); answering generically",
                        _tool_key(tool), _api_key(api), type(error).__name__, error)
            response = _generic(api, arguments)
        elapsed = (time.perf_counter() - started) * 1000
        return Observation(error="", response=response, status=None, mode="simulated",
                           elapsed_ms=round(elapsed, 3))

    async def asimulate(
        self,
        tool: Tool,
        api: Api,
        arguments: dict[str, Any],
        *,
        examples: Sequence[tuple[dict[str, Any], Observation]] = (),
    ) -> Observation:
        return self.simulate(tool, api, arguments)

    def rng_for(self, tool: Tool, api: Api, arguments: Any) -> random.Random:
        """The random source of one call: a function of seed, tool, API and arguments only."""
        try:
            canonical = canonical_arguments(arguments)
        except (TypeError, ValueError):
            canonical = repr(arguments)
        material = "\x1f".join((str(self.seed), _tool_key(tool), _api_key(api), canonical))
        digest = hashlib.sha256(material.encode("utf-8")).digest()
        return random.Random(int.from_bytes(digest[:16], "big"))

    def _response(self, tool: Tool, api: Api, arguments: dict[str, Any]) -> Any:
        source = response_source(api)
        if source == "generic":
            return _generic(api, arguments)
        run = Generation(self.rng_for(tool, api, arguments), Echo(arguments), self.settings.list_length,
                   self.max_nodes, self.max_depth)
        if source == "example":
            return run.adapt_example(_usable_example(api.response_example))
        if source == "schema":
            return run.generate(api.response_schema, entity_of(name_tokens(_api_key(api))))
        schema = schema_from_template(api.template_response, max_nodes=self.max_nodes,
                                      max_depth=self.max_depth)
        return run.generate(schema, entity_of(name_tokens(_api_key(api))))


def _tool_key(tool: Tool) -> str:
    return tool.id or tool.standardized_name or tool.tool_name


def _api_key(api: Api) -> str:
    return api.id or api.name


def _generic(api: Api, arguments: Any) -> dict[str, Any]:
    return {"message": f"{api.name} completed", "arguments": json_copy(arguments, [500], 0)}


def _usable_example(example: Any) -> Any:
    if example is None or example == "":
        return MISSING
    if isinstance(example, str):
        text = example.strip()
        if text[:1] in ("{", "["):
            try:
                return orjson.loads(text)
            except orjson.JSONDecodeError:
                return example
    return example


_SCHEMA_CONTENT = ("type", "properties", "items", "prefixItems", "anyOf", "oneOf", "allOf", "enum",
                   "const", "additionalProperties", "required", "format", "pattern")


def _informative_schema(schema: Any) -> bool:
    return isinstance(schema, dict) and any(key in schema for key in _SCHEMA_CONTENT)
