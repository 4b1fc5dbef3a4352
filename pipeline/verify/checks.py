"""The first two checks of the funnel: format and execution (APIGen's stages 1 and 2).

Both read a :class:`~pipeline.records.TrajectoryRecord` (a line of ``trajectories/*.jsonl``; a
dict of one is read as one): its chosen path as OpenAI chat ``messages``, the ``tools`` the
policy saw, and the ``tree`` whose nodes hold each call's observation.

Format: every call on the path names a function the policy was offered, its arguments are a JSON
object that validates against that function's ``parameters`` schema (jsonschema), every call is
answered by a tool message, and the path ends in ``Finish`` with ``give_answer`` and a non-empty
answer.

Execution: every call on the path returned without an error.

A failed call (arguments the schema refuses, or an error observation) is allowed in both checks
when the path *corrects* it: a later call of the same function on the path validates and
succeeds. Such a path is trial and error that teaches recovery (STE, ToolMaster); it is kept and
its corrected errors are counted. An error nothing corrects rejects the sample.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from pipeline.io import dumps, loads
from pipeline.records import TrajectoryRecord
from pipeline.search.functions import FINISH_NAME
from pipeline.verify.grounding import GroundingCall, check_grounding
from pipeline.verify.verdict import CheckResult, GroundingResult

GIVE_ANSWER = "give_answer"
# Keys our function schemas carry for the model that are not JSON Schema (ToolBench's legacy).
_NOT_SCHEMA_KEYS = ("optional",)


@dataclass
class PathCall:
    """One call on the chosen path, as the checks need it."""

    index: int  # 1-based position among the path's calls
    call_id: str
    name: str
    raw_arguments: str
    arguments: dict[str, Any] | None
    answered: bool = False  # a tool message with this call id follows
    observation: dict[str, Any] | None = None
    api: tuple[str, str] | None = None  # (tool id, API id) the call reached, from its tree node
    schema_errors: list[str] = field(default_factory=list)

    @property
    def is_finish(self) -> bool:
        return self.name == FINISH_NAME

    @property
    def error(self) -> str | None:
        """The observation's error text, or None when the call returned without one."""
        if self.observation is None:
            return "no observation"
        error = self.observation.get("error")
        return str(error) if error else None


def path_calls(record: TrajectoryRecord | Mapping[str, Any]) -> list[PathCall]:
    """The calls of the record's chosen path, in order, with their observations from the tree."""
    record = TrajectoryRecord.of(record)
    path_nodes = {node.tool_call_id: node for node in record.path_nodes() if node.tool_call_id}
    calls: list[PathCall] = []
    by_id: dict[str, PathCall] = {}
    for message in record.chat():
        if message.role == "assistant":
            for tool_call in message.tool_calls:
                raw = tool_call.function.arguments
                raw_text = raw if isinstance(raw, str) else dumps(raw).decode()
                node = path_nodes.get(tool_call.id or "")
                call = PathCall(
                    index=len(calls) + 1,
                    call_id=tool_call.id or "",
                    name=tool_call.function.name,
                    raw_arguments=raw_text,
                    arguments=_json_object(raw_text),
                    observation=node.observation if node else None,
                    api=(node.tool_id, node.api_id) if node and node.tool_id and node.api_id else None,
                )
                calls.append(call)
                by_id[call.call_id] = call
        elif message.role == "tool" and message.tool_call_id in by_id:
            by_id[message.tool_call_id].answered = True
    return calls


def _json_object(text: str) -> dict[str, Any] | None:
    try:
        value = loads(text)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


class SchemaBook:
    """jsonschema validators for a record's tools, made once per distinct schema."""

    def __init__(self) -> None:
        self._validators: dict[bytes, Draft202012Validator | str] = {}

    def errors(self, schema: Mapping[str, Any], arguments: Mapping[str, Any]) -> list[str]:
        key = dumps(schema, sort_keys=True)
        validator = self._validators.get(key)
        if validator is None:
            validator = self._validators[key] = _validator(schema)
        if isinstance(validator, str):  # the schema itself is broken: say so instead of guessing
            return [validator]
        found = sorted(validator.iter_errors(arguments), key=lambda e: list(e.absolute_path))
        return [_describe(error) for error in found[:5]]


def _validator(schema: Mapping[str, Any]) -> Draft202012Validator | str:
    cleaned = {k: v for k, v in schema.items() if k not in _NOT_SCHEMA_KEYS}
    try:
        Draft202012Validator.check_schema(cleaned)
    except SchemaError as error:
        return f"the function's parameter schema is invalid: {error.message}"
    return Draft202012Validator(cleaned)


def _describe(error: Any) -> str:
    where = ".".join(str(part) for part in error.absolute_path)
    return f"{where}: {error.message}" if where else error.message


def tool_schemas(record: TrajectoryRecord | Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Function name → its ``parameters`` schema, for the tools the policy saw."""
    schemas: dict[str, dict[str, Any]] = {}
    for tool in TrajectoryRecord.of(record).tools:
        # OpenAI's {"type": "function", "function": {...}} wrapper, or the bare function
        function = tool.get("function", tool) if isinstance(tool, dict) else {}
        name = function.get("name")
        if isinstance(name, str):
            parameters = function.get("parameters")
            schemas[name] = parameters if isinstance(parameters, dict) else {"type": "object"}
    return schemas


def check_format(record: TrajectoryRecord | Mapping[str, Any], calls: list[PathCall],
                 book: SchemaBook | None = None) -> CheckResult:
    """Stage 1: names exist, arguments validate, calls are answered, the path ends in an answer."""
    record = TrajectoryRecord.of(record)
    book = book or SchemaBook()
    schemas = tool_schemas(record)
    reasons: list[str] = []
    if not record.answered:
        reasons.append("the search gave up: the path does not end in give_answer")
    for call in calls:
        if call.name not in schemas:
            reasons.append(f"call {call.index}: function {call.name!r} was not offered")
            continue
        if call.arguments is None:
            reasons.append(f"call {call.index} ({call.name}): arguments are not a JSON object: {call.raw_arguments[:80]!r}")
            continue
        call.schema_errors = book.errors(schemas[call.name], call.arguments)
        if not call.is_finish and not call.answered:
            reasons.append(f"call {call.index} ({call.name}): no tool message answers it")
    last = calls[-1] if calls else None
    if not record.answered:
        pass  # said above; a give-up path's last Finish is not an answer to check
    elif last is None or not last.is_finish:
        reasons.append("the path does not end with a Finish call")
    elif last.arguments is not None:
        if last.arguments.get("return_type") != GIVE_ANSWER:
            reasons.append(f"the last Finish has return_type {last.arguments.get('return_type')!r}, not give_answer")
        answer = last.arguments.get("final_answer")
        if not isinstance(answer, str) or not answer.strip():
            reasons.append("the final answer is empty")
    for finish in (c for c in calls[:-1] if c.is_finish):
        reasons.append(f"call {finish.index}: Finish before the end of the path")
    corrected: list[str] = []
    for call in calls:
        if not call.schema_errors:
            continue
        what = f"call {call.index} ({call.name}): arguments do not fit the schema: {'; '.join(call.schema_errors)}"
        if call.is_finish or not _corrected_later(call, calls):
            reasons.append(what)
        else:
            corrected.append(what)
    return CheckResult(passed=not reasons, reasons=reasons, corrected=corrected)


def check_execution(calls: list[PathCall]) -> CheckResult:
    """Stage 2: every API call returned without an error, or a later call put it right."""
    reasons: list[str] = []
    corrected: list[str] = []
    for call in calls:
        if call.is_finish or call.error is None or call.schema_errors:
            continue  # schema failures were judged (and allowed only if corrected) by the format check
        what = f"call {call.index} ({call.name}) failed: {call.error[:200]}"
        (corrected if _corrected_later(call, calls) else reasons).append(what)
    return CheckResult(passed=not reasons, reasons=reasons, corrected=corrected)


def check_path_grounding(record: TrajectoryRecord | Mapping[str, Any], calls: list[PathCall]) -> GroundingResult:
    """The grounding check (:mod:`pipeline.verify.grounding`) on the chosen path: each call's
    arguments against the instruction, the results of the calls before it and its schema."""
    record = TrajectoryRecord.of(record)
    path = [GroundingCall(name=call.name, arguments=call.arguments or {}, is_finish=call.is_finish,
                          observation=_returned(call.observation))
            for call in calls]
    return check_grounding(record.query, path, tool_schemas(record))


def _returned(observation: dict[str, Any] | None) -> Any:
    """What a call showed the model: its response and error text (not the status, mode or timing)."""
    if observation is None:
        return None
    return [observation.get("response"), observation.get("error")]


def _corrected_later(failed: PathCall, calls: list[PathCall]) -> bool:
    """A later call of the same function validated and returned without an error."""
    return any(
        later.name == failed.name and later.arguments is not None and not later.schema_errors
        and later.error is None
        for later in calls[failed.index:]
    )
