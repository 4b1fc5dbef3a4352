"""Bounded conversion of spec schemas into self-contained JSON Schema, and values from them.

Specs reach their schemas through ``$ref`` chains, cycles, ``allOf`` / ``oneOf`` / ``anyOf``,
OpenAPI 3.0's ``nullable`` and Swagger's ``type: file``. The catalog stores each API's schemas
inlined and valid as JSON Schema (draft 2020-12), so later stages can validate arguments and
simulate responses without the original document. Inlining can blow up (a YAML alias bomb, a
ref DAG that fans out), so every expansion spends from a per-API node budget and stops at a
depth limit; what is cut is marked ``x-truncated``.
"""

from __future__ import annotations

import datetime as _dt
import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from pipeline.specs.refs import Doc, RefError, RefResolver

_COPIED_KEYWORDS = (
    "format",
    "const",
    "minimum",
    "maximum",
    "multipleOf",
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minProperties",
    "maxProperties",
    "readOnly",
    "writeOnly",
)
_VALUE_KEYWORDS = ("default", "example", "enum")
_JSON_TYPES = {"string", "integer", "number", "boolean", "array", "object", "null"}
_MAX_ALTERNATIVES = 8
_MAX_ENUM = 200

T = TypeVar("T")
D = TypeVar("D")
_TEXT_MAX_DEPTH = 8
_TEXT_MAX_ITEMS = 1000


@dataclass
class Budget:
    """Schema nodes an API may still spend; shared by all of one API's schemas."""

    remaining: int
    truncated: bool = False

    def spend(self) -> bool:
        if self.remaining <= 0:
            self.truncated = True
            return False
        self.remaining -= 1
        return True


class SchemaExpander:
    """Inlines the schemas of one document.

    Specs reuse a few component schemas across hundreds of operations, so the expansion of a
    ``$ref`` target is memoised per (target, depth) and shared between APIs. A memoised
    schema is charged to each API's budget as if it had been expanded again, so the limits
    mean the same with or without the memo. Expansions whose shape depends on where they were
    reached from (a recursion cut pointing outside them, or a budget that ran out) are not
    memoised. Shared schemas are never mutated: :meth:`expand` hands out a shallow copy.
    """

    def __init__(
        self,
        resolver: RefResolver,
        *,
        max_depth: int = 8,
        max_description_chars: int = 2000,
        warnings: list[str] | None = None,
    ) -> None:
        self._resolver = resolver
        self._max_depth = max_depth
        self._max_description = max_description_chars
        self.warnings = warnings if warnings is not None else []
        self._memo: dict[tuple[int, int], tuple[dict[str, Any], int]] = {}
        self._stack: dict[int, int] = {}  # id of a node being expanded -> its stack position
        self._lowest_cut = _NO_CUT  # lowest stack position a recursion cut has pointed at

    def expand(self, node: Any, doc: Doc, budget: Budget) -> dict[str, Any]:
        """Inline ``node`` into a self-contained JSON Schema within ``budget``."""
        return dict(self._expand(node, doc, 0, budget))

    def _cut(self, node_id: int) -> None:
        self._lowest_cut = min(self._lowest_cut, self._stack[node_id])

    def _expand(self, node: Any, doc: Doc, depth: int, budget: Budget) -> dict[str, Any]:
        if not budget.spend():
            return {"x-truncated": True}
        if node is False:
            return {"not": {}}
        if not isinstance(node, dict):
            return {}
        if "$ref" in node:
            return self._expand_ref(node, doc, depth, budget)
        if id(node) in self._stack:  # a YAML alias that contains itself
            self._cut(id(node))
            return {}
        self._stack[id(node)] = len(self._stack)
        try:
            return self._expand_object(node, doc, depth, budget)
        finally:
            del self._stack[id(node)]

    def _expand_ref(self, node: dict[str, Any], doc: Doc, depth: int, budget: Budget) -> dict[str, Any]:
        try:
            target, target_doc, name = self._resolver.deref(node, doc)
        except RefError as error:
            self.warnings.append(str(error))
            return {}
        if id(target) in self._stack:
            self._cut(id(target))
            recursive: dict[str, Any] = {"description": f"(recursive: {name})"}
            if isinstance(target, dict) and _single_type(target.get("type")):
                recursive["type"] = target["type"]
            return recursive
        key = (id(target), depth)
        memo = self._memo.get(key)
        if memo is not None and budget.remaining >= memo[1]:
            budget.remaining -= memo[1]
            return memo[0]
        position, outer_cut = len(self._stack), self._lowest_cut
        remaining, was_truncated = budget.remaining, budget.truncated
        self._lowest_cut = _NO_CUT
        schema = self._expand(target, target_doc, depth, budget)
        depends_on_outside = self._lowest_cut < position
        self._lowest_cut = min(outer_cut, self._lowest_cut)
        if not depends_on_outside and not (budget.truncated and not was_truncated):
            self._memo[key] = (schema, remaining - budget.remaining)
        return schema

    def _expand_object(self, node: dict[str, Any], doc: Doc, depth: int, budget: Budget) -> dict[str, Any]:
        out: dict[str, Any] = {}
        schema_type = _normalise_type(node)
        if schema_type is not None:
            out["type"] = schema_type
        description = text_of(node.get("description") or node.get("title"), self._max_description)
        if description:
            out["description"] = description
        if depth >= self._max_depth:
            out["x-truncated"] = True
            return out
        for keyword in _COPIED_KEYWORDS:
            if keyword in node and _is_scalar(node[keyword]):
                out[keyword] = _scalar(node[keyword])
        for keyword in _VALUE_KEYWORDS:
            if keyword in node:
                value = bounded_copy(node[keyword])
                if keyword == "enum":
                    if not isinstance(value, list) or not value:
                        continue
                    value = value[:_MAX_ENUM]
                out[keyword] = value
        _convert_exclusive_bounds(node, out)
        if node.get("type") == "file":
            out["format"] = "binary"

        child = depth + 1
        properties = node.get("properties")
        if isinstance(properties, dict):
            out["properties"] = {
                str(key): self._expand(value, doc, child, budget) for key, value in properties.items()
            }
        required = node.get("required")
        if isinstance(required, list):
            names = [item for item in required if isinstance(item, str)]
            if names:
                out["required"] = names
        items = node.get("items")
        if isinstance(items, dict):
            out["items"] = self._expand(items, doc, child, budget)
        elif isinstance(items, list):  # tuple form, pre-2020 drafts
            out["prefixItems"] = [self._expand(i, doc, child, budget) for i in items[:16]]
        additional = node.get("additionalProperties")
        if isinstance(additional, bool):
            out["additionalProperties"] = additional
        elif isinstance(additional, dict):
            out["additionalProperties"] = self._expand(additional, doc, child, budget)

        all_of = node.get("allOf")
        if isinstance(all_of, list):
            for part in all_of[:_MAX_ALTERNATIVES]:
                _merge_into(out, self._expand(part, doc, depth, budget))
        for keyword in ("oneOf", "anyOf"):
            alternatives = node.get(keyword)
            if isinstance(alternatives, list) and alternatives:
                # oneOf is loosened to anyOf: a value that happens to fit two alternatives of
                # a sloppy spec should not be rejected as an invalid argument.
                expanded = [self._expand(alt, doc, child, budget) for alt in alternatives[:_MAX_ALTERNATIVES]]
                out.setdefault("anyOf", []).extend(expanded)
                if "type" not in out:
                    shared = {str(alt.get("type")) for alt in expanded}
                    if len(shared) == 1 and shared <= _JSON_TYPES:
                        out["type"] = shared.pop()
        if "type" not in out and "properties" in out:
            out["type"] = "object"
        if budget.truncated:
            out["x-truncated"] = True
        return out


_NO_CUT = 1 << 30


def _normalise_type(node: dict[str, Any]) -> str | list[str] | None:
    raw = node.get("type")
    if raw == "file":
        raw = "string"
    if isinstance(raw, list):
        types = [t for t in raw if isinstance(t, str) and t in _JSON_TYPES]
        result: str | list[str] | None = types if len(types) > 1 else (types[0] if types else None)
    elif isinstance(raw, str) and raw in _JSON_TYPES:
        result = raw
    else:
        result = None
    if result is not None and (node.get("nullable") is True or node.get("x-nullable") is True):
        as_list = result if isinstance(result, list) else [result]
        if "null" not in as_list:
            result = [*as_list, "null"]
    return result


def _single_type(value: Any) -> bool:
    return isinstance(value, str) and value in _JSON_TYPES


def _convert_exclusive_bounds(node: dict[str, Any], out: dict[str, Any]) -> None:
    """Swagger / OpenAPI 3.0 write ``exclusiveMinimum: true``; JSON Schema wants the number."""
    for exclusive, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        value = node.get(exclusive)
        if value is True and bound in out:
            out[exclusive] = out.pop(bound)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            out[exclusive] = value


def _merge_into(target: dict[str, Any], part: dict[str, Any]) -> None:
    """Merge one ``allOf`` member into the schema being built."""
    for key, value in part.items():
        # new containers each time: `value` may be a memoised schema shared with other APIs
        if key == "properties":
            target["properties"] = {**target.get("properties", {}), **value}
        elif key == "required":
            merged = list(target.get("required", []))
            merged.extend(name for name in value if name not in merged)
            target["required"] = merged
        elif key == "anyOf":
            target["anyOf"] = [*target.get("anyOf", []), *value]
        else:
            target.setdefault(key, value)


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool, _dt.date))


def _scalar(value: Any) -> Any:
    if isinstance(value, _dt.date):
        return value.isoformat()
    return _json_int(value) if isinstance(value, int) else value


def _json_int(value: int) -> int | str:
    """YAML integers are unbounded but JSON writers (orjson) stop at 64 bits; keep the digits."""
    return value if -(2**63) <= value < 2**64 else str(value)


def bounded_copy(value: Any, *, max_nodes: int = 500, max_depth: int = 8) -> Any:
    """A JSON-safe copy of a value taken from a spec (an example, a default, an enum).

    Values straight from YAML can be alias bombs, self-containing, or hold dates and bytes;
    the copy is cut at ``max_depth`` and ``max_nodes`` so it is always small and serialisable.
    """
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value[:2000]
    return _copy_bounded(value, 0, max_depth, [max_nodes])


def _copy_bounded(item: Any, depth: int, max_depth: int, remaining: list[int]) -> Any:
    remaining[0] -= 1
    if remaining[0] < 0 or depth > max_depth:
        return None
    if isinstance(item, dict):
        return {str(k): _copy_bounded(v, depth + 1, max_depth, remaining) for k, v in list(item.items())[:200]}
    if isinstance(item, (list, tuple)):
        return [_copy_bounded(v, depth + 1, max_depth, remaining) for v in item[:200]]
    if isinstance(item, str):
        return item[:2000]
    if isinstance(item, bool) or item is None:
        return item
    if isinstance(item, int):
        return _json_int(item)
    if isinstance(item, float):
        return item if item == item and item not in (float("inf"), float("-inf")) else None
    if isinstance(item, (_dt.date, _dt.datetime)):
        return item.isoformat()
    if isinstance(item, bytes):
        return item.decode("utf-8", errors="replace")[:2000]
    return str(item)[:2000]


def instance_or(value: object, kind: type[T], default: D) -> T | D:
    """``value`` when it is a ``kind``, else ``default``: a document field read as the shape it must have."""
    return value if isinstance(value, kind) else default


def choice_of(value: object, choices: Iterable[T], default: D) -> T | D:
    """The one of ``choices`` (say, a ``Literal``'s values) equal to ``value``, else ``default``."""
    for choice in choices:
        if value == choice:
            return choice
    return default


def text_of(value: Any, max_chars: int = 2000) -> str:
    """Descriptions in the wild are strings, lists, numbers or dicts; make them one string.

    Lists and dicts are walked to a small depth and only until enough text is collected: a
    YAML alias bomb or a self-containing value is a description too.
    """
    if isinstance(value, str):  # nearly every call: skip the walk
        text = value.strip()
    elif value is None:
        return ""
    else:
        parts: list[str] = []
        _collect_text(value, 0, parts, [max_chars + 1, _TEXT_MAX_ITEMS])
        text = " ".join(parts)
    return text if len(text) <= max_chars else text[: max_chars - 1].rstrip() + "…"


def _collect_text(item: Any, depth: int, parts: list[str], wanted: list[int]) -> None:
    """Gather text from a description value; ``wanted`` = [characters, items] still wanted."""
    if wanted[0] <= 0 or wanted[1] <= 0 or depth > _TEXT_MAX_DEPTH:
        return
    wanted[1] -= 1
    if isinstance(item, (list, tuple, dict)):
        children = item.values() if isinstance(item, dict) else item
        for child in itertools.islice(children, 50):
            _collect_text(child, depth + 1, parts, wanted)
        return
    text = "" if item is None else (item if isinstance(item, str) else str(item)).strip()
    if text:
        parts.append(text)
        wanted[0] -= len(text) + 1


_TOOLBENCH_TYPES = {
    "string": "STRING",
    "integer": "NUMBER",
    "number": "NUMBER",
    "boolean": "BOOLEAN",
    "array": "ARRAY",
    "object": "OBJECT",
}


def toolbench_type(schema: dict[str, Any]) -> str:
    """ToolBench's type label for a JSON Schema (its code maps NUMBER→integer, else string)."""
    schema_type = schema.get("type")
    if isinstance(schema_type, list):
        schema_type = next((t for t in schema_type if t != "null"), None)
    if schema_type is None and schema.get("anyOf"):
        return toolbench_type(schema["anyOf"][0])
    if schema.get("enum") and schema_type in (None, "string"):
        return "ENUM"
    if schema_type == "string" and schema.get("format") == "date":
        return "DATE (YYYY-MM-DD)"
    return _TOOLBENCH_TYPES.get(str(schema_type), "STRING")


def json_type_for_toolbench(label: str) -> dict[str, Any]:
    """The JSON Schema for one of ToolBench's type labels (``STRING``, ``NUMBER`` ...)."""
    upper = label.strip().upper()
    if upper.startswith("NUMBER") or upper.startswith("INTEGER") or upper == "INT":
        return {"type": "number"}
    if upper.startswith("BOOL"):
        return {"type": "boolean"}
    if upper.startswith("ARRAY") or upper == "LIST":
        return {"type": "array"}
    if upper.startswith("OBJECT") or upper == "JSON":
        return {"type": "object"}
    if upper.startswith("DATE"):
        return {"type": "string", "format": "date"}
    return {"type": "string"}


_TEMPLATE_NAMES = {
    "string": "str",
    "integer": "int",
    "number": "float",
    "boolean": "bool",
    "null": "NoneType",
}


def template_from_schema(
    schema: dict[str, Any] | None,
    max_depth: int = 6,
    memo: dict[tuple[int, int], tuple[Any, Any]] | None = None,
) -> Any:
    """A ToolBench ``template_response`` type skeleton (``{"id": "int", "tags": ["str"]}``).

    Pass one ``memo`` for all the APIs of a document: their schemas share memoised parts
    (see :class:`SchemaExpander`), whose skeletons are then built once.
    """
    if not schema:
        return None
    return _template(schema, 0, max_depth, {} if memo is None else memo)


def _template(
    node: dict[str, Any], depth: int, max_depth: int, memo: dict[tuple[int, int], tuple[Any, Any]]
) -> Any:
    if depth > max_depth:
        return "..."
    key = (id(node), depth)
    if key in memo:
        return memo[key][1]
    if node.get("anyOf") and "properties" not in node:
        # oneOf [Cat, Dog] expands to a shared "type": "object" and no properties of its own
        first = node["anyOf"][0]
        rest = {k: value for k, value in node.items() if k != "anyOf"}
        # the merged dict is new on every call, so it is walked without the memo
        result = _template({**rest, **first} if isinstance(first, dict) else rest, depth, max_depth, {})
    else:
        node_type = node.get("type")
        if isinstance(node_type, list):
            node_type = next((t for t in node_type if t != "null"), "null")
        if node_type == "object" or "properties" in node:
            result = {
                name: _template(sub, depth + 1, max_depth, memo)
                for name, sub in (node.get("properties") or {}).items()
            }
        elif node_type == "array":
            items = node.get("items")
            result = [_template(items, depth + 1, max_depth, memo)] if isinstance(items, dict) else []
        else:
            result = _TEMPLATE_NAMES.get(str(node_type), "str")
    memo[key] = (node, result)  # holding the node keeps its id from being reused
    return result
