"""Canonical form of a call's arguments, so equal calls share one cache entry and one simulation.

Two argument sets get the same canonical string exactly when they mean the same JSON value:

* object keys are sorted (``{"a": 1, "b": 2}`` ≡ ``{"b": 2, "a": 1}``), at every depth;
* numbers compare by value: an integral float is written as an integer (``5.0`` ≡ ``5``,
  ``-0.0`` ≡ ``0``), other floats by their shortest round-trip repr; ``True`` is not ``1``;
* strings are Unicode NFC-normalised (the same text typed as one code point or as a letter plus
  a combining accent) and otherwise kept byte for byte: no stripping, no case folding, because
  ``" Paris"``, ``"paris"`` and ``"PARIS"`` may be different calls to a real server (a search
  term, a password, a message body, a case-sensitive id) and a wrong cache hit is worse than a
  miss;
* list order is kept (it is meaningful); tuples are lists;
* a missing argument is not a ``null`` one (``{}`` ≢ ``{"units": null}``) — an HTTP client may
  drop nulls, but a JSON body can mean "clear this field" by one;
* the arguments of a call with none (``None``) are ``{}``;
* ``"5"`` is not ``5``: coercing strings to the declared types is the environment's job, done
  before the key is taken;
* values JSON cannot carry exactly are tagged rather than merged with a look-alike string:
  non-finite floats become ``{"$float": "nan"|"inf"|"-inf"}``, integers beyond 64 bits
  ``{"$int": "<digits>"}``.

Anything else (bytes, dates, objects) is a :class:`TypeError`: arguments are JSON by the time
they reach the environment, and a guessed ``str()`` could merge different values.
"""

from __future__ import annotations

import hashlib
import math
import unicodedata
from typing import Any

import orjson

MAX_DEPTH = 64


def canonical_value(value: Any) -> Any:
    """``value`` rewritten into its canonical JSON-compatible form (see the module docstring)."""
    return _canonical(value, 0)


def canonical_arguments(arguments: Any) -> str:
    """The canonical JSON text of a call's arguments: compact, keys sorted."""
    if arguments is None:
        arguments = {}
    return orjson.dumps(_canonical(arguments, 0), option=orjson.OPT_SORT_KEYS).decode("utf-8")


def call_key(tool_id: str, api_id: str, arguments: Any) -> str:
    """SHA-256 (hex) of tool, API and canonical arguments: the identity of a call."""
    return key_of_canonical(tool_id, api_id, canonical_arguments(arguments))


def key_of_canonical(tool_id: str, api_id: str, canonical: str) -> str:
    """:func:`call_key` for arguments already in canonical form (saves canonicalising twice)."""
    material = orjson.dumps([tool_id, api_id, canonical])  # a JSON array: no separator ambiguity
    return hashlib.sha256(material).hexdigest()


def _canonical(value: Any, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise ValueError(f"arguments nested deeper than {MAX_DEPTH} levels")
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value)
    if isinstance(value, int):
        return value if -(2**63) <= value < 2**64 else {"$int": str(value)}
    if isinstance(value, float):
        if math.isnan(value):
            return {"$float": "nan"}
        if math.isinf(value):
            return {"$float": "inf" if value > 0 else "-inf"}
        if value.is_integer():
            return _canonical(int(value), depth)
        return value
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            name = unicodedata.normalize("NFC", key if isinstance(key, str) else str(key))
            out[name] = _canonical(item, depth + 1)
        return out
    if isinstance(value, (list, tuple)):
        return [_canonical(item, depth + 1) for item in value]
    raise TypeError(f"cannot canonicalise a {type(value).__name__} argument value (arguments must be JSON)")
