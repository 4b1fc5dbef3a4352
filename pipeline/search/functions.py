"""The function schemas (OpenAI tools format) and the system prompt the model sees, as ToolBench
builds them, with a reversible map from function names back to catalog APIs.

ToolBench's ``api_json_to_openai_json`` is the reference for names, descriptions and parameters;
``Finish`` and the DFSDT system prompt are ToolBench's texts word for word (typos included, as the
released ToolLLaMA data contains them). Where ToolBench can produce invalid or clashing names
(non-ASCII letters, empty names, two APIs cut to the same 64 characters) this module departs from
it, deterministically, and only in those cases.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pipeline.models import Api, Param, Tool
from pipeline.specs.ids import standardize

NAME_PATTERN = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
MAX_NAME_LENGTH = 64
DESCRIPTION_MAX_LENGTH = 256  # ToolBench's description_max_length (API and parameter texts)
TOOL_DESCRIPTION_MAX_LENGTH = 512  # ToolBench cuts tool descriptions in the system prompt here

# ToolBench's change_name list: standardized names equal to one of these get an ``is_`` prefix
# (so a parameter ``id`` is shown as ``is_id``). It is applied to API names too.
TOOLBENCH_RENAMED = frozenset({"from", "class", "return", "false", "true", "id", "and"})

# ToolBench's label mapping, used only when a parameter carries no JSON Schema of its own.
_TOOLBENCH_TYPES = {"NUMBER": "integer", "STRING": "string", "BOOLEAN": "boolean"}

FINISH_NAME = "Finish"
FINISH_DESCRIPTION = (
    "If you believe that you have obtained a result that can answer the task, please call this "
    "function to provide the final answer. Alternatively, if you recognize that you are unable to "
    "proceed with the task in the current state, call this function to restart. Remember: you must "
    "ALWAYS call this function at the end of your attempt, and the only part that will be shown to "
    "the user is the final answer, so it should contain sufficient information."
)
FINISH_FUNCTION: dict[str, Any] = {
    "name": FINISH_NAME,
    "description": FINISH_DESCRIPTION,
    "parameters": {
        "type": "object",
        "properties": {
            "return_type": {"type": "string", "enum": ["give_answer", "give_up_and_restart"]},
            "final_answer": {
                "type": "string",
                "description": "The final answer you want to give the user. You should have this "
                'field if "return_type"=="give_answer"',
            },
        },
        "required": ["return_type"],
    },
}

SYSTEM_PROMPT_HEAD = (
    "You are AutoGPT, you can use many tools(functions) to do the following task.\n"
    "First I will give you the task description, and your task start.\n"
    "At each step, you need to give your thought to analyze the status now and what to do next, "
    "with a function call to actually excute your step.\n"
    "After the call, you will get the call result, and you are now in a new state.\n"
    "Then you will analyze your status now, then decide what to do next...\n"
    "After many (Thought-call) pairs, you finally perform the task, then you can give your finial "
    "answer.\n"
    "Remember: \n"
    "1.the state change is irreversible, you can't go back to one of the former state, if you want "
    'to restart the task, say "I give up and restart".\n'
    "2.All the thought is short, at most in 5 sentence.\n"
    "3.You can do more then one trys, so if your plan is to continusly try some conditions, you can "
    "do one of the conditions per try.\n"
    "Let's Begin!\n"
    "Task description: You should use functions to help handle the real time user querys. "
    "Remember:\n"
    '1.ALWAYS call "Finish" function at the end of the task. And the final answer should contain '
    "enough information to show to the user,If you can't handle the task, or you find that "
    "function calls always fail(the function is not valid now), use function "
    "Finish->give_up_and_restart.\n"
    "2.Do not use origin tool names, use only subfunctions' names.\n"
    "You have access of the following tools:\n"
)


def _rename_keyword(name: str) -> str:
    return f"is_{name}" if name in TOOLBENCH_RENAMED else name


def standardize_tool_name(tool: Tool) -> str:
    """The tool's name as ToolBench shows it (``"Dota 2 Steam Web"`` → ``dota_2_steam_web``).

    ToolBench keeps CJK letters here; they are not allowed in function names, so they become
    ``_`` like every other non-ASCII character. A name with nothing left becomes ``tool``.
    """
    return standardize(tool.standardized_name or tool.tool_name) or "tool"


def standardize_api_name(name: str) -> str:
    """ToolBench's ``change_name(standardize(api_name))``; ``api`` when nothing is left."""
    return _rename_keyword(standardize(name)) or "api"


def standardize_parameter(name: str) -> str:
    """A parameter name as ToolBench shows it: standardized, ``is_`` before ToolBench's keywords
    (``id`` → ``is_id``, ``from`` → ``is_from``); ``param`` when nothing is left; at most 64
    characters (ToolBench does not cut these; providers reject longer property names)."""
    return (_rename_keyword(standardize(name)) or "param")[:MAX_NAME_LENGTH]


def function_name(tool: Tool, api: Api) -> str:
    """``<api>_for_<tool>``, standardized, keeping the LAST 64 characters as ToolBench does.

    Always matches ``^[a-zA-Z0-9_-]{1,64}$``; uniqueness is :class:`FunctionCatalog`'s job.
    """
    return f"{standardize_api_name(api.name)}_for_{standardize_tool_name(tool)}"[-MAX_NAME_LENGTH:]


def _with_suffix(base: str, counter: int, *, keep_tail: bool) -> str:
    suffix = f"_{counter}"
    room = MAX_NAME_LENGTH - len(suffix)
    # Function names keep their tail (the ``_for_<tool>`` part), as ToolBench's cut does.
    stem = base[-room:] if keep_tail else base[:room]
    return stem + suffix


def _unique(base: str, used: set[str], *, keep_tail: bool) -> str:
    candidate, counter = base, 2
    while candidate in used:
        candidate = _with_suffix(base, counter, keep_tail=keep_tail)
        counter += 1
    used.add(candidate)
    return candidate


def _cut(text: str, limit: int | None) -> str:
    return text if limit is None else text[:limit]


def _example_value(param: Param) -> Any:
    """The param's example, else its default (ToolBench: the default, unless ``str()`` is empty)."""
    if param.example is not None and str(param.example) != "":
        return param.example
    if param.default is not None and str(param.default) != "":
        return param.default
    return None


def _fill_array_items(schema: Any, depth: int = 0) -> None:
    """OpenAI rejects ``{"type": "array"}`` without ``items``; give such arrays ``items: {}``."""
    if depth > 32 or not isinstance(schema, dict):
        return
    types = schema.get("type")
    is_array = types == "array" or (isinstance(types, list) and "array" in types)
    if is_array and "items" not in schema:
        schema["items"] = {}
    for value in schema.values():
        if isinstance(value, dict):
            _fill_array_items(value, depth + 1)
        elif isinstance(value, list):
            for item in value:
                _fill_array_items(item, depth + 1)


def parameter_schema(param: Param, description_max_length: int | None) -> dict[str, Any]:
    """The JSON Schema shown for one parameter: the param's own schema (types kept), else
    ToolBench's label mapping; plus the cut description and ``example_value``."""
    if param.schema_:
        schema = copy.deepcopy(param.schema_)
        schema.setdefault("type", _TOOLBENCH_TYPES.get(param.type.upper(), "string"))
    else:
        schema = {"type": _TOOLBENCH_TYPES.get(param.type.upper(), "string")}
    if param.enum and "enum" not in schema:
        schema["enum"] = list(param.enum)
    schema["description"] = _cut(param.description or schema.get("description") or "", description_max_length)
    example = _example_value(param)
    if example is not None:
        schema["example_value"] = example
    _fill_array_items(schema)
    return schema


@dataclass(frozen=True)
class FunctionEntry:
    """One API as the model sees it, with the way back to the catalog."""

    name: str
    tool_id: str
    api_id: str
    schema: dict[str, Any]
    parameter_names: dict[str, str] = field(default_factory=dict)  # shown name → real name


class FunctionCatalog:
    """The functions for one instruction's ``api_list``: OpenAI tools, names unique, reversible.

    Names follow :func:`function_name`; when two APIs would share one (standardization or the
    64-character cut), the later one in ``pairs`` order gets ``_2``, ``_3`` ... appended, cutting
    more from the front so the name stays within 64 characters. Parameter names within a function
    are made unique the same way (cut from the end). ``Finish`` is reserved and always last.

    ``description_max_length`` (default 256, ToolBench's) cuts the API's own description after
    the API name in it has been replaced by the function name, as ToolBench does, and each
    parameter description; the prefix ``This is the subfunction for tool "<tool>", ...`` is not
    counted. ``None`` keeps descriptions whole.
    """

    def __init__(
        self,
        pairs: Iterable[tuple[Tool, Api]],
        *,
        description_max_length: int | None = DESCRIPTION_MAX_LENGTH,
    ) -> None:
        self.description_max_length = description_max_length
        self._entries: dict[str, FunctionEntry] = {}
        self._by_api: dict[tuple[str, str], str] = {}
        self._tools: list[Tool] = []
        used = {FINISH_NAME}
        seen_tools: set[str] = set()
        for tool, api in pairs:
            key = (tool.id or tool.tool_name, api.id or api.name)
            if key in self._by_api:
                continue  # the same API listed twice is one function
            if key[0] not in seen_tools:
                seen_tools.add(key[0])
                self._tools.append(tool)
            name = _unique(function_name(tool, api), used, keep_tail=True)
            entry = self._build(name, key, tool, api)
            self._entries[name] = entry
            self._by_api[key] = name

    def _build(self, name: str, key: tuple[str, str], tool: Tool, api: Api) -> FunctionEntry:
        tool_name = standardize_tool_name(tool)
        description = f'This is the subfunction for tool "{tool_name}", you can use this tool.'
        api_description = api.description.strip()
        if api_description:
            if api.name:
                api_description = api_description.replace(api.name, name)
            api_description = _cut(api_description, self.description_max_length)
            description += f'The description of this function is: "{api_description}"'
        properties: dict[str, Any] = {}
        required: list[str] = []
        optional: list[str] = []
        names: dict[str, str] = {}
        used: set[str] = set()
        for param, bucket in [
            *((p, required) for p in api.required_parameters),
            *((p, optional) for p in api.optional_parameters),
        ]:
            shown = _unique(standardize_parameter(param.name), used, keep_tail=False)
            names[shown] = param.name
            properties[shown] = parameter_schema(param, self.description_max_length)
            bucket.append(shown)
        schema = {
            "name": name,
            "description": description,
            "parameters": {
                "type": "object",
                "properties": properties,
                "required": required,
                "optional": optional,
            },
        }
        return FunctionEntry(name, key[0], key[1], schema, names)

    # --- what the model sees -----------------------------------------------------------------

    def functions(self) -> list[dict[str, Any]]:
        """The bare function schemas (ToolBench's ``function`` list), ``Finish`` last."""
        return [copy.deepcopy(e.schema) for e in self._entries.values()] + [copy.deepcopy(FINISH_FUNCTION)]

    def tools(self) -> list[dict[str, Any]]:
        """OpenAI tools format: ``[{"type": "function", "function": {...}}, ...]``, Finish last."""
        return [{"type": "function", "function": f} for f in self.functions()]

    def system_prompt(self) -> str:
        return system_prompt(self._tools)

    # --- the way back ---------------------------------------------------------------------------

    @property
    def names(self) -> list[str]:
        return list(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def entry(self, name: str) -> FunctionEntry | None:
        return self._entries.get(name)

    def resolve(self, name: str) -> tuple[str, str] | None:
        """``(tool id, api id)`` for a function name; ``None`` for ``Finish`` and unknown names."""
        entry = self._entries.get(name)
        return None if entry is None else (entry.tool_id, entry.api_id)

    def name_for(self, tool_id: str, api_id: str) -> str | None:
        return self._by_api.get((tool_id, api_id))

    def to_api_arguments(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        """The model's arguments under the API's real parameter names.

        Shown names map back to real names; a key that already is a real name, or that the API
        does not know, passes through unchanged (validation is the environment's job) unless a
        mapped argument already took its place. Raises ``KeyError`` for an unknown function.
        """
        entry = self._entries[name]
        result: dict[str, Any] = {}
        passthrough: list[tuple[str, Any]] = []
        for key, value in arguments.items():
            if key in entry.parameter_names:
                result[entry.parameter_names[key]] = value
            else:
                passthrough.append((key, value))
        for key, value in passthrough:
            result.setdefault(key, value)
        return result


def system_prompt(tools: Sequence[Tool]) -> str:
    """ToolBench's DFSDT system prompt with the numbered tool list ``{k}.{tool}: {desc[:512]}``."""
    lines: list[str] = []
    seen: set[str] = set()
    for tool in tools:
        key = tool.id or tool.tool_name
        if key in seen:
            continue
        seen.add(key)
        description = tool.tool_description[:TOOL_DESCRIPTION_MAX_LENGTH]
        lines.append(f"{len(lines) + 1}.{standardize_tool_name(tool)}: {description}\n")
    return SYSTEM_PROMPT_HEAD + "".join(lines)
