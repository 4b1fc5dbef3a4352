"""One call's generation: a value for a response schema (objects, arrays, numbers, strings), an
example adapted to the call, within the node budget.
"""

from __future__ import annotations

import math
import random
from typing import Any

import orjson

from pipeline.canonical import canonical_value
from pipeline.env.simulate.bounds import (
    HARD_NODES_FACTOR,
    MAX_DEPTH,
    MAX_ENUM_SCAN,
    MAX_NODES,
    MAX_PROPERTIES,
    as_int,
    json_copy,
)
from pipeline.env.simulate.consistency import make_consistent
from pipeline.env.simulate.echo import QUERY_TARGETS, Echo, Scope, is_scalar
from pipeline.env.simulate.names import name_tokens, singular_of, snake
from pipeline.env.simulate.pattern_strings import string_for_pattern
from pipeline.env.simulate.plausible import (
    Context,
    fix_length,
    generic_text,
    make_id,
    mutate_id,
    pick,
    value_for_format,
    vocabulary_value,
)
from pipeline.env.simulate.vocabulary import (
    NOUNS,
    WORDS_BY_TOKEN,
    code_like,
    entity_of,
    kind_from_example,
    number_rule,
    shape_of,
    string_kind,
)
from pipeline.schema_values import (
    MISSING,
    coerce,
    declared_types,
    fits_schema,
    has_type,
    is_multiple_of,
    is_number,
    json_type,
    number_fits,
    same_value,
    string_fits,
)


class Generation:
    """One call's generation: its random source, echo, and node budget."""

    def __init__(
        self, rng: random.Random, echo: Echo, list_length: int, max_nodes: int, max_depth: int
    ) -> None:
        self.rng = rng
        self.echo = echo
        self.list_length = list_length
        self.nodes = max_nodes
        self.hard_nodes = max_nodes * HARD_NODES_FACTOR
        self.max_depth = max_depth

    # ---- entry points

    def generate(self, schema: Any, entity: str | None = None) -> Any:
        """A value for the response ``schema``; ``entity`` is what the API returns records of
        (``"city"`` for ``search_cities``), so their ``name`` fields can be city names."""
        return self._gen(schema, "", 0, Scope(0), Context(self.rng, entity))

    def adapt_example(self, example: Any) -> Any:
        return self._adapt(example, 0, Scope(0), [MAX_NODES * 5])

    # ---- examples

    def _adapt(self, value: Any, depth: int, scope: Scope, budget: list[int]) -> Any:
        budget[0] -= 1
        if budget[0] < 0 or depth > MAX_DEPTH * 2:
            return None
        if isinstance(value, list):
            return [self._adapt(item, depth + 1, Scope(scope.hops, True, i), budget)
                    for i, item in enumerate(value)]
        if not isinstance(value, dict):
            return value
        out: dict[str, Any] = {}
        child_hops = scope.hops + 1 if scope.hops is not None and scope.hops < 1 else None
        child = Scope(child_hops, scope.in_array, scope.index)
        for key, item in value.items():
            echoed = self._echo_value(str(key), _schema_of_example(item), scope, None)
            if echoed is not MISSING:
                out[str(key)] = echoed
            else:
                out[str(key)] = self._adapt(item, depth + 1, child, budget)
        return out

    # ---- echo

    def _echo_value(self, field: str, schema: Any, scope: Scope, context: Context | None) -> Any:
        for candidate in self.echo.candidates(field, scope):
            value = coerce(candidate, schema)
            if value is not MISSING:
                return value
        query = self.echo.query
        if query and snake(field) in QUERY_TARGETS and scope.hops is not None and scope.hops <= 1:
            if scope.in_array and scope.index > 0:
                suffix = pick(self.rng, NOUNS) if context is None else self._vocab_name(context)
                query = f"{query} {suffix}"
            value = coerce(query, schema)
            if value is not MISSING:
                return value
        return MISSING

    # ---- schemas

    def _spend(self) -> bool:
        self.nodes -= 1
        self.hard_nodes -= 1
        return self.nodes >= 0

    def _gen(self, schema: Any, name: str, depth: int, scope: Scope, context: Context) -> Any:
        full = self._spend()
        if self.hard_nodes < 0 or depth > self.max_depth * 2:
            return None
        minimal = not full or depth > self.max_depth
        if schema is False:
            return None
        if not isinstance(schema, dict):
            schema = {}
        schema = self._resolve_composition(schema)
        if "const" in schema:
            return json_copy(schema["const"], [200], 0)
        enum = schema.get("enum")
        if isinstance(enum, list) and enum:
            return self._from_enum(enum, schema)
        kind = self._pick_type(schema, name)
        if kind == "null":
            return None
        if kind == "object":
            return self._object(schema, name, depth, scope, context, minimal)
        if kind == "array":
            return self._array(schema, name, depth, scope, context, minimal)
        if kind == "boolean":
            default = schema.get("default")
            if isinstance(default, bool):
                return default
            # an acknowledgement ({"deleted": true}, {"success": true}) reports success
            return True if snake(name) in _SUCCESS_FLAGS else self.rng.random() < 0.5
        if kind in ("integer", "number"):
            return self._number(schema, name, kind == "integer", scope, context)
        return self._string(schema, name, scope, context)

    def _resolve_composition(self, schema: dict[str, Any], depth: int = 0) -> dict[str, Any]:
        """Fold ``allOf`` in and choose one ``anyOf``/``oneOf`` alternative (the first that is
        not just ``null``); nested compositions are resolved to a small depth."""
        if not any(key in schema for key in ("allOf", "anyOf", "oneOf")):
            return schema
        merged = {k: v for k, v in schema.items() if k not in ("allOf", "anyOf", "oneOf")}
        if depth > 4:
            return merged
        for part in _list_of(schema.get("allOf"))[:16]:
            if isinstance(part, dict):
                merged = _merge(merged, self._resolve_composition(part, depth + 1))
        alternatives = [a for a in (_list_of(schema.get("anyOf")) or _list_of(schema.get("oneOf")))[:16]
                        if isinstance(a, dict)]
        if alternatives:
            not_null = (a for a in alternatives
                        if declared_types(a) != ["null"] and _list_of(a.get("enum")) != [None])
            choice = next(not_null, alternatives[0])
            merged = _merge(merged, self._resolve_composition(choice, depth + 1))
        return merged

    def _from_enum(self, enum: list[Any], schema: dict[str, Any]) -> Any:
        types = [t for t in declared_types(schema) if t != "null"]
        default = schema.get("default", MISSING)
        if default is not None and default is not MISSING \
                and any(same_value(default, e) for e in enum[:MAX_ENUM_SCAN]):
            return json_copy(default, [200], 0)
        pool = enum if len(enum) <= MAX_ENUM_SCAN else enum[:MAX_ENUM_SCAN]
        fitting = [e for e in pool if e is not None and (not types or any(has_type(e, t) for t in types))]
        return json_copy(self.rng.choice(fitting or pool), [200], 0)

    def _pick_type(self, schema: dict[str, Any], name: str) -> str:
        types = declared_types(schema)
        if types:
            non_null = [t for t in types if t != "null"]
            return non_null[0] if non_null else "null"
        if "properties" in schema or "additionalProperties" in schema or "required" in schema:
            return "object"
        if "items" in schema or "prefixItems" in schema or "minItems" in schema:
            return "array"
        if any(key in schema for key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
                                          "multipleOf")):
            return "number"
        for key in ("default", "example"):
            if key in schema and schema[key] is not None:
                return json_type(schema[key]) if json_type(schema[key]) != "unknown" else "string"
        if schema.get("x-truncated"):
            return "object"  # cut by the catalog's limits: {} is what it still accepts
        return "string"

    # ---- objects

    def _object(self, schema: dict[str, Any], name: str, depth: int, scope: Scope,
                parent: Context, minimal: bool) -> dict[str, Any]:
        given = schema.get("properties")
        properties: dict[str, Any] = given if isinstance(given, dict) else {}
        required = [r for r in _list_of(schema.get("required")) if isinstance(r, str)]
        if not properties and schema.get("x-truncated") and not required:
            return {}
        own = entity_of(name_tokens(name))
        inherit = not name or singular_of(snake(name)) in _CONTAINER_NAMES
        context = Context(self.rng, own or (parent.entity if inherit else None))
        child_hops = scope.hops + 1 if scope.hops is not None and scope.hops < 1 else None
        # fields know which list item they belong to (the first record may use the examples)
        is_record = scope.hops is not None and scope.hops <= 1
        child = Scope(child_hops, scope.in_array, scope.index, is_record)
        out: dict[str, Any] = {}
        echoed: set[str] = set()
        for key, sub in list(properties.items())[:MAX_PROPERTIES]:
            if minimal and key not in required:
                continue
            if isinstance(sub, dict) and sub.get("writeOnly") is True and key not in required:
                continue
            value = self._echo_value(key, sub, scope, context)
            if value is not MISSING:
                out[key] = value
                echoed.add(key)
                continue
            out[key] = self._gen(sub, key, depth + 1, child, context)
        for key in required[:MAX_PROPERTIES]:
            if key not in out:
                out[key] = self._gen({}, key, depth + 1, child, context)
        additional = schema.get("additionalProperties", True)
        min_properties = schema.get("minProperties")
        wanted = int(min_properties) if is_number(min_properties) else 0
        if not properties and isinstance(additional, dict) and not minimal:
            most = as_int(schema.get("maxProperties"), self.list_length)
            wanted = max(wanted, min(self.list_length, most))
        if additional is not False and len(out) < wanted:
            sub = additional if isinstance(additional, dict) else {}
            for key in self._extra_keys(schema, name, wanted - len(out), out):
                out[key] = self._gen(sub, singular_of(snake(name)) or key, depth + 1, Scope(None), context)
        make_consistent(out, properties, echoed, self.rng)
        return out

    def _extra_keys(self, schema: dict[str, Any], name: str, count: int, taken: dict[str, Any]) -> list[str]:
        count = min(count, 100)
        example = schema.get("example")
        description: str = schema["description"] if isinstance(schema.get("description"), str) else ""
        words = set(name_tokens(name)) | set(name_tokens(description[:300]))
        pool = [str(k) for k in example] if isinstance(example, dict) else []
        if words & {"cabin", "cabins"}:
            pool += ["economy", "premium_economy", "business", "first"]
        elif words & {"hours", "days", "opening", "schedule", "weekday", "weekdays"}:
            pool += list(WORDS_BY_TOKEN["day"])
        elif words & {"rate", "rates", "currency", "currencies", "prices", "price", "fares"}:
            pool += ["USD", "EUR", "GBP", "JPY", "CHF", "CAD", "AUD"]
        stem = singular_of(snake(name)) or "key"
        pool += [f"{stem}_{i}" for i in range(1, count + 1)]
        pool = list(dict.fromkeys(pool))
        keys = [k for k in pool if k not in taken]
        extra = 1
        while len(keys) < count:
            candidate = f"key_{len(taken) + extra}"
            extra += 1
            if candidate not in taken and candidate not in keys:
                keys.append(candidate)
        return keys[:count]

    # ---- arrays

    def _array(self, schema: dict[str, Any], name: str, depth: int, scope: Scope,
               context: Context, minimal: bool) -> list[Any]:
        low = max(0, as_int(schema.get("minItems"), 0))
        high = as_int(schema.get("maxItems"), None)
        prefix = _list_of(schema.get("prefixItems"))
        items = schema.get("items", {})
        truncated = schema.get("x-truncated") and "items" not in schema and not prefix
        count = low if minimal or truncated else max(low, self.list_length)
        if scope.hops is not None and scope.hops <= 1 and self.echo.limit is not None:
            count = max(low, min(count, self.echo.limit))
        if high is not None:
            count = min(count, max(high, 0))
        if count > low and count > self.nodes:  # the budget is running out: only what is required
            count = max(low, self.nodes)
        count = min(count, 10_000)
        description = schema.get("description")
        if isinstance(items, dict) and isinstance(description, str) and "description" not in items:
            items = {**items, "description": description}  # "IATA codes of ..." describes the items too
        item_name = singular_of(snake(name)) if name else ""
        out: list[Any] = []
        unique = schema.get("uniqueItems") is True
        seen: set[bytes] = set()
        attempts = 0
        while len(out) < count and self.hard_nodes > 0:
            index = len(out)
            sub = prefix[index] if index < len(prefix) else (items if items is not None else {})
            if sub is False:
                break
            item_scope = Scope(scope.hops, True, index, scope.in_record)
            value = self._gen(sub, item_name, depth + 1, item_scope, Context(self.rng, context.entity))
            if unique or is_scalar(value):
                # lists of tags, emails, codes read better without repeats; uniqueItems needs it
                identity = _identity(value)
                if identity in seen:
                    attempts += 1
                    if attempts <= 2 * count + 2:
                        continue
                    if unique:
                        break
                seen.add(identity)
            out.append(value)
        return out

    # ---- numbers

    def _number(
        self, schema: dict[str, Any], name: str, integer: bool, scope: Scope, context: Context
    ) -> Any:
        for key in ("default",):
            value = schema.get(key)
            typed = {**schema, "type": "integer" if integer else "number"}
            if is_number(value) and fits_schema(value, typed):
                return int(value) if integer else value
        tokens = name_tokens(name)
        words = set(tokens)
        example = schema.get("example")
        low: float
        high: float
        place_value = context.place_number(words)
        if place_value is not None and number_fits(place_value, schema):
            return round(place_value) if integer else place_value
        if tokens and (tokens[-1] in ("id", "ids") or name == "id"):
            digits = len(str(abs(int(example)))) if is_number(example) and abs(example) >= 1 else 6
            digits = max(1, min(digits, 15))
            low, high, decimals = 10 ** (digits - 1), 10**digits - 1, 0
        else:
            rule = number_rule(tokens, integer)
            if rule is not None:
                low, high, decimals = rule
            elif is_number(example) and math.isfinite(example):
                low, high = sorted((example * 0.5, example * 1.5))
                text = repr(float(example))
                decimals = 0 if float(example).is_integer() else min(4, len(text.split(".")[1]))
                if low == high:
                    low, high = example - 1, example + 1
            else:
                low, high, decimals = (1, 100, 0) if integer else (1, 100, 2)
            low, high = self.echo.preferred_range(tokens, scope, low, high)
        return self._bounded_number(schema, low, high, decimals, integer)

    def _bounded_number(
        self, schema: dict[str, Any], low: float, high: float, decimals: int, integer: bool
    ) -> Any:
        lo_b, hi_b = _finite(schema.get("minimum")), _finite(schema.get("maximum"))
        ex_lo, ex_hi = _finite(schema.get("exclusiveMinimum")), _finite(schema.get("exclusiveMaximum"))
        floor = max((b for b in (lo_b, ex_lo) if b is not None), default=None)
        ceiling = min((b for b in (hi_b, ex_hi) if b is not None), default=None)
        if integer:
            if lo_b is not None:
                lo_b = math.ceil(lo_b)
            if ex_lo is not None:
                ex_lo = math.floor(ex_lo) + 1
            if hi_b is not None:
                hi_b = math.floor(hi_b)
            if ex_hi is not None:
                ex_hi = math.ceil(ex_hi) - 1
            floor = max((b for b in (lo_b, ex_lo) if b is not None), default=None)
            ceiling = min((b for b in (hi_b, ex_hi) if b is not None), default=None)
        span = max(high - low, 1.0)
        if floor is not None and ceiling is not None and floor > ceiling:
            return int(floor) if integer else floor  # contradictory bounds: nothing validates
        lo, hi = low, high
        if floor is not None:
            lo = max(lo, floor)
        if ceiling is not None:
            hi = min(hi, ceiling)
        if lo > hi:  # the plausible range lies outside the allowed one: stay near the bound
            if floor is not None and (ceiling is None or floor + span <= ceiling):
                lo, hi = floor, floor + span if ceiling is None else min(ceiling, floor + span)
            elif ceiling is not None:
                lo, hi = ceiling - span if floor is None else max(floor, ceiling - span), ceiling
        value: Any
        if integer:
            lo_i, hi_i = math.ceil(lo), math.floor(hi)
            value = self.rng.randint(lo_i, hi_i) if lo_i <= hi_i else lo_i
        else:
            value = round(self.rng.uniform(lo, hi), decimals)
            if decimals == 0:
                value = int(value)
        step = schema.get("multipleOf")
        if is_number(step) and step > 0:
            value = self._multiple(value, step, floor, ceiling, integer)
        bound_keywords = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")
        typed: dict[str, Any] = {k: schema[k] for k in bound_keywords if k in schema}
        if not number_fits(value, typed):
            # rounding pushed it onto an exclusive bound or past a bound: take the middle
            if floor is not None and ceiling is not None:
                middle = (floor + ceiling) / 2
                value = round(middle) if integer else middle
            elif floor is not None:
                value = (math.floor(floor) + 1) if integer else floor + 1
            elif ceiling is not None:
                value = (math.ceil(ceiling) - 1) if integer else ceiling - 1
        return value

    def _multiple(self, value: float, step: float, floor: Any, ceiling: Any, integer: bool) -> Any:
        base = math.floor(value / step) if math.isfinite(value / step) else 0
        for k in (base, base + 1, base - 1, base + 2, base - 2, 0):
            candidate: Any = k * step
            if integer or (isinstance(step, int) and isinstance(candidate, int)):
                candidate = int(candidate) if float(candidate).is_integer() else candidate
            else:
                digits = max(0, -math.floor(math.log10(step))) + 2 if step < 1 else 2
                candidate = round(candidate, digits)
            if (floor is None or candidate >= floor) and (ceiling is None or candidate <= ceiling) \
                    and is_multiple_of(candidate, step):
                return candidate
        return value

    # ---- strings

    def _string(self, schema: dict[str, Any], name: str, scope: Scope, context: Context) -> str:
        default = schema.get("default")
        if isinstance(default, str) and string_fits(default, schema):
            return default
        example = schema.get("example")
        example = example if isinstance(example, str) and string_fits(example, schema) else None
        value = self._string_candidate(schema, name, scope, context, example)
        if string_fits(value, schema):
            return value
        pattern = schema.get("pattern")
        if isinstance(pattern, str):
            # made to match: checked against the pattern already, where that can be done safely
            rest = {key: sub for key, sub in schema.items() if key != "pattern"}
            for _ in range(3):
                generated = string_for_pattern(pattern, self.rng)
                if generated is not None and string_fits(generated, rest):
                    return generated
        if example is not None:
            return example
        return fix_length(value, schema, self.rng)

    def _string_candidate(self, schema: dict[str, Any], name: str, scope: Scope, context: Context,
                          example: str | None) -> str:
        rng = self.rng
        fmt = schema.get("format")
        if isinstance(fmt, str):
            by_format = value_for_format(fmt, name, rng, context)
            if by_format is not None:
                return by_format
        description: str = schema["description"] if isinstance(schema.get("description"), str) else ""
        tokens = name_tokens(name)
        kind = string_kind(tokens, description)
        if kind in ("id", None) and example is not None:
            kind = kind_from_example(example) or kind
        if kind == "id":
            if example is not None and example.strip():
                return mutate_id(example, rng)
            return make_id(tokens, rng)
        if kind == "name" and context.entity is not None:
            kind = context.entity
        first_record = not scope.in_array or scope.index == 0
        if kind in ("name", "title", "text", "city", "country", "person", "company", None) \
                and example is not None and (first_record or kind is None):
            return example
        if kind is None:
            if example is not None:
                return example
            return generic_text(tokens, rng)
        value = vocabulary_value(kind, tokens, rng, context)
        if example is not None and code_like(example) and shape_of(value) != shape_of(example):
            return example  # a short code ("€", "+81") whose look the vocabulary does not share
        return value

    def _vocab_name(self, context: Context) -> str:
        return vocabulary_value("name", ["name"], self.rng, context)


def _identity(value: Any) -> bytes:
    """Equal JSON values (1 and 1.0 included, as uniqueItems counts them) give equal bytes."""
    try:
        return orjson.dumps(canonical_value(value), option=orjson.OPT_SORT_KEYS)
    except (TypeError, ValueError):
        return repr(value).encode()


def _finite(value: Any) -> float | None:
    return value if is_number(value) and math.isfinite(value) else None


def _list_of(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _merge(base: dict[str, Any], part: dict[str, Any]) -> dict[str, Any]:
    """``part``'s constraints added to ``base``: properties and required united, types
    intersected, annotations (description, example, default) kept from ``base``, any other
    keyword taken from ``part``."""
    out = dict(base)
    for key, value in part.items():
        if key == "properties" and isinstance(value, dict) and isinstance(out.get("properties"), dict):
            out["properties"] = {**out["properties"], **value}
        elif key == "required" and isinstance(value, list) and isinstance(out.get("required"), list):
            out["required"] = [*out["required"], *(r for r in value if r not in out["required"])]
        elif key == "type" and "type" in out:
            mine, theirs = declared_types(out), declared_types(part)
            both = [t for t in mine if t in theirs or (t == "integer" and "number" in theirs)]
            if both:
                out["type"] = both if len(both) > 1 else both[0]
        elif key in ("description", "example", "default"):
            out.setdefault(key, value)
        else:
            out[key] = value
    return out


def _schema_of_example(value: Any) -> dict[str, Any]:
    kind = json_type(value)
    if kind == "integer":
        return {"type": ["integer", "number"]}  # "7" becomes 7; an example's 3 admits 2.5 too
    if kind in ("unknown", "null"):
        return {}
    if kind == "array":
        items = {"type": json_type(value[0])} if value and is_scalar(value[0]) else {}
        return {"type": "array", "items": items}
    return {"type": kind}


_SUCCESS_FLAGS = frozenset({"ok", "success", "succeeded", "deleted", "removed", "cancelled", "canceled",
                           "created", "updated", "sent", "booked", "confirmed", "saved", "done", "completed",
                           "accepted", "valid"})


_CONTAINER_NAMES = frozenset({"", "result", "item", "data", "record", "entry", "hit", "list", "response",
                              "payload", "content", "value", "row", "match", "suggestion", "top"})
