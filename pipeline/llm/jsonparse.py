"""Reading JSON out of what a language model wrote.

Models asked for JSON still wrap it in prose or a code fence, leave a trailing comma, or write a
Python literal with single quotes. :func:`parse_lenient` reads one JSON text, repairing only what
cannot change its meaning; :func:`find_json` finds such a value inside a longer reply. Single
quotes and ``True``/``None`` are read with :func:`ast.literal_eval`, which evaluates literals
only (never code), on bounded input; anything that is not plain JSON data is rejected.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterator
from typing import Any

import orjson

MAX_CHARS = 200_000  # longer candidates are only tried as strict JSON
_MAX_STARTS = 32  # opening brackets tried as the start of an embedded value
_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[ \t]*\n?(.*?)```", re.DOTALL)
_JSON_WORDS = {"true": "True", "false": "False", "null": "None"}


class NotJson(ValueError):
    """The text holds no JSON value that could be read."""


def parse_lenient(text: str) -> Any:
    """The JSON value ``text`` holds, forgiving code fences, trailing commas and single quotes."""
    text = _unfence(text.strip())
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        pass
    if not text or len(text) > MAX_CHARS:
        raise NotJson("not JSON")
    repaired = _drop_trailing_commas(text)
    try:
        return orjson.loads(repaired)
    except orjson.JSONDecodeError:
        pass
    return _python_literal(text)


def find_json(text: str, *, accept: Callable[[Any], bool] | None = None) -> Any:
    """The first JSON value in ``text`` (whole, in a code fence, or a bracketed span inside
    prose) that ``accept`` agrees to; objects and arrays only when searching inside prose.
    Raises :class:`NotJson` when there is none."""
    for candidate in _candidates(text):
        try:
            value = parse_lenient(candidate)
        except NotJson:
            continue
        if accept is None or accept(value):
            return value
    raise NotJson("no JSON value found")


def _candidates(text: str) -> Iterator[str]:
    yield text
    for match in _FENCE.finditer(text):
        yield match.group(2)
    starts = 0
    for index, char in enumerate(text):
        if char in "{[":
            span = balanced_span(text, index)
            if span is not None:
                yield span
            starts += 1
            if starts >= _MAX_STARTS:
                return


def _unfence(text: str) -> str:
    if text.startswith("```"):
        match = _FENCE.match(text)
        if match:
            return match.group(2).strip()
    return text


def balanced_span(text: str, start: int) -> str | None:
    """``text[start:end]`` where the bracket at ``start`` closes, honouring quoted strings."""
    closing = {"{": "}", "[": "]"}
    stack: list[str] = []
    quote: str | None = None
    escaped = False
    limit = min(len(text), start + MAX_CHARS)
    for index in range(start, limit):
        char = text[index]
        if quote is not None:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == quote:
                quote = None
            continue
        if char in "\"'":
            # An apostrophe in prose between brackets ("it's") is not a string opener in JSON.
            if char == '"' or (index > start and not text[index - 1].isalnum()):
                quote = char
        elif char in closing:
            stack.append(closing[char])
        elif char in "}]":
            if not stack or stack.pop() != char:
                return None
            if not stack:
                return text[start : index + 1]
    return None


def _drop_trailing_commas(text: str) -> str:
    """Remove commas directly before a closing bracket, outside strings."""
    out: list[str] = []
    quote: str | None = None
    escaped = False
    for char in text:
        if quote is not None:
            out.append(char)
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == quote:
                quote = None
            continue
        if char == '"':
            quote = char
        elif char in "}]":
            position = len(out) - 1
            while position >= 0 and out[position].isspace():
                position -= 1
            if position >= 0 and out[position] == ",":
                del out[position]
        out.append(char)
    return "".join(out)


def _python_literal(text: str) -> Any:
    source = _python_words(text)
    try:
        value = ast.literal_eval(source)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as error:
        raise NotJson(f"not JSON ({type(error).__name__})") from None
    if not _is_json(value, 0):
        raise NotJson("a Python literal that is not JSON data")
    return _as_json(value)


def _python_words(text: str) -> str:
    """``true``/``false``/``null`` outside strings as Python's names, for literal_eval."""
    out: list[str] = []
    index, quote = 0, None
    while index < len(text):
        char = text[index]
        if quote is not None:
            out.append(char)
            if char == "\\" and index + 1 < len(text):
                out.append(text[index + 1])
                index += 1
            elif char == quote:
                quote = None
            index += 1
            continue
        if char in "\"'":
            quote = char
        elif char.isalpha():
            end = index
            while end < len(text) and (text[end].isalnum() or text[end] == "_"):
                end += 1
            word = text[index:end]
            out.append(_JSON_WORDS.get(word, word))
            index = end
            continue
        out.append(char)
        index += 1
    return "".join(out)


def _is_json(value: Any, depth: int) -> bool:
    if depth > 64:
        return False
    if value is None or isinstance(value, (str, bool, int, float)):
        return True
    if isinstance(value, (list, tuple)):
        return all(_is_json(item, depth + 1) for item in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_json(v, depth + 1) for k, v in value.items())
    return False


def _as_json(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_as_json(item) for item in value]
    if isinstance(value, list):
        return [_as_json(item) for item in value]
    if isinstance(value, dict):
        return {k: _as_json(v) for k, v in value.items()}
    return value
