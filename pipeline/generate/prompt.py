"""The instruction writer's prompt (ToolBench's, appendix of the ToolLLM paper).

Task description + 3 seed examples + the documentation of the sampled APIs, asking for a JSON
list of ``{"query": ..., "relevant APIs": [[tool_name, api_name], ...]}``.

The documentation is one JSON object between :data:`DOCS_START` and :data:`DOCS_END`:
``{"group", "count", "apis": [...], "chains": [...]}``. It is written for the model, and it is
also what :mod:`pipeline.generate.offline_writer` reads back (:func:`read_documentation`), so
the offline writer gets exactly the prompt an LLM gets and needs no side channel. ``chains``
lists feeding links (a field of one API's response can fill a parameter of another), which
helps an LLM write queries whose calls depend on each other.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from pipeline.generate.sampling import ApiSet, feeding_links
from pipeline.generate.seeds import Seed, choose_seeds
from pipeline.models import Api, Param, Tool

DOCS_START = "<API documentation>"
DOCS_END = "</API documentation>"
SYSTEM_PROMPT = (
    "You write realistic requests that users send to an AI assistant which can call REST APIs. "
    "You answer with JSON only."
)
_COUNT = re.compile(r"Write exactly (\d+) instructions")


def _cut(text: str, limit: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


def _param_doc(param: Param, limit: int) -> dict[str, Any]:
    doc: dict[str, Any] = {"name": param.name, "type": param.type or "STRING"}
    if param.description.strip():
        doc["description"] = _cut(param.description, limit)
    example = param.example if param.example not in (None, "") else param.schema_.get("example")
    if example not in (None, ""):
        doc["example"] = example
    if param.enum:
        doc["enum"] = list(param.enum)[:20]
    if param.default not in (None, ""):
        doc["default"] = param.default
    return doc


def api_doc(tool: Tool, api: Api, *, description_chars: int = 512) -> dict[str, Any]:
    """One API as the prompt documents it (ToolBench's fields, names as the model must echo)."""
    return {
        "tool_name": tool.tool_name,
        "tool_description": _cut(tool.tool_description, description_chars),
        "api_name": api.name,
        "api_description": _cut(api.description, description_chars),
        "method": api.method,
        "required_parameters": [_param_doc(p, description_chars) for p in api.required_parameters],
        "optional_parameters": [_param_doc(p, description_chars) for p in api.optional_parameters],
    }


def set_members(api_set: ApiSet, tools_by_id: dict[str, Tool]) -> list[tuple[Tool, Api]]:
    """The sampled (tool, API) pairs, in the set's order; APIs missing from the catalog skipped."""
    members = []
    for tool_id, api_id in api_set.apis:
        tool = tools_by_id.get(tool_id)
        api = next((a for a in tool.api_list if a.id == api_id), None) if tool else None
        if tool is not None and api is not None:
            members.append((tool, api))
    return members


def documentation(api_set: ApiSet, tools_by_id: dict[str, Tool], *, count: int,
                  description_chars: int = 512) -> dict[str, Any]:
    members = set_members(api_set, tools_by_id)
    names = {(t.id, a.id): [t.tool_name, a.name] for t, a in members}
    chains = [
        {"from": names[link.source], "to": names[link.target], "parameter": link.field}
        for link in feeding_links(members)
    ]
    return {
        "group": api_set.group,
        "count": count,
        "apis": [api_doc(t, a, description_chars=description_chars) for t, a in members],
        "chains": chains,
    }


def _seed_block(number: int, seed: Seed) -> str:
    apis = "\n".join(f"  - {name}: {what}" for name, what in seed.apis.items())
    example = json.dumps(
        {"query": seed.query, "relevant APIs": [list(p) for p in seed.relevant_apis]}, ensure_ascii=False
    )
    return f"Example {number}. APIs:\n{apis}\nOutput item:\n{example}"


def build_writer_messages(
    api_set: ApiSet,
    tools_by_id: dict[str, Tool],
    *,
    count: int,
    seeds: int = 3,
    description_chars: int = 512,
) -> list[dict[str, str]]:
    """The chat messages asking for ``count`` instructions about ``api_set``."""
    docs = documentation(api_set, tools_by_id, count=count, description_chars=description_chars)
    single = api_set.group == "G1"
    scope = (
        "Each instruction uses 2-5 of the APIs below (all from this one tool; 1 only if the tool "
        "has a single API)."
        if single
        else "Each instruction uses 2-5 of the APIs below and needs APIs of at least two different "
        "tools; prefer requests where the result of one call is needed for the next "
        "(see \"chains\")."
    )
    examples = "\n\n".join(
        _seed_block(i, seed) for i, seed in enumerate(choose_seeds(api_set.group, api_set.id, seeds), 1)
    )
    task = f"""You will be given the documentation of some APIs. Imagine the requests real users would send to an assistant that can call them.

Rules:
- Write exactly {count} instructions. {scope}
- Give concrete values for the parameters the calls need (names, dates, cities, ids, amounts), taken from the documentation's examples and enums or invented but realistic. Never leave a value vague.
- Do not ask which API or tool to use, and do not mention API or tool names; say what the user wants done.
- Vary the tone (casual, formal, terse, detailed), the length and the user's situation; instructions must overlap as little as possible.
- For each instruction list the APIs it needs as "relevant APIs": [[tool_name, api_name], ...], with the names exactly as documented.

Here are examples (with other, made-up APIs):

{examples}

{DOCS_START}
{json.dumps(docs, ensure_ascii=False, indent=1)}
{DOCS_END}

Answer with a JSON list only, one object per instruction: [{{"query": "...", "relevant APIs": [["tool_name", "api_name"], ...]}}, ...]"""
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": task}]


@dataclass
class PromptDocumentation:
    group: str
    count: int
    apis: list[dict[str, Any]]
    chains: list[dict[str, Any]]


def read_documentation(messages: list[dict[str, Any]]) -> PromptDocumentation | None:
    """The documentation block of a writer prompt (the last message that has one), or None."""
    for message in reversed(messages):
        content = message.get("content")
        if not isinstance(content, str) or DOCS_START not in content:
            continue
        block = content.split(DOCS_START, 1)[1].split(DOCS_END, 1)[0]
        try:
            docs = json.loads(block)
        except ValueError:
            return None
        count = docs.get("count")
        if not isinstance(count, int):
            found = _COUNT.search(content)
            count = int(found.group(1)) if found else 10
        return PromptDocumentation(
            group=str(docs.get("group", "")), count=count,
            apis=list(docs.get("apis", [])), chains=list(docs.get("chains", [])),
        )
    return None
