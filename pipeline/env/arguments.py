"""Checking a model's arguments against an API's parameters, the way the API's own 400 would.

The environment answers a bad call with the problems a real server would name ("missing
required argument 'city'", "argument 'days' must be integer, got 'abc'"), so a policy learns
from the observation instead of from a crash. Before judging, it forgives what every HTTP
client forgives: models often send ``"5"`` for an integer query parameter or ``48`` for a
string path segment, and on the wire those are the same bytes, so path, query, header and
cookie values are converted to the declared type first. JSON bodies are checked as sent.

Schemas come from specs collected from the internet, so they are cleaned before they are
compiled (a regex Python cannot compile, or one that can backtrack for ever, is not checked),
and arguments are capped in size before any validation runs.
"""

from __future__ import annotations

import reprlib
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from itertools import islice
from typing import Any

import orjson
from jsonschema import Draft202012Validator, ValidationError
from jsonschema.exceptions import SchemaError, best_match
from jsonschema.validators import extend

from pipeline.io import dumps, loads
from pipeline.models import Api, Param
from pipeline.safe_regex import pattern_allows, safe_pattern
from pipeline.schema_values import JSON_TYPES, coerce_text, is_number, schema_types
from pipeline.specs.schemas import json_type_for_toolbench

DEFAULT_MAX_ARGUMENT_BYTES = 256 * 1024
DEFAULT_MAX_ARGUMENT_NODES = 20_000
_MAX_ERRORS = 100
_CACHE_SIZE = 4096

_LOOSE_LOCATIONS = frozenset({"path", "query", "header", "cookie", "formData"})

_short = reprlib.Repr()
_short.maxstring = 80
_short.maxother = 80
_short.maxlist = _short.maxtuple = 8
_short.maxdict = 6
_short.maxlevel = 3
_enum_repr = reprlib.Repr()
_enum_repr.maxlist = 20
_enum_repr.maxstring = 60


# --------------------------------------------------------------------------------------------
# Schemas


def parameter_schema(api: Api) -> dict[str, Any]:
    """The JSON Schema of an API's arguments object: one property per parameter."""
    properties: dict[str, Any] = {}
    required: list[str] = []
    for param in api.parameters:
        properties[param.name] = param_schema(param)
        if param.required and param.name not in required:
            required.append(param.name)
    return {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


def param_schema(param: Param) -> dict[str, Any]:
    """A parameter's JSON Schema, cleaned so it compiles; from its ToolBench type if unusable."""
    raw = param.schema_ if isinstance(param.schema_, dict) and _constrains(param.schema_) else None
    schema = _clean(raw, 0) if raw is not None else None
    if not isinstance(schema, dict) or not _valid(schema):
        schema = json_type_for_toolbench(param.type)
    if "enum" not in schema and isinstance(param.enum, list) and param.enum:
        with_enum = {**schema, "enum": list(param.enum)}
        if _valid(with_enum):
            schema = with_enum
    return schema


def _constrains(schema: dict[str, Any]) -> bool:
    return any(not key.startswith(("x-", "description", "example", "title")) for key in schema)


def _valid(schema: dict[str, Any]) -> bool:
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError:
        return False
    except Exception:  # noqa: BLE001 - the meta-validation itself failed on a strange schema
        return False
    return True


_SUBSCHEMA_MAPS = frozenset({"properties", "$defs", "definitions", "dependentSchemas"})
_SUBSCHEMA_LISTS = frozenset({"allOf", "anyOf", "oneOf", "prefixItems"})
_SUBSCHEMAS = frozenset(
    {
        "additionalProperties",
        "not",
        "contains",
        "propertyNames",
        "if",
        "then",
        "else",
        "unevaluatedItems",
        "unevaluatedProperties",
    }
)
# References cannot be followed once a schema is cut out of its document; identifiers and
# dialect switches would change how the rest is read.
_DROPPED = frozenset(
    {"$ref", "$dynamicRef", "$recursiveRef", "$id", "$schema", "$anchor", "$dynamicAnchor", "$vocabulary"}
)
_MAX_CLEAN_DEPTH = 40


def _clean(node: Any, depth: int) -> Any:
    """A copy of ``node`` that Draft 2020-12 accepts, keeping every constraint it can."""
    if isinstance(node, bool):
        return node
    if not isinstance(node, dict) or depth > _MAX_CLEAN_DEPTH:
        return {}
    out: dict[str, Any] = {}
    child = depth + 1
    for key, value in node.items():
        if key in _DROPPED:
            continue
        if key == "type":
            cleaned_type = _clean_type(value)
            if cleaned_type is not None:
                out["type"] = cleaned_type
        elif key in _SUBSCHEMA_MAPS:
            if isinstance(value, dict):
                out[key] = {str(k): _clean(v, child) for k, v in value.items()}
        elif key == "patternProperties":
            if isinstance(value, dict):
                out[key] = {k: _clean(v, child) for k, v in value.items() if safe_pattern(k) is not None}
        elif key in _SUBSCHEMA_LISTS:
            if isinstance(value, list) and value:
                out[key] = [_clean(v, child) for v in value]
        elif key == "items":
            if isinstance(value, list):  # tuple form of earlier drafts
                out["prefixItems"] = [_clean(v, child) for v in value]
            else:
                out["items"] = _clean(value, child)
        elif key in _SUBSCHEMAS:
            out[key] = _clean(value, child)
        elif key == "pattern":
            if isinstance(value, str) and safe_pattern(value) is not None:
                out[key] = value
        elif key == "required":
            if isinstance(value, list) and all(isinstance(v, str) for v in value):
                out[key] = list(dict.fromkeys(value))
        elif key == "enum":
            if isinstance(value, list) and value:
                out[key] = value
        elif key in ("exclusiveMinimum", "exclusiveMaximum") and isinstance(value, bool):
            bound = "minimum" if key == "exclusiveMinimum" else "maximum"
            if value and is_number(node.get(bound)):
                out[key] = node[bound]
        elif key in ("minimum", "maximum") and node.get(f"exclusive{key.title()}") is True:
            continue  # moved to exclusiveMinimum / exclusiveMaximum above
        else:
            out[key] = value
    if node.get("nullable") is True or node.get("x-nullable") is True:
        kinds = out.get("type")
        if isinstance(kinds, str):
            out["type"] = [kinds, "null"]
        elif isinstance(kinds, list) and "null" not in kinds:
            out["type"] = [*kinds, "null"]
    return out


def _clean_type(value: Any) -> str | list[str] | None:
    names = value if isinstance(value, list) else [value]
    kinds = []
    for name in names:
        if isinstance(name, str):
            lowered = "string" if name.lower() == "file" else name.lower()
            if lowered in JSON_TYPES and lowered not in kinds:
                kinds.append(lowered)
    if not kinds:
        return None
    return kinds[0] if len(kinds) == 1 else kinds


# The default `pattern` keyword compiles whatever the schema says and runs it on any string;
# `uniqueItems` compares items pairwise (quadratic on large arrays of objects).
def _pattern_keyword(
    validator: Any, pattern: str, instance: Any, schema: Any
) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "string") or not isinstance(pattern, str):
        return
    if not pattern_allows(pattern, instance):
        yield ValidationError(f"does not match {pattern!r}")


def _unique_items_keyword(
    validator: Any, unique: Any, instance: Any, schema: Any
) -> Iterator[ValidationError]:
    if not unique or not validator.is_type(instance, "array"):
        return
    seen: set[bytes] = set()
    for item in instance:
        try:
            key = dumps(item, sort_keys=True)
        except TypeError:
            key = repr(item).encode()
        if key in seen:
            yield ValidationError("has non-unique elements")
            return
        seen.add(key)


_Validator = extend(  # type: ignore[no-untyped-call]  # jsonschema's extend is not annotated
    Draft202012Validator, {"pattern": _pattern_keyword, "uniqueItems": _unique_items_keyword}
)


# --------------------------------------------------------------------------------------------
# Checking


@dataclass(frozen=True)
class _ParamRule:
    param: Param
    schema: dict[str, Any]
    types: frozenset[str]
    loose: bool  # sent as text (path/query/header/cookie/form): convert before validating

    @property
    def nullable(self) -> bool:
        return "null" in self.types


@dataclass(frozen=True)
class _ApiRules:
    api: Api  # kept so the id used as cache key cannot be reused by another object
    rules: dict[str, _ParamRule]
    required: tuple[str, ...]
    validator: Any


class ArgumentValidator:
    """Checks arguments against an API's parameters; compiled validators are cached per API."""

    def __init__(
        self,
        *,
        max_argument_bytes: int = DEFAULT_MAX_ARGUMENT_BYTES,
        max_argument_nodes: int = DEFAULT_MAX_ARGUMENT_NODES,
    ) -> None:
        self.max_argument_bytes = max_argument_bytes
        self.max_argument_nodes = max_argument_nodes
        self._cache: OrderedDict[int, _ApiRules] = OrderedDict()

    def check(
        self, api: Api, arguments: Any, *, reject_unknown: bool = True
    ) -> tuple[dict[str, Any], list[str]]:
        """``(coerced arguments, problems)``; no problems means the call may be made.

        Arguments may be given as a JSON string. With ``reject_unknown=False`` arguments the
        API does not declare are kept (unchecked) instead of reported.
        """
        given, problem = self._as_object(arguments)
        if problem is not None:
            return {}, [problem]
        rules = self._rules(api)
        problems: list[str] = []
        coerced: dict[str, Any] = {}
        for name, value in given.items():
            rule = rules.rules.get(name)
            if rule is None:
                if reject_unknown:
                    problems.append(_unexpected(name, rules))
                else:
                    coerced[name] = value
                continue
            if _means_unset(value, rule):
                continue
            coerced[name] = coerce_text(value, rule.schema, rule.types) if rule.loose else value
        for name in rules.required:
            if name not in coerced:
                problems.append(f"missing required argument '{name}'")
        known = {name: value for name, value in coerced.items() if name in rules.rules}
        problems.extend(_invalid(rules, known))
        return coerced, problems

    def _rules(self, api: Api) -> _ApiRules:
        key = id(api)
        cached = self._cache.get(key)
        if cached is not None and cached.api is api:
            self._cache.move_to_end(key)
            return cached
        rules: dict[str, _ParamRule] = {}
        for param in api.parameters:
            schema = param_schema(param)
            rules.setdefault(
                param.name,
                _ParamRule(param, schema, frozenset(schema_types(schema)), param.location in _LOOSE_LOCATIONS),
            )
        object_schema = {
            "type": "object",
            "properties": {name: rule.schema for name, rule in rules.items()},
        }
        required = tuple(dict.fromkeys(p.name for p in api.parameters if p.required))
        compiled = _ApiRules(api, rules, required, _Validator(object_schema))
        self._cache[key] = compiled
        while len(self._cache) > _CACHE_SIZE:
            self._cache.popitem(last=False)
        return compiled

    def _as_object(self, arguments: Any) -> tuple[dict[str, Any], str | None]:
        if arguments is None:
            return {}, None
        if isinstance(arguments, (str, bytes)):
            text = arguments.strip()
            if not text:
                return {}, None
            if len(text) > self.max_argument_bytes:
                return {}, self._too_large(len(text))
            try:
                arguments = loads(text)
            except orjson.JSONDecodeError:
                shown = _short.repr(text)
                return {}, f"arguments must be a JSON object, got a string that is not JSON: {shown}"
            if arguments is None:
                return {}, None
        if not isinstance(arguments, Mapping):
            return {}, f"arguments must be a JSON object, got {type(arguments).__name__}"
        arguments = dict(arguments)
        try:
            size = len(dumps(arguments))
        except TypeError as error:
            reason = "nested too deeply" if "ecursion" in str(error) else f"not JSON data ({error})"
            return {}, f"arguments are {reason}"
        if size > self.max_argument_bytes:
            return {}, self._too_large(size)
        if _count_nodes(arguments, self.max_argument_nodes) > self.max_argument_nodes:
            return {}, f"arguments have too many values (the limit is {self.max_argument_nodes})"
        return arguments, None

    def _too_large(self, size: int) -> str:
        return f"arguments are too large ({size} bytes of JSON; the limit is {self.max_argument_bytes})"


def _count_nodes(value: Any, limit: int) -> int:
    count = 0
    stack = [value]
    while stack and count <= limit:
        item = stack.pop()
        count += 1
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return count


def _unexpected(name: str, rules: _ApiRules) -> str:
    accepted = ", ".join(rules.rules) or "none"
    return f"unexpected argument {_quoted(name)} (accepted: {accepted})"


def _means_unset(value: Any, rule: _ParamRule) -> bool:
    """Models fill optional parameters they do not want with null (or "" in a query)."""
    if rule.param.required:
        return False
    if value is None:
        return not rule.nullable
    return value == "" and rule.loose and "string" not in rule.types and bool(rule.types)


# --------------------------------------------------------------------------------------------
# Problems, worded like an API's 400


def _invalid(rules: _ApiRules, known: dict[str, Any]) -> list[str]:
    by_argument: dict[str, list[ValidationError]] = {}
    for error in islice(rules.validator.iter_errors(known), _MAX_ERRORS):
        if not error.absolute_path:
            continue  # the object itself: required and unknown names are reported already
        by_argument.setdefault(str(error.absolute_path[0]), []).append(error)
    problems = []
    for name in rules.rules:
        errors = by_argument.get(name)
        if errors:
            error = best_match(errors)
            if error is not None:
                problems.append(_describe(error))
    return problems


def _describe(error: ValidationError) -> str:
    where = f"argument {_quoted(_json_path(error.absolute_path))}"
    value: Any = error.instance
    expected: Any = error.validator_value
    got = _short.repr(value)
    keyword = error.validator
    if keyword == "type":
        return f"{where} must be {_type_names(expected)}, got {got}"
    if keyword == "enum":
        return f"{where} must be one of {_enum_repr.repr(expected)}, got {got}"
    if keyword == "const":
        return f"{where} must be {_short.repr(expected)}, got {got}"
    bounds = {
        "minimum": ">=",
        "maximum": "<=",
        "exclusiveMinimum": ">",
        "exclusiveMaximum": "<",
    }
    if keyword in bounds:
        return f"{where} must be {bounds[keyword]} {expected}, got {got}"
    if keyword == "multipleOf":
        return f"{where} must be a multiple of {expected}, got {got}"
    if keyword == "minLength":
        return f"{where} must be at least {expected} characters long, got {got}"
    if keyword == "maxLength":
        return f"{where} must be at most {expected} characters long, got {len(value)} characters"
    if keyword == "pattern":
        shown = expected if len(expected) <= 100 else expected[:100] + "..."
        return f"{where} must match the pattern '{shown}', got {got}"
    if keyword == "minItems":
        return f"{where} must have at least {expected} items, got {len(value)}"
    if keyword == "maxItems":
        return f"{where} must have at most {expected} items, got {len(value)}"
    if keyword == "uniqueItems":
        return f"{where} must not contain duplicate items, got {got}"
    if keyword == "required" and isinstance(value, dict):
        missing = next((name for name in expected if name not in value), "?")
        return f"{where} is missing required field {_quoted(str(missing))}"
    if keyword in ("additionalProperties", "unevaluatedProperties") and isinstance(value, dict):
        schema = error.schema if isinstance(error.schema, Mapping) else {}
        allowed = set(schema.get("properties", {}))
        extra = next((name for name in value if name not in allowed), "?")
        return f"{where} has unexpected field {_quoted(str(extra))}"
    if keyword in ("anyOf", "oneOf"):
        kinds = sorted(schema_types(error.schema))
        form = f" ({_type_names(kinds)})" if kinds else ""
        return f"{where} does not match any accepted form{form}, got {got}"
    message = error.message if len(error.message) <= 200 else error.message[:200] + "..."
    return f"{where} is invalid: {message}"


def _type_names(expected: Any) -> str:
    if isinstance(expected, list):
        return " or ".join(str(kind) for kind in expected)
    return str(expected)


def _json_path(parts: Any) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _quoted(name: str) -> str:
    return f"'{name}'" if len(name) <= 80 else f"'{name[:80]}...'"
