"""What a request says: the functions offered, and the calls made so far with their observations.

The tools are OpenAI tools (or bare function dicts); assistant ``tool_calls`` are paired with
``tool`` messages by ``tool_call_id`` (else by order and name); an observation
``{"error": ..., "response": ...}`` with a non-empty error, or an error-looking response, is a
failure, anything else a success. Non-JSON observations are kept as text.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from pipeline.llm.offline_policy.words import content_text, split_name, word_stems

FINISH = "Finish"
# ToolBench's first user message is "\n{query}\nBegin!\n" (FORMAT_INSTRUCTIONS_USER_FUNCTION): the
# closing "Begin!" is prompt boilerplate, not part of the task, and must never become an argument
_PROMPT_TAIL = re.compile(r"\s*\bBegin!\s*$")
_ERR_WORDS = re.compile(
    r"\b(error|exception|not found|invalid|missing|forbidden|unauthori[sz]ed|failed|denied)\b", re.IGNORECASE
)


@dataclass
class Function:
    name: str
    description: str
    properties: dict[str, dict[str, Any]]
    required: list[str]
    api_tokens: set[str] = field(default_factory=set)
    desc_tokens: set[str] = field(default_factory=set)
    tool_tokens: set[str] = field(default_factory=set)
    anchor: int = 0  # where in the query the function's part starts
    end: int = 1 << 30  # where the next relevant function's part starts


@dataclass
class Call:
    id: str
    name: str
    arguments: dict[str, Any]
    raw_arguments: str
    ok: bool | None = None  # None: no observation yet
    error: str = ""
    response: Any = None
    cut: bool = False  # the observation was cut at the character cap: lists may hold more


def parse_functions(tools: Any) -> list[Function]:
    functions: list[Function] = []
    for tool in tools or []:
        if not isinstance(tool, dict):
            continue
        spec: dict[str, Any] = tool["function"] if isinstance(tool.get("function"), dict) else tool
        name = spec.get("name")
        if not isinstance(name, str) or not name:
            continue
        params: dict[str, Any] = spec["parameters"] if isinstance(spec.get("parameters"), dict) else {}
        raw_props: dict[Any, Any] = params["properties"] if isinstance(params.get("properties"), dict) else {}
        props = {str(k): (v if isinstance(v, dict) else {}) for k, v in raw_props.items()}
        required = (
            [str(r) for r in params.get("required") or [] if isinstance(r, str)]
            if isinstance(params.get("required"), list)
            else []
        )
        api_part, _, tool_part = name.partition("_for_")
        description = content_text(spec.get("description"))
        functions.append(
            Function(
                name=name,
                description=description,
                properties=props,
                required=required,
                api_tokens=set(word_stems(" ".join(split_name(api_part)))),
                desc_tokens=set(word_stems(description[:600])),
                tool_tokens=set(word_stems(" ".join(split_name(tool_part)))),
            )
        )
    return functions


_CUT_MARK = re.compile(r"\.\.\.\s*\(truncated\)\s*$")
_CLOSERS = {"{": "}", "[": "]"}


def complete_prefix(text: str, attempts: int = 64) -> Any:
    """The longest JSON value a cut-off JSON text still holds, or None.

    An observation cut at a character cap ("...(truncated)") is no longer JSON, yet its first
    items are whole: the text is cut back to its last comma between items and the open objects
    and lists are closed, so ids and names that arrived can still be read."""
    body = _CUT_MARK.sub("", text)
    stack: list[str] = []
    cuts: list[tuple[int, str]] = []  # (position of a comma between items, the closers it needs)
    in_string = escaped = False
    for at, char in enumerate(body):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in _CLOSERS:
            stack.append(_CLOSERS[char])
        elif char in "]}":
            if not stack:
                return None
            stack.pop()
        elif char == "," and stack:
            cuts.append((at, "".join(reversed(stack))))
    for at, closers in reversed(cuts[-attempts:]):
        try:
            return json.loads(body[:at] + closers)
        except ValueError:
            continue
    return None


def parse_observation(content: Any) -> tuple[bool, str, Any]:
    """(ok, error text, response) of a tool message."""
    text = content_text(content)
    try:
        data = json.loads(text)
    except (ValueError, TypeError):
        repaired = complete_prefix(text) if _CUT_MARK.search(text) else None
        if isinstance(repaired, dict) and "response" in repaired and not repaired.get("error"):
            return True, "", repaired["response"]
        bad = bool(re.match(r"\s*(error|http\s*[45]\d\d|[45]\d\d\b)", text, re.IGNORECASE))
        return (not bad and bool(text.strip())), (text[:300] if bad else ""), text
    if isinstance(data, dict) and ("error" in data or "response" in data):
        error = data.get("error")
        response = data.get("response")
        if isinstance(response, str):
            try:
                response = json.loads(response)
            except ValueError:
                pass
        if error:
            return False, error if isinstance(error, str) else json.dumps(error, ensure_ascii=False), response
        if isinstance(response, dict) and (
            response.get("error") or (isinstance(response.get("status"), int) and response["status"] >= 400)
        ):
            detail = response.get("message") or response.get("error")
            return False, f"{response.get('status', '')} {detail}".strip(), response
        if isinstance(response, str) and _ERR_WORDS.search(response[:120]) and len(response) < 300:
            return False, response, response
        return True, "", response
    return True, "", data


def instruction_text(content: Any) -> str:
    """The task a user message states, without the prompt's boilerplate (ToolBench's ``Begin!``).

    Argument values are read from this text only: a word of the prompt template is no value the
    user gave."""
    return _PROMPT_TAIL.sub("", content_text(content)).strip()


def parse_history(messages: list[dict[str, Any]]) -> tuple[str, list[Call], str]:
    """(query, calls in order, diversity text after the last observation)."""
    query = ""
    calls: list[Call] = []
    by_id: dict[str, Call] = {}
    later_user: list[str] = []
    seen_query = False
    for message in messages:
        if not isinstance(message, dict):
            continue
        role = message.get("role")
        if role == "user":
            if not seen_query:
                query, seen_query = instruction_text(message.get("content")), True
            else:
                later_user.append(content_text(message.get("content")))
        elif role == "assistant":
            later_user = []
            for k, tc in enumerate(message.get("tool_calls") or []):
                if not isinstance(tc, dict):
                    continue
                fn: dict[str, Any] = tc["function"] if isinstance(tc.get("function"), dict) else tc
                raw = fn.get("arguments", "{}")
                if isinstance(raw, dict):
                    args, raw = raw, json.dumps(raw)
                else:
                    try:
                        args = json.loads(raw or "{}")
                    except (ValueError, TypeError):
                        args = {}
                    if not isinstance(args, dict):
                        args = {}
                call = Call(
                    id=str(tc.get("id") or f"anon{len(calls)}_{k}"),
                    name=str(fn.get("name", "")),
                    arguments=args,
                    raw_arguments=str(raw),
                )
                calls.append(call)
                by_id[call.id] = call
        elif role in ("tool", "function"):
            later_user = []
            answered = by_id.get(str(message.get("tool_call_id", "")))
            if answered is None:  # pair by order / by name
                pending = [
                    c for c in calls if c.ok is None and (role != "function" or c.name == message.get("name"))
                ]
                answered = pending[0] if pending else None
            if answered is not None:
                answered.ok, answered.error, answered.response = parse_observation(message.get("content"))
                answered.cut = bool(_CUT_MARK.search(content_text(message.get("content"))))
    return query, calls, "\n".join(later_user)
