"""Check predicted tool calls against expected ones, the way BFCL's AST checker does.

A call is ``{"name": str, "arguments": dict}`` (or a :class:`Call`). A predicted call passes when
its name is the expected one, every required parameter is there, nothing outside the schema's
properties is given, every value fits the schema's type, and every value matches the expected
one.

Expected values. An expected argument is either a concrete value or an :class:`Allowed` set of
acceptable values. ``Allowed(values=[...], omittable=True)`` also accepts the parameter being left
out; this is what BFCL's ground truth writes as ``""`` in a parameter's list of possible answers,
and :func:`expected_from_bfcl` turns that convention into :class:`Allowed`. ``Allowed`` (and
concrete dicts and lists) may nest: a dict value's keys and a list's items may themselves be
``Allowed``. Only :class:`Allowed` *instances* are read as sets of values; a plain dict such as
``{"values": [...]}`` is a concrete dict value.

Value comparison. Strings are compared after lowercasing and removing spaces and ``,./-_*^``;
numbers by value (``1 == 1.0``) but a bool is never a number; lists element by element, dicts
key by key, both with the same rules.

Optional parameters. The expected call need not mention every optional parameter. Leaving an
optional parameter out is read as "the schema default"; so

* a prediction that omits an optional parameter the expected call gives passes when the expected
  value (one of its allowed values) equals the schema default, or the :class:`Allowed` is
  omittable;
* a prediction that gives an optional parameter the expected call does not mention passes only
  when the value equals the schema default (a schema without a default makes it a
  ``value_error``). BFCL's ground truth lists every parameter the model may give, so there an
  unmentioned parameter is always wrong; our ground truth is written from executed calls that
  leave defaults out, and giving the default explicitly means the same call.

Parallel calls are matched order-free (a maximum bipartite matching over the pairs that pass)
unless ``ordered=True``; different counts are one ``wrong_count`` error.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Literal

import networkx as nx
from pydantic import BaseModel, ConfigDict, Field

from pipeline.schema_values import JSON_TYPES, has_type, json_type

ErrorLabel = Literal[
    "wrong_func_name", "missing_required", "unexpected_param", "type_error", "value_error", "wrong_count"
]

# BFCL's own schemas use Python-ish type names next to the JSON Schema ones.
_TYPE_ALIASES = {"float": "number", "double": "number", "int": "integer", "dict": "object",
                 "tuple": "array", "list": "array", "str": "string", "bool": "boolean"}
_STRING_NOISE = re.compile(r"[ ,./\-_*^]")


class Call(BaseModel):
    """One tool call: the function's name and its arguments."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)


class Allowed(BaseModel):
    """A set of acceptable values for one expected argument.

    ``omittable`` means the prediction may also leave the parameter (or dict key) out.
    """

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    values: list[Any] = Field(default_factory=list)
    omittable: bool = False


class MatchError(BaseModel):
    """Why a predicted call (or list of calls) does not match."""

    label: ErrorLabel
    call_index: int | None = None
    param: str | None = None
    detail: str


class MatchResult(BaseModel):
    """The outcome of a match: passed, or the errors found."""

    passed: bool
    errors: list[MatchError] = Field(default_factory=list)


def expected_from_bfcl(ground_truth: Mapping[str, Mapping[str, list[Any]]]) -> Call:
    """Turn one BFCL ground-truth entry ``{func: {param: [possible values]}}`` into a :class:`Call`.

    ``""`` among the possible values means the parameter may be omitted; it is dropped from the
    values and sets ``omittable``. Dict values are converted recursively, since BFCL nests the
    same per-key lists inside them.
    """
    if len(ground_truth) != 1:
        raise ValueError(f"a BFCL ground-truth call has exactly one function, got {list(ground_truth)}")
    (name, params), = ground_truth.items()
    return Call(name=name, arguments={param: _allowed_from_bfcl(values) for param, values in params.items()})


def _allowed_from_bfcl(values: list[Any]) -> Allowed:
    omittable = any(value == "" for value in values)
    kept = [_bfcl_value(value) for value in values if value != ""]
    return Allowed(values=kept, omittable=omittable)


def _bfcl_value(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _allowed_from_bfcl(inner) if isinstance(inner, list) else inner
                for key, inner in value.items()}
    return value


def function_dicts(functions: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Bare function dicts ``{name, description, parameters}`` from OpenAI tools or bare functions."""
    result = []
    for tool in functions:
        function = tool["function"] if isinstance(tool.get("function"), Mapping) else tool
        if not isinstance(function, Mapping) or "name" not in function:
            raise ValueError(f"not a function or OpenAI tool: {dict(tool)!r}")
        result.append(dict(function))
    return result


def parameter_schemas(
    functions: Mapping[str, Mapping[str, Any]] | Iterable[Mapping[str, Any]],
) -> dict[str, dict[str, Any]]:
    """Map function name → its ``parameters`` schema, from a mapping or a list of tools."""
    if isinstance(functions, Mapping):
        return {name: dict(schema) for name, schema in functions.items()}
    return {function["name"]: dict(function.get("parameters") or {"type": "object", "properties": {}})
            for function in function_dicts(functions)}


def match_call(
    predicted: Call | Mapping[str, Any],
    expected: Call | Mapping[str, Any],
    parameters_schema: Mapping[str, Any],
) -> MatchResult:
    """Check one predicted call against the expected call and the function's parameter schema."""
    return _result(_call_errors(_as_call(predicted), _as_call(expected), parameters_schema, None))


def match_calls(
    predicted: Sequence[Call | Mapping[str, Any]],
    expected: Sequence[Call | Mapping[str, Any]],
    functions: Mapping[str, Mapping[str, Any]] | Iterable[Mapping[str, Any]],
    *,
    ordered: bool = False,
) -> MatchResult:
    """Check a list of predicted calls against the expected calls.

    ``functions`` maps each function name to its ``parameters`` schema, or is a list of OpenAI
    tools / bare function dicts. Without ``ordered`` the calls may come in any order: the
    predicted calls must pair one-to-one with the expected ones. On failure the errors describe
    the unpaired calls, each set against its closest counterpart.
    """
    schemas = parameter_schemas(functions)
    predicted_calls = [_as_call(call) for call in predicted]
    expected_calls = [_as_call(call) for call in expected]
    if len(predicted_calls) != len(expected_calls):
        return _result([MatchError(
            label="wrong_count",
            detail=f"predicted {len(predicted_calls)} call(s) but {len(expected_calls)} were expected",
        )])
    missing = [call.name for call in expected_calls if call.name not in schemas]
    if missing:
        # The ground truth names a function nobody described: a bug in the data, not the model.
        raise ValueError(f"no parameter schema for expected function(s) {missing}")

    def errors_for(p: int, e: int) -> list[MatchError]:
        expected_call = expected_calls[e]
        return _call_errors(predicted_calls[p], expected_call, schemas[expected_call.name], p)

    if ordered:
        return _result([error for index in range(len(expected_calls)) for error in errors_for(index, index)])
    return _result(_unordered_errors(len(predicted_calls), errors_for))


def _unordered_errors(count: int, errors_for: Callable[[int, int], list[MatchError]]) -> list[MatchError]:
    pair_errors = {(p, e): errors_for(p, e) for p in range(count) for e in range(count)}
    graph: nx.Graph[tuple[str, int]] = nx.Graph()
    predicted_nodes = [("p", p) for p in range(count)]
    graph.add_nodes_from(predicted_nodes)
    graph.add_nodes_from(("e", e) for e in range(count))
    graph.add_edges_from((("p", p), ("e", e)) for (p, e), errors in pair_errors.items() if not errors)
    matching = nx.bipartite.hopcroft_karp_matching(graph, top_nodes=predicted_nodes)
    free_predicted = [p for p in range(count) if ("p", p) not in matching]
    free_expected = [e for e in range(count) if ("e", e) not in matching]
    # Only for the report: pair each unmatched expected call with the unmatched prediction that
    # is wrong in the fewest ways, preferring one with the right name.
    errors: list[MatchError] = []
    for e in free_expected:
        p = min(free_predicted, key=lambda p: (_has_wrong_name(pair_errors[p, e]), len(pair_errors[p, e]), p))
        free_predicted.remove(p)
        errors.extend(pair_errors[p, e])
    return errors


def _has_wrong_name(errors: list[MatchError]) -> bool:
    return any(error.label == "wrong_func_name" for error in errors)


def _as_call(call: Call | Mapping[str, Any]) -> Call:
    if isinstance(call, Call):
        return call
    return Call(name=call["name"], arguments=dict(call.get("arguments") or {}))


def _result(errors: list[MatchError]) -> MatchResult:
    return MatchResult(passed=not errors, errors=errors)


def _call_errors(
    predicted: Call, expected: Call, schema: Mapping[str, Any], index: int | None,
) -> list[MatchError]:
    if predicted.name != expected.name:
        return [MatchError(label="wrong_func_name", call_index=index,
                           detail=f"called {predicted.name!r} but {expected.name!r} was expected")]
    errors = _required_errors(predicted.arguments, schema, index, prefix="")
    badly_typed = set()
    for param, value in predicted.arguments.items():
        param_errors = _key_errors(param, value, schema, index, prefix="", closed=True)
        if param_errors:
            badly_typed.add(param)  # a value check would only repeat the type error
            errors.extend(param_errors)
    properties = schema.get("properties") or {}
    for param in sorted(set(predicted.arguments) | set(expected.arguments)):
        if param in badly_typed or param not in properties:
            continue
        error = _param_value_error(param, predicted.arguments, expected.arguments, schema)
        if error is not None:
            errors.append(MatchError(label="value_error", call_index=index, param=param, detail=error))
    return errors


_MISSING = object()


def _param_value_error(
    param: str, predicted: Mapping[str, Any], expected: Mapping[str, Any], schema: Mapping[str, Any],
) -> str | None:
    """A sentence saying why ``param``'s predicted value is wrong, or None when it is right."""
    prop = (schema.get("properties") or {}).get(param) or {}
    default = prop.get("default", _MISSING)
    given = predicted.get(param, _MISSING)
    wanted = expected.get(param, _MISSING)
    if wanted is _MISSING:
        if given is _MISSING:
            return None
        if default is not _MISSING and values_match(given, default):
            return None
        suffix = f" (default {default!r})" if default is not _MISSING else " and the schema has no default"
        return f"{param}={given!r} was given but the expected call leaves it unset{suffix}"
    if given is _MISSING:
        if param in (schema.get("required") or []):
            return None  # reported as missing_required
        if isinstance(wanted, Allowed) and wanted.omittable:
            return None
        if default is not _MISSING and values_match(default, wanted):
            return None
        return f"{param} was left out but {_describe(wanted)} was expected"
    if values_match(given, wanted):
        return None
    return f"{param}={given!r} does not match the expected {_describe(wanted)}"


def _describe(wanted: Any) -> str:
    if isinstance(wanted, Allowed):
        return "one of " + ", ".join(repr(value) for value in wanted.values)
    return repr(wanted)


def _object_errors(
    arguments: Mapping[str, Any], schema: Mapping[str, Any], index: int | None, prefix: str,
) -> list[MatchError]:
    """Required, unexpected and type errors of a nested object's keys against its schema."""
    # A nested object says nothing about unknown keys unless it lists its properties and closes
    # itself with additionalProperties: false; the top level always does (BFCL's unexpected_param).
    closed = bool(schema.get("properties")) and schema.get("additionalProperties", True) is False
    errors = _required_errors(arguments, schema, index, prefix)
    for key, value in arguments.items():
        errors.extend(_key_errors(key, value, schema, index, prefix, closed=closed))
    return errors


def _required_errors(
    arguments: Mapping[str, Any], schema: Mapping[str, Any], index: int | None, prefix: str,
) -> list[MatchError]:
    return [MatchError(label="missing_required", call_index=index, param=prefix + param,
                       detail=f"required parameter {prefix + param!r} is missing")
            for param in schema.get("required") or [] if param not in arguments]


def _key_errors(
    key: str, value: Any, schema: Mapping[str, Any], index: int | None, prefix: str, *, closed: bool,
) -> list[MatchError]:
    path = prefix + key
    properties = schema.get("properties") or {}
    if key in properties:
        return _type_errors(value, properties[key], index, path)
    if closed:
        return [MatchError(label="unexpected_param", call_index=index, param=path,
                           detail=f"{path}={value!r} is not a parameter of the function")]
    return []


def _type_errors(value: Any, schema: Mapping[str, Any], index: int | None, path: str) -> list[MatchError]:
    branches = schema.get("anyOf") or schema.get("oneOf")
    if branches:
        if any(not _type_errors(value, branch, index, path) for branch in branches):
            return []
        return [MatchError(label="type_error", call_index=index, param=path,
                           detail=f"{path}={value!r} fits none of the schema's alternatives")]
    declared = schema.get("type")
    if declared is None or declared == "any":
        return []
    names = declared if isinstance(declared, list) else [declared]
    types = [_TYPE_ALIASES.get(str(name), str(name)) for name in names]
    fitting = [name for name in types if _fits(value, name)]
    if not fitting:
        wanted = " or ".join(types)
        return [MatchError(label="type_error", call_index=index, param=path,
                           detail=f"{path}={value!r} has type {_type_name(value)}, expected {wanted}")]
    if "array" in fitting and isinstance(schema.get("items"), Mapping):
        return [error for position, item in enumerate(value)
                for error in _type_errors(item, schema["items"], index, f"{path}[{position}]")]
    if "object" in fitting:
        return _object_errors(value, schema, index, prefix=path + ".")
    return []


def _fits(value: Any, name: str) -> bool:
    # Python's types, as BFCL's checker reads them: 2.0 is not an integer; a type we do not
    # know constrains nothing.
    return name not in JSON_TYPES or has_type(value, name, exact_integers=True)


def _type_name(value: Any) -> str:
    kind = json_type(value)
    return kind if kind != "unknown" else type(value).__name__


def normalise_string(text: str) -> str:
    """BFCL's string normal form: lowercase, without spaces and ``,./-_*^``."""
    return _STRING_NOISE.sub("", text.lower())


def values_match(given: Any, wanted: Any) -> bool:
    """Whether a predicted value matches an expected value (concrete or :class:`Allowed`)."""
    if isinstance(wanted, Allowed):
        return any(values_match(given, option) for option in wanted.values)
    if isinstance(wanted, bool) or isinstance(given, bool):
        return isinstance(wanted, bool) and isinstance(given, bool) and given == wanted
    if isinstance(wanted, (int, float)):
        return isinstance(given, (int, float)) and given == wanted
    if isinstance(wanted, str):
        return isinstance(given, str) and normalise_string(given) == normalise_string(wanted)
    if isinstance(wanted, list):
        return (isinstance(given, list) and len(given) == len(wanted)
                and all(values_match(g, w) for g, w in zip(given, wanted, strict=True)))
    if isinstance(wanted, Mapping):
        if not isinstance(given, Mapping) or set(given) - set(wanted):
            return False
        return all(values_match(given[key], option) if key in given
                   else isinstance(option, Allowed) and option.omittable
                   for key, option in wanted.items())
    return bool(given == wanted)
