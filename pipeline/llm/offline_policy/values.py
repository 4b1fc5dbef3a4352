"""A guessed value made to fit a parameter's schema (type and enum), or None."""

from __future__ import annotations

import json
import re
from typing import Any

from pipeline.safe_regex import pattern_verdict
from pipeline.schema_values import boolean_from_text, primary_type


def param_kind(spec: dict[str, Any]) -> str:
    return (primary_type(spec) or "string").lower()


def fit_to_param(value: Any, spec: dict[str, Any]) -> Any:
    """``value`` made to fit ``spec`` (type, enum), or None."""
    kind = param_kind(spec)
    enum = spec.get("enum") if isinstance(spec.get("enum"), list) else None
    if enum:
        for member in enum:
            if str(member).lower() == str(value).lower():
                return member
        return None
    if kind in ("integer", "number"):
        if isinstance(value, bool):
            return None
        if isinstance(value, (int, float)):
            return int(value) if kind == "integer" and float(value).is_integer() else value
        m = re.search(r"-?\d+(?:\.\d+)?", str(value))
        if not m:
            return None
        if len(m.group(0)) > 400:  # past what float or int() take from text: no one meant it
            return None
        if "." not in m.group(0):
            return int(m.group(0))  # exact: a float would round a long id (StableToolBench has 34 digits)
        num = float(m.group(0))
        if kind == "integer":
            # ToolBench types every NUMBER parameter integer: a coordinate stays a float
            return int(num) if num.is_integer() else num
        return int(num) if num.is_integer() and "." not in m.group(0) else num
    if kind == "boolean":
        return boolean_from_text(str(value))
    if kind in ("array", "object"):
        return (
            None
            if isinstance(value, (str, int, float)) and kind == "object"
            else ([value] if not isinstance(value, list) else value)
        )
    if isinstance(value, (dict, list)):  # a JSON value for a parameter typed string (ToolBench's default)
        return json.dumps(value, ensure_ascii=False)
    text = str(value)
    pattern = spec.get("pattern")
    # a value the parameter's own pattern refuses is no candidate (a currency sign for a ticker)
    if isinstance(pattern, str) and pattern_verdict(pattern, text) is False:
        return None
    return text
