"""Tool calls for models without native function calling: ToolBench's ReAct text format.

The tools go into the system prompt (ToolBench's "Specifically, you have access to the
following APIs: ...") with the reply format

    Thought: <reasoning>
    Action: <function name>
    Action Input: <arguments as a JSON object>

and earlier calls and results in the conversation are rewritten the same way (assistant
``tool_calls`` become Action lines, ``tool`` messages become ``Observation: ...`` user turns),
so a chat template that knows nothing of tools still sees a coherent transcript. Replies are
parsed back into :class:`~pipeline.llm.types.ToolCall`s, forgiving code fences, trailing
commas and single quotes; a reply that names an action but whose input cannot be read comes
back with no tool calls and its whole text as content, for the caller to record or retry.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import orjson

from pipeline.io import dumps, loads
from pipeline.llm.jsonparse import NotJson, find_json, parse_lenient
from pipeline.llm.types import ToolCall

OBSERVATION_STOP = "\nObservation:"
_MAX_STOPS = 4  # OpenAI's limit on stop sequences

_FORMAT = (
    "You can call functions. To call one, reply in exactly this format and then stop:\n"
    "Thought: <your reasoning about what to do next>\n"
    "Action: <the function name>\n"
    "Action Input: <the arguments as one JSON object>\n"
    "Call one function per reply. Its result comes back in a message starting with "
    '"Observation:".'
)
_CHOICE_AUTO = "If no function is needed, answer directly, without an Action."
_CHOICE_REQUIRED = "You must call one of the functions in this reply."

# "Action:" / "**Action:**" / "Action 1:" at the start of a line; "Action Input:" is not matched.
_ACTION = re.compile(r"^[ \t]*[*_]*Action[ \t]*\d*[*_]*[ \t]*:[*_]*[ \t]*(.*?)[ \t]*$", re.MULTILINE | re.IGNORECASE)
_ACTION_INPUT = re.compile(r"^[ \t]*[*_]*Action[ \t_]*Input[ \t]*\d*[*_]*[ \t]*:[*_]*[ \t]*", re.MULTILINE | re.IGNORECASE)
_SECTION_END = re.compile(r"^[ \t]*[*_]*(?:Observation|Thought|Action)[ \t]*\d*[*_]*[ \t]*:", re.MULTILINE | re.IGNORECASE)
_THOUGHT = re.compile(r"^[ \t]*[*_]*Thought[ \t]*\d*[*_]*[ \t]*:[*_]*[ \t]*", re.IGNORECASE)
_NAME = re.compile(r"[A-Za-z0-9_.\-]+")


def tools_prompt(tools: list[dict[str, Any]], tool_choice: str | dict[str, Any] | None) -> str:
    """The system-prompt section that describes ``tools`` and the ReAct reply format."""
    functions = [tool.get("function", tool) for tool in tools]
    if isinstance(tool_choice, dict):
        name = (tool_choice.get("function") or {}).get("name", "")
        choice = f"You must call the function {name} in this reply."
    elif tool_choice == "required":
        choice = _CHOICE_REQUIRED
    else:
        choice = _CHOICE_AUTO
    listing = dumps(functions).decode("utf-8")
    return f"{_FORMAT}\n{choice}\nSpecifically, you have access to the following APIs: {listing}"


def text_mode_messages(
    messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None, tool_choice: str | dict[str, Any] | None
) -> list[dict[str, Any]]:
    """``messages`` for a model without tool calls: tools in the system prompt, history as text."""
    out: list[dict[str, Any]] = []
    for message in messages:
        converted = _as_text(message)
        previous = out[-1] if out else None
        if (
            previous is not None
            and converted["role"] == previous["role"] == "user"
            and isinstance(previous.get("content"), str)
            and isinstance(converted.get("content"), str)
        ):
            # Results of parallel calls, or a result then the user's next words: one turn, since
            # strict templates insist that user and assistant alternate.
            out[-1] = {**previous, "content": f"{previous['content']}\n{converted['content']}"}
        else:
            out.append(converted)
    if tools and tool_choice != "none":
        section = tools_prompt(tools, tool_choice)
        if out and out[0].get("role") == "system" and isinstance(out[0].get("content"), str):
            out[0] = {**out[0], "content": f"{out[0]['content']}\n\n{section}"}
        else:
            out.insert(0, {"role": "system", "content": section})
    return out


def text_mode_stop(stop: list[str] | None) -> list[str]:
    """The stop sequences with ``Observation:`` added, so the model does not invent results."""
    stops = list(stop or [])
    if OBSERVATION_STOP not in stops and len(stops) < _MAX_STOPS:
        stops.append(OBSERVATION_STOP)
    return stops


def _as_text(message: dict[str, Any]) -> dict[str, Any]:
    role = message.get("role")
    if role == "assistant" and message.get("tool_calls"):
        lines = []
        if message.get("content"):
            lines.append(f"Thought: {message['content']}")
        for call in message["tool_calls"]:
            function = call.get("function", {})
            lines.append(f"Action: {function.get('name', '')}\nAction Input: {function.get('arguments', '')}")
        return {"role": "assistant", "content": "\n".join(lines)}
    if role in ("tool", "function"):
        return {"role": "user", "content": f"Observation: {message.get('content', '')}"}
    return message


def parse_react(text: str | None) -> tuple[str | None, list[ToolCall]]:
    """(thought or the whole text, tool calls) of a ReAct reply.

    No Action: the text is an answer, returned whole with no calls. An Action whose name or
    input cannot be read: the whole text with no calls (the caller records or retries).
    """
    if not text:
        return text, []
    actions = list(_ACTION.finditer(text))
    if not actions:
        return text, []
    calls: list[ToolCall] = []
    for number, action in enumerate(actions):
        name = _clean_name(action.group(1))
        end = actions[number + 1].start() if number + 1 < len(actions) else len(text)
        arguments = _arguments(text[action.end() : end])
        if name is None or arguments is None:
            return text, []
        calls.append(ToolCall(id=_call_id(text, number), name=name, arguments=arguments))
    thought = _THOUGHT.sub("", text[: actions[0].start()].strip(), count=1).strip()
    return thought or None, calls


def _clean_name(raw: str) -> str | None:
    match = _NAME.search(raw.strip().strip("`*'\""))
    return match.group(0) if match else None


def _arguments(section: str) -> str | None:
    """The JSON text of an Action Input in ``section``; None when it cannot be read."""
    marker = _ACTION_INPUT.search(section)
    if marker is None:
        return None
    rest = section[marker.end() :]
    end = _SECTION_END.search(rest)
    body = (rest[: end.start()] if end else rest).strip()
    if not body:
        return "{}"
    try:
        value = loads(body)
        if isinstance(value, dict):
            return body  # valid already: keep exactly what the model wrote
    except orjson.JSONDecodeError:
        pass
    try:
        value = parse_lenient(body)
    except NotJson:
        try:
            value = find_json(body, accept=lambda v: isinstance(v, dict))
        except NotJson:
            return None
    if isinstance(value, str):  # a JSON string holding the object, as some models write it
        try:
            value = parse_lenient(value)
        except NotJson:
            return None
    if not isinstance(value, dict):
        return None
    return dumps(value).decode("utf-8")


def _call_id(text: str, number: int) -> str:
    # Deterministic, so a replayed reply and a fresh one carry the same ids.
    return f"call_{hashlib.sha256(text.encode('utf-8')).hexdigest()[:16]}_{number}"
