"""JSON values against JSON Schema: a value's type, a schema's types, fitting, coercion.

One place for the questions the environment (argument checking, simulation), the verifier's call
matcher and the offline policy all ask of a value and a (JSON Schema 2020-12) schema:

* :func:`json_type` — the JSON type name of a Python value;
* :func:`declared_types`, :func:`schema_types`, :func:`primary_type` — the types a schema
  declares (as written; inferred from ``anyOf``/``oneOf``/``enum`` too; the one a value should
  take);
* :func:`has_type` — whether a value is of a named type; by JSON Schema's rule ``2.0`` is an
  integer, with ``exact_integers`` (Python's and BFCL's rule) it is not; a bool is never a number;
* :func:`fits_schema` — a cheap partial validator for the keywords generated and echoed values
  must honour (types, ``const``/``enum``, bounds, lengths, ``pattern``, ``format``, items,
  ``required``, properties, ``allOf``/``anyOf``/``oneOf``/``not``); patterns run through
  :mod:`pipeline.safe_regex`, and one that cannot be run safely is not met;
* :func:`coerce` — a value as the schema's type when it plainly is one and then fits
  (``"5"`` → 5 for an integer), else :data:`MISSING`;
* :func:`coerce_text` — what a value sent as text (query, path, header) means in the declared
  types, the way HTTP clients forgive it (``"5"`` → 5, ``"a,b"`` → a list);
* :func:`integer_from_text`, :func:`number_from_text`, :func:`boolean_from_text` — the text
  forms both coercions accept.

Schemas here come from specs on the internet, so every function takes any value as a schema
(non-dicts constrain nothing) and bounds its own work.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import uuid
from collections.abc import Collection, Mapping
from typing import Any, Final, TypeGuard

import orjson

from pipeline.safe_regex import pattern_verdict

JSON_TYPES: Final = ("string", "integer", "number", "boolean", "array", "object", "null")

# Bounds of fits_schema's work on one value: nesting followed, enum members and properties read.
FITS_MAX_DEPTH = 16
MAX_ENUM_SCAN = 500
MAX_PROPERTIES = 200
_MAX_ITEMS_CHECKED = 100
_MAX_ALTERNATIVES = 16


class _Missing:
    """No value: what :func:`coerce` answers when a value cannot be made to fit."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()


# --------------------------------------------------------------------------------------------
# Types


def json_type(value: Any) -> str:
    """The JSON Schema type name of a Python value (``"unknown"`` for non-JSON values)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, (dict, Mapping)):  # dict first: the common case skips the ABC check
        return "object"
    return "unknown"


def is_number(value: Any) -> TypeGuard[int | float]:
    """An int or a float, not a bool."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def has_type(value: Any, name: str, *, exact_integers: bool = False) -> bool:
    """Whether ``value`` is of the JSON type ``name`` (an unknown name: never).

    An integer is a number; a float with no fractional part is an integer unless
    ``exact_integers``; a bool is neither.
    """
    kind = json_type(value)
    if name == kind:
        return True
    if name == "number":
        return kind == "integer"
    if name == "integer" and not exact_integers:
        return kind == "number" and float(value).is_integer()
    return False


def fits_types(value: Any, types: Collection[str]) -> bool:
    """Whether ``value`` has one of ``types`` (see :func:`has_type`)."""
    return any(has_type(value, name) for name in types)


def declared_types(schema: Any) -> list[str]:
    """The schema's ``type``, as a list in the order written (``[]`` when it declares none)."""
    if not isinstance(schema, Mapping):
        return []
    raw = schema.get("type")
    if isinstance(raw, str):
        return [raw]
    if isinstance(raw, list):
        return [name for name in raw if isinstance(name, str)]
    return []


def schema_types(schema: Any) -> set[str]:
    """The types a value of ``schema`` may have: its ``type``, else those of its ``anyOf`` /
    ``oneOf`` alternatives (none if one alternative has no single type: do not guess), else
    those of its ``enum`` members."""
    if not isinstance(schema, Mapping):
        return set()
    if "type" in schema and isinstance(schema.get("type"), (str, list)):
        return set(declared_types(schema))
    found: set[str] = set()
    for keyword in ("anyOf", "oneOf"):
        for alternative in schema.get(keyword) or ():
            alternative_type = alternative.get("type") if isinstance(alternative, Mapping) else None
            if not isinstance(alternative_type, str):
                return set()
            found.add(alternative_type)
    if not found and isinstance(schema.get("enum"), list):
        found = {json_type(member) for member in schema["enum"]}
    return found


def primary_type(schema: Any) -> str | None:
    """The type a value for ``schema`` should be made as: the declared type, or the first
    non-null one of a list; None when the schema declares none."""
    if not isinstance(schema, Mapping):
        return None
    raw = schema.get("type")
    if isinstance(raw, list):
        return next((name for name in raw if isinstance(name, str) and name and name != "null"), None)
    return raw if isinstance(raw, str) and raw else None


def same_value(a: Any, b: Any) -> bool:
    """JSON equality: ``1 == 1.0``, but a bool equals only a bool; lists and objects deeply."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_value(a[k], b[k]) for k in a)
    return type(a) is type(b) and bool(a == b)


# --------------------------------------------------------------------------------------------
# Fitting


def fits_schema(value: Any, schema: Any, depth: int = 0) -> bool:
    """Whether ``value`` validates against ``schema``, for the keywords listed in the module
    docstring (others are not checked); past :data:`FITS_MAX_DEPTH` anything fits."""
    if schema is True or schema is None:
        return True
    if schema is False:
        return False
    if not isinstance(schema, dict) or depth > FITS_MAX_DEPTH:
        return True
    if "const" in schema and not same_value(value, schema["const"]):
        return False
    enum = schema.get("enum")
    if isinstance(enum, list) and enum and not any(same_value(value, e) for e in enum[:MAX_ENUM_SCAN]):
        return False
    types = declared_types(schema)
    if types and not fits_types(value, types):
        return False
    if isinstance(value, str) and not string_fits(value, schema):
        return False
    if is_number(value) and not number_fits(value, schema):
        return False
    if isinstance(value, list) and not _array_fits(value, schema, depth):
        return False
    if isinstance(value, dict) and not _object_fits(value, schema, depth):
        return False
    for part in _list_of(schema.get("allOf")):
        if not fits_schema(value, part, depth + 1):
            return False
    alternatives = _list_of(schema.get("anyOf")) or _list_of(schema.get("oneOf"))
    alternatives = alternatives[:_MAX_ALTERNATIVES]
    if alternatives and not any(fits_schema(value, alt, depth + 1) for alt in alternatives):
        return False
    return not ("not" in schema and fits_schema(value, schema["not"], depth + 1))


def _array_fits(value: list[Any], schema: dict[str, Any], depth: int) -> bool:
    if not _count_fits(len(value), schema.get("minItems"), schema.get("maxItems")):
        return False
    items = schema.get("items")
    if isinstance(items, (dict, bool)):
        return all(fits_schema(v, items, depth + 1) for v in value[:_MAX_ITEMS_CHECKED])
    return True


def _object_fits(value: dict[str, Any], schema: dict[str, Any], depth: int) -> bool:
    required = schema.get("required")
    if isinstance(required, list) and any(isinstance(r, str) and r not in value for r in required):
        return False
    properties = schema.get("properties")
    if isinstance(properties, dict):
        for key, sub in list(properties.items())[:MAX_PROPERTIES]:
            if key in value and not fits_schema(value[key], sub, depth + 1):
                return False
    return True


def _list_of(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _count_fits(count: int, low: Any, high: Any) -> bool:
    if is_number(low) and count < low:
        return False
    return not (is_number(high) and count > high)


def string_fits(value: str, schema: Mapping[str, Any]) -> bool:
    """``minLength``/``maxLength``, ``pattern`` and ``format``.

    A pattern that cannot be run safely on the value (:func:`~pipeline.safe_regex.pattern_verdict`
    says None) is not known to match, so the value does not fit: a simulated value is then made
    to match by construction instead, an echoed or model-written one is not trusted.
    """
    if not _count_fits(len(value), schema.get("minLength"), schema.get("maxLength")):
        return False
    pattern = schema.get("pattern")
    if isinstance(pattern, str) and pattern_verdict(pattern, value) is not True:
        return False
    return format_fits(value, schema.get("format"))


_RFC3339_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_RFC3339_TIME = re.compile(r"([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")
_RFC3339_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]" + _RFC3339_TIME.pattern)
_URI_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")


def format_fits(value: str, fmt: Any) -> bool:
    """Whether ``value`` has the ``format`` (date, date-time, time, email, uri, uuid, ipv4);
    any other format is not checked."""
    try:
        if fmt == "date":
            return bool(_RFC3339_DATE.fullmatch(value)) and bool(dt.date.fromisoformat(value))
        if fmt == "date-time":
            return bool(_RFC3339_DATE_TIME.fullmatch(value)) and bool(
                dt.datetime.fromisoformat(value[:10] + "T" + value[11:].upper().replace("Z", "+00:00")))
        if fmt == "time":
            return bool(_RFC3339_TIME.fullmatch(value))
        if fmt in ("email", "idn-email"):
            return value.count("@") == 1 and value[0] != "@" and value[-1] != "@"
        if fmt in ("uri", "url", "iri"):
            return bool(_URI_SCHEME.match(value))
        if fmt == "uuid":
            return bool(uuid.UUID(value)) and len(value) == 36
        if fmt == "ipv4":
            parts = value.split(".")
            return len(parts) == 4 and all(p.isdigit() and int(p) < 256 and str(int(p)) == p for p in parts)
    except ValueError:
        return False
    return True


def number_fits(value: float, schema: Mapping[str, Any]) -> bool:
    """``minimum``/``maximum``, their exclusive forms and ``multipleOf``."""
    low, high = schema.get("minimum"), schema.get("maximum")
    ex_low, ex_high = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    if is_number(low) and value < low or is_number(high) and value > high:
        return False
    if is_number(ex_low) and value <= ex_low or is_number(ex_high) and value >= ex_high:
        return False
    step = schema.get("multipleOf")
    return not (is_number(step) and step > 0 and not is_multiple_of(value, step))


def is_multiple_of(value: float, step: float) -> bool:
    """``multipleOf`` as jsonschema tests it."""
    if isinstance(step, float):
        try:
            quotient = value / step
            return int(quotient) == quotient
        except OverflowError:
            return False
    return isinstance(value, int) and value % step == 0 or (
        isinstance(value, float) and value.is_integer() and int(value) % step == 0)


# --------------------------------------------------------------------------------------------
# Text forms


_INTEGER_TEXT = re.compile(r"[+-]?[0-9]+", re.ASCII)
_NUMBER_TEXT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)
TRUE_WORDS: Final = frozenset({"true", "1", "yes"})
FALSE_WORDS: Final = frozenset({"false", "0", "no"})


def integer_from_text(text: str) -> int | None:
    """``" -12 "`` → -12; None unless the text (stripped) is an optionally signed run of ASCII
    digits that Python converts."""
    text = text.strip()
    if not _INTEGER_TEXT.fullmatch(text):
        return None
    try:
        return int(text)
    except ValueError:  # more digits than Python converts
        return None


def number_from_text(text: str) -> int | float | None:
    """``"2.5"`` → 2.5, ``"1e3"`` → 1000.0, ``"7"`` → 7 (an int); None for other text and for
    numbers a float cannot hold."""
    text = text.strip()
    if not _NUMBER_TEXT.fullmatch(text):
        return None
    number = float(text)
    if not math.isfinite(number):
        return None
    return int(text) if _INTEGER_TEXT.fullmatch(text) else number


def boolean_from_text(text: str) -> bool | None:
    """``true``/``1``/``yes`` and ``false``/``0``/``no``, in any case; None for other text."""
    word = text.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    return None


# --------------------------------------------------------------------------------------------
# Coercion


def coerce(value: Any, schema: Any) -> Any:
    """``value`` as the schema's type if it plainly is one (``"5"`` → 5 for an integer, 5 →
    ``"5"`` for a string) and it then fits the schema; otherwise :data:`MISSING`. A non-dict
    schema takes the value as it is."""
    if not isinstance(schema, dict):
        return value
    targets: list[str | None] = [t for t in declared_types(schema) if t != "null"] or [None]
    for target in targets:
        candidate = _coerce_to(value, target)
        if candidate is not MISSING and fits_schema(candidate, schema):
            return candidate
    return MISSING


def _coerce_to(value: Any, target: str | None) -> Any:
    # a list for an array (or any value of the target type) is taken as it is: its items are
    # not converted
    if target is None or has_type(value, target) and target != "integer":
        return value
    if target == "integer":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        whole = integer_from_text(value) if isinstance(value, str) else None
        return MISSING if whole is None else whole
    if target == "number":
        number = number_from_text(value) if isinstance(value, str) else None
        return MISSING if number is None else float(number)
    if target == "string":
        if is_number(value):
            return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
        return MISSING
    if target == "boolean":
        flag = boolean_from_text(value) if isinstance(value, str) else None
        return MISSING if flag is None else flag
    return MISSING


def coerce_text(value: Any, schema: Any, types: Collection[str] | None = None) -> Any:
    """Convert a value sent as text (path, query, header, cookie, form) to the declared type,
    when it unambiguously is one; anything else comes back as it was.

    ``types`` are the schema's :func:`schema_types` (computed when not given). A list is
    converted item by item; ``"a,b"`` is a list where the items cannot contain a comma; a
    number or bool given for a string becomes its text; one value given for an array becomes
    a list of it.
    """
    types = schema_types(schema) if types is None else types
    if not types:
        return value
    if isinstance(value, list) and "array" in types:
        items = schema.get("items") if isinstance(schema, dict) else None
        if not isinstance(items, dict):
            return value
        return [coerce_text(item, items) for item in value]
    if fits_types(value, types):
        if isinstance(value, float) and "integer" in types and "number" not in types:
            return int(value)  # 3.0 would go on the wire as "3.0"
        return value
    if isinstance(value, str):
        return _from_text(value, schema, types)
    if isinstance(value, bool):
        if "string" in types:
            return "true" if value else "false"
    elif isinstance(value, (int, float)) and "string" in types:
        return str(value)
    if "array" in types and not isinstance(value, (list, dict)):
        items = schema.get("items") if isinstance(schema, dict) else None
        return [coerce_text(value, items)]
    return value


def _from_text(value: str, schema: Any, types: Collection[str]) -> Any:
    text = value.strip()
    if "integer" in types and (whole := integer_from_text(text)) is not None:
        return whole
    if "number" in types and (number := number_from_text(text)) is not None:
        return number
    if "boolean" in types and (flag := boolean_from_text(text)) is not None:
        return flag
    if "array" in types:
        items = schema.get("items") if isinstance(schema, dict) else None
        item_types = schema_types(items)
        if text.startswith("["):
            parsed = _json_or_none(text)
            if isinstance(parsed, list):
                return coerce_text(parsed, schema, types)
        # "a,b" is how a list goes in a query string (form style, not exploded); only split
        # when the items cannot contain a comma themselves.
        parts = [part.strip() for part in text.split(",")] if item_types - {"string"} else [value]
        return [coerce_text(part, items, item_types) for part in parts]
    if "object" in types and text.startswith("{"):
        parsed = _json_or_none(text)
        return parsed if isinstance(parsed, dict) else value
    return value


def _json_or_none(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
