"""ToolBench's ``template_response`` type skeleton, read as a JSON Schema."""

from __future__ import annotations

import re
from typing import Any

from pipeline.env.simulate.bounds import MAX_DEPTH, MAX_LIST, MAX_NODES, MAX_PROPERTIES

_TEMPLATE_TYPES = {
    "str": "string", "string": "string", "int": "integer", "integer": "integer",
    "float": "number", "number": "number", "bool": "boolean", "boolean": "boolean",
    "nonetype": "null", "none": "null", "null": "null", "list": "array", "array": "array",
    "dict": "object", "object": "object",
}


_LIST_OF = re.compile(r"list of (\w+) with length (\d+)", re.IGNORECASE)


def schema_from_template(
    template: Any, *, max_nodes: int = MAX_NODES, max_depth: int = MAX_DEPTH
) -> dict[str, Any]:
    """The JSON Schema a ToolBench ``template_response`` describes.

    Objects require all their keys (``_list_length`` excepted); a list's first element is the
    item skeleton and its ``_list_length`` (ToolBench's observed length, capped at 50) fixes the
    item count, as does ToolBench's other form ``["list of str with length 5"]``;
    type names are ``str``/``int``/``float``/``bool``/``NoneType`` (JSON names accepted too);
    any other string (``"..."`` marks a cut) is a string. Bounded by ``max_nodes``/``max_depth``.
    """
    remaining = [max_nodes]

    def walk(node: Any, depth: int) -> dict[str, Any]:
        remaining[0] -= 1
        if remaining[0] < 0 or depth > max_depth:
            return {"x-truncated": True}
        if isinstance(node, dict):
            properties = {str(k): walk(v, depth + 1) for k, v in list(node.items())[:MAX_PROPERTIES]
                          if k != "_list_length"}
            return {"type": "object", "properties": properties, "required": list(properties)}
        if isinstance(node, list):
            if not node:
                return {"type": "array", "maxItems": 0}
            first = node[0]
            described = _LIST_OF.fullmatch(first.strip()) if isinstance(first, str) else None
            if described:  # ToolBench also writes ["list of str with length 5"]
                first = described.group(1)
            schema: dict[str, Any] = {"type": "array", "items": walk(first, depth + 1)}
            length = first.get("_list_length") if isinstance(first, dict) else None
            if described:
                length = int(described.group(2)[:6])
            if isinstance(length, int) and not isinstance(length, bool) and length >= 0:
                length = min(length, MAX_LIST)
                schema["minItems"] = schema["maxItems"] = length
            return schema
        if isinstance(node, str):
            if node.strip() in ("...", "…"):
                return {}
            return {"type": _TEMPLATE_TYPES.get(node.strip().lower(), "string")}
        if isinstance(node, bool):
            return {"type": "boolean"}
        if isinstance(node, int):
            return {"type": "integer"}
        if isinstance(node, float):
            return {"type": "number"}
        if node is None:
            return {"type": "null"}
        return {}

    return walk(template, 0)
