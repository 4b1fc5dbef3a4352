"""The offline instruction writer: rule-based, deterministic, no network.

THIS IS NOT AN LLM. It is the embedded default for ``llm.backend = "offline"`` so that the
generate stage (and everything after it) runs anywhere with no key. Data written with it is
for smoke runs and tests, not LLM-quality training data: its queries are template sentences
stitched from API descriptions and documented parameter values.

It implements :class:`~pipeline.llm.types.ChatModel` for the ``writer`` role and receives the
very same :class:`~pipeline.llm.types.ChatRequest` an LLM would. It has no side channel: it
reads the JSON documentation block the prompt carries (:func:`~pipeline.generate.prompt.read_documentation`)
and answers with a JSON text like an LLM's, so the stage's parse → hallucination check →
dedup path runs unchanged. How it writes each instruction:

* picks 1–3 APIs (G1: of the one tool; G2/G3: of two or more tools, following a documented
  ``chain`` — one API's response field filling another's parameter — when there is one);
* turns each API into a clause from its description's first sentence (or its humanised name
  when the description is empty) plus concrete values for its required parameters and a few
  optional ones: example, then enum member, then default, then a value made up from the type;
  a parameter filled by a chain gets "the <field> from that result" instead;
* wraps the clauses in one of several openers, connectors and closers, chosen by a generator
  seeded from the documentation, the request's ``sample_index`` and the item number.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from typing import Any

from pipeline.generate.prompt import PromptDocumentation, read_documentation
from pipeline.llm.types import ChatReply, ChatRequest, ModelError, Usage

MODEL_NAME = "offline-rule-writer"

_OPENERS = (
    "{clauses}.",
    "Could you {clauses}?",
    "Please {clauses}.",
    "I need your help: {clauses}.",
    "Hi! I'd like you to {clauses}.",
    "Quick one - {clauses}, thanks.",
    "For a project I'm working on, {clauses}.",
    "Can you help me {clauses}? It's a bit urgent.",
    "My manager asked me to {clauses}. Can you do that?",
    "I'm planning ahead this week; {clauses}.",
)
_CONNECTORS = (", and then ", "; after that, ", ", and also ", ". Next, ", ", then ")
_CHAIN_CONNECTORS = (
    ", and with the {field} from that result, ",
    "; then take the {field} it returns and ",
    ", and use the resulting {field} to ",
)
_VERBS = frozenset(
    ["get", "list", "search", "find", "create", "add", "update", "delete", "remove", "read", "send", "book", "cancel", "convert", "check", "translate", "detect", "show", "fetch", "return", "returns", "retrieve", "look", "compute", "calculate", "set", "reply", "mark", "move", "start", "stop", "make", "reserve", "compare", "track", "lookup", "rate", "review", "post", "buy", "place", "pay", "geocode", "reverse", "suggest", "recommend", "schedule", "query", "count", "filter", "sort"]
)
_FIRST_SENTENCE = re.compile(r"^(.+?[.!?])(\s|$)")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def _humanise(name: str) -> str:
    return " ".join(_CAMEL.sub(" ", name).replace("_", " ").replace("-", " ").split()).lower()


def _action(api: dict[str, Any]) -> str:
    """What the API does, as a verb phrase."""
    description = " ".join(str(api.get("api_description") or "").split())
    if len(description) >= 3:
        found = _FIRST_SENTENCE.match(description)
        sentence = (found.group(1) if found else description).rstrip(".!? ")
        sentence = sentence[:120].rstrip()
        if sentence:
            sentence = sentence[0].lower() + sentence[1:]
            first = sentence.split(" ", 1)[0]
            return sentence if first in _VERBS else f"look up {sentence}"
    return f"{_humanise(str(api.get('api_name') or 'the API'))} with {api.get('tool_name', 'the tool')}"


def _made_up_value(param: dict[str, Any], rng: random.Random) -> Any:
    kind = str(param.get("type", "STRING")).upper()
    name = str(param.get("name", "")).lower()
    if "DATE" in kind or "date" in name:
        return f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    if kind in {"NUMBER", "INTEGER", "FLOAT"}:
        return rng.choice([1, 2, 3, 5, 10, 25])
    if kind == "BOOLEAN":
        return rng.choice([True, False])
    if "email" in name:
        return rng.choice(["sam.lee@example.com", "ops@example.org"])
    if "city" in name:
        return rng.choice(["Lisbon", "Toronto", "Osaka", "Nairobi"])
    return rng.choice(["sample", "test", "demo"]) + f"-{rng.randint(1, 99)}"


def _value(param: dict[str, Any], rng: random.Random) -> Any:
    choices: list[Any] = []
    if param.get("example") not in (None, ""):
        choices.append(param["example"])
    if param.get("enum"):
        choices.append(rng.choice(param["enum"]))
    if param.get("default") not in (None, ""):
        choices.append(param["default"])
    return rng.choice(choices) if choices else _made_up_value(param, rng)


def _show(value: Any) -> str:
    if isinstance(value, str):
        return f"'{value}'"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value).lower() if isinstance(value, bool) else str(value)


def _clause(api: dict[str, Any], rng: random.Random, fed: str | None = None) -> str:
    parts: list[str] = []
    for param in api.get("required_parameters", []):
        if param.get("name") == fed:
            continue
        parts.append(f"{_humanise(param['name'])} {_show(_value(param, rng))}")
    optional = [p for p in api.get("optional_parameters", []) if p.get("name") != fed]
    for param in rng.sample(optional, min(len(optional), rng.randint(0, 2))):
        parts.append(f"{_humanise(param['name'])} {_show(_value(param, rng))}")
    action = _action(api)
    return f"{action} ({', '.join(parts)})" if parts else action


def _key(api: dict[str, Any]) -> tuple[str, str]:
    return str(api.get("tool_name", "")), str(api.get("api_name", ""))


def _pick(docs: PromptDocumentation, rng: random.Random) -> tuple[list[dict[str, Any]], dict[int, str]]:
    """The APIs of one instruction, in call order, and which position is fed by the previous
    one (position → the fed parameter's name)."""
    apis = docs.apis
    by_key = {_key(api): api for api in apis}
    tools = sorted({_key(api)[0] for api in apis})
    usable_chains = [c for c in docs.chains if tuple(c["from"]) in by_key and tuple(c["to"]) in by_key]
    if len(tools) > 1:
        cross = [c for c in usable_chains if c["from"][0] != c["to"][0]]
        if cross and rng.random() < 0.75:
            chain = rng.choice(cross)
            chosen = [by_key[tuple(chain["from"])], by_key[tuple(chain["to"])]]
            fed = {1: str(chain["parameter"])}
            onward = [c for c in usable_chains if tuple(c["from"]) == tuple(chain["to"])
                      and by_key[tuple(c["to"])] not in chosen]
            if onward and rng.random() < 0.5:
                nxt = rng.choice(onward)
                chosen.append(by_key[tuple(nxt["to"])])
                fed[2] = str(nxt["parameter"])
            return chosen, fed
        # no chain: one API from each of 2-3 tools
        picked_tools = rng.sample(tools, min(len(tools), rng.randint(2, 3)))
        return [rng.choice([a for a in apis if _key(a)[0] == t]) for t in picked_tools], {}
    if len(apis) == 1:
        return [apis[0]], {}
    if usable_chains and rng.random() < 0.4:
        chain = rng.choice(usable_chains)
        return [by_key[tuple(chain["from"])], by_key[tuple(chain["to"])]], {1: str(chain["parameter"])}
    return rng.sample(apis, min(len(apis), rng.randint(2, 3))), {}


def write_instructions(docs: PromptDocumentation, seed: str) -> list[dict[str, Any]]:
    """``docs.count`` instructions for the documented APIs, deterministic for ``seed``."""
    items: list[dict[str, Any]] = []
    if not docs.apis:
        return items
    for number in range(docs.count):
        rng = random.Random(f"{seed}:{number}")
        chosen, fed = _pick(docs, rng)
        text = ""
        for position, api in enumerate(chosen):
            clause = _clause(api, rng, fed.get(position))
            if position == 0:
                text = clause
            elif position in fed:
                field = _humanise(fed[position])
                text += rng.choice(_CHAIN_CONNECTORS).format(field=field) + clause
            else:
                text += rng.choice(_CONNECTORS) + clause
        query = rng.choice(_OPENERS).format(clauses=text)
        query = query[0].upper() + query[1:]
        items.append({"query": query, "relevant APIs": [list(_key(api)) for api in chosen]})
    return items


class OfflineInstructionWriter:
    """Rule-based stand-in for an LLM instruction writer (role ``writer``); see the module
    docstring. Its output is for smoke runs and tests, not LLM-quality data."""

    model_name = MODEL_NAME

    async def chat(self, request: ChatRequest) -> ChatReply:
        if request.role != "writer":
            raise ModelError(f"the offline instruction writer answers role 'writer', not {request.role!r}")
        docs = read_documentation(request.messages)
        if docs is None:
            content = "I can only write instructions for a prompt with an API documentation block."
        else:
            digest = hashlib.sha256(
                json.dumps(docs.apis, sort_keys=True, default=str).encode()
            ).hexdigest()[:16]
            items = write_instructions(docs, f"{digest}:{request.sample_index}")
            content = json.dumps(items, ensure_ascii=False, indent=1)
        prompt_chars = sum(len(str(m.get("content") or "")) for m in request.messages)
        return ChatReply(
            content=content,
            finish_reason="stop",
            usage=Usage(prompt_tokens=prompt_chars // 4, completion_tokens=len(content) // 4),
            model=MODEL_NAME,
        )
