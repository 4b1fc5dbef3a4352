"""ToolBench tool documents (``<Category>/<tool>.json``): read them into the catalog, write them out.

A ToolBench document lists RapidAPI endpoints with loosely typed parameters (``STRING``,
``NUMBER`` ...). Reading keeps those labels and adds JSON Schemas and locations; writing
produces the fields ToolBench's code reads, plus toolgen's own fields, which ToolBench ignores
and which let a written catalog be collected again without loss.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, urlsplit

from pydantic import ValidationError

from pipeline.io import write_json
from pipeline.models import PARAM_LOCATIONS, Api, Auth, Param, Tool, ToolCategoryOrigin
from pipeline.specs.openapi import NotASpec, ReadContext, ReadOptions
from pipeline.specs.schemas import (
    bounded_copy,
    choice_of,
    instance_or,
    json_type_for_toolbench,
    text_of,
    toolbench_type,
)
from pipeline.specs.taxonomy import LabelOrigin

_BODY_METHODS = {"POST", "PUT", "PATCH"}


def is_toolbench_tool(doc: Any) -> bool:
    return (
        isinstance(doc, dict)
        and isinstance(doc.get("api_list"), list)
        and any(isinstance(doc.get(key), str) for key in ("tool_name", "name", "title"))
    )


def read_toolbench(doc: Any, context: ReadContext, options: ReadOptions) -> Tool:
    """Normalise one ToolBench tool document."""
    if not is_toolbench_tool(doc):
        raise NotASpec("not a ToolBench tool document (needs 'tool_name' and 'api_list')")
    context.source.format = "toolbench"
    name = text_of(doc.get("tool_name") or doc.get("title") or doc.get("name"), 200)
    max_chars = options.max_description_chars
    apis = []
    for index, raw in enumerate(doc["api_list"]):
        if not isinstance(raw, dict) or not text_of(raw.get("name"), 200):
            context.warnings.append(f"api_list[{index}]: no name, skipped")
            continue
        apis.append(_read_api(raw, options))
    base_url = text_of(doc.get("base_url"), 500) or _origin(apis)
    category = text_of(doc.get("category") or doc.get("category_name"), 100)
    origin: ToolCategoryOrigin = (
        "toolbench" if category else ("folder" if context.folder_category else "default")
    )
    label: str | None = None
    if options.taxonomy is not None:
        # ToolBench's category is kept when the taxonomy has it; else the collector places the tool
        declared: list[tuple[LabelOrigin, str]] = [("toolbench", category)] if category else []
        if context.folder_category:
            declared.append(("folder", context.folder_category))
        placed = options.taxonomy.place(declared)
        category, origin, label = placed or (options.taxonomy.fallback, "default", None)
    auth = _read_auth(doc.get("auth"), context)
    return Tool(
        tool_name=name,
        title=text_of(doc.get("title"), 200) or name,
        standardized_name=text_of(doc.get("standardized_name"), 200),
        tool_description=text_of(doc.get("tool_description") or doc.get("description"), max_chars)
        or name,
        category=category or context.folder_category or "Uncategorized",
        category_origin=origin,
        category_label=label,
        base_url=base_url,
        version=text_of(doc.get("version"), 100),
        auth=auth,
        source=context.source,
        api_list=apis,
    )


def _read_auth(value: Any, context: ReadContext) -> list[Auth]:
    """The document's auth entries that are auth entries; anything else is a warning, not the tool's loss."""
    if value is None:
        return []
    if not isinstance(value, list):
        context.warnings.append(f"auth: not a list ({type(value).__name__}), ignored")
        return []
    entries = []
    for index, entry in enumerate(value):
        try:
            entries.append(Auth.model_validate(entry))
        except ValidationError as error:
            context.warnings.append(f"auth[{index}]: not an auth entry ({error.error_count()} problems), ignored")
    return entries


def _split(url: str) -> SplitResult | None:
    """``url``'s parts, or None for a URL ``urlsplit`` refuses (``http://[domain]:8080``): such a URL
    is kept as written, it only has no origin or path to take apart."""
    try:
        return urlsplit(url)
    except ValueError:
        return None


def _read_api(raw: dict[str, Any], options: ReadOptions) -> Api:
    max_chars = options.max_description_chars
    method = text_of(raw.get("method"), 10).upper() or "GET"
    url = text_of(raw.get("url"), 2000)
    parts = _split(url) if "://" in url else None
    path = parts.path if parts is not None else url
    params = [
        _read_param(p, required, url, method, options)
        for key, required in (("required_parameters", True), ("optional_parameters", False))
        for p in instance_or(raw.get(key), list, [])
        if isinstance(p, dict) and text_of(p.get("name"), 200)
    ]
    template = raw.get("template_response")
    return Api(
        name=text_of(raw.get("name"), 200),
        url=url,
        method=method,
        path=text_of(raw.get("path"), 2000) or path,
        description=text_of(raw.get("description") or raw.get("api_description"), max_chars),
        required_parameters=[p for p in params if p.required],
        optional_parameters=[p for p in params if not p.required],
        body_schema=_schema_copy(raw.get("body_schema"), options),
        body_content_type=instance_or(raw.get("body_content_type"), str, None),
        response_schema=_schema_copy(raw.get("response_schema") or raw.get("schema"), options) or None,
        template_response=bounded_copy(template) if isinstance(template, (dict, list)) else None,
        response_example=bounded_copy(raw.get("response_example")),
        response_content_types=[str(m) for m in raw.get("response_content_types", []) if isinstance(m, str)],
        tags=[str(t) for t in raw.get("tags", []) if isinstance(t, str)],
        deprecated=raw.get("deprecated") is True,
    )


def _read_param(raw: dict[str, Any], required: bool, url: str, method: str, options: ReadOptions) -> Param:
    name = text_of(raw.get("name"), 200)
    label = text_of(raw.get("type"), 60) or "STRING"
    schema = _schema_copy(raw.get("schema"), options)
    if schema is None:
        schema = json_type_for_toolbench(label)
    location = choice_of(raw.get("location"), PARAM_LOCATIONS, None)
    if location is None:
        if re.search(r"\{" + re.escape(name) + r"\}|/:" + re.escape(name) + r"(/|$)", url):
            location = "path"
        else:
            location = "body" if method in _BODY_METHODS else "query"
    default = raw.get("default", "")
    return Param(
        name=name,
        type=label,
        description=text_of(raw.get("description"), options.max_description_chars),
        default=bounded_copy(default) if default is not None else "",
        location=location,
        required=required,
        enum=bounded_copy(raw["enum"]) if isinstance(raw.get("enum"), list) else None,
        example=bounded_copy(raw.get("example")),
        schema_=schema,
    )


def _schema_copy(value: Any, options: ReadOptions) -> dict[str, Any] | None:
    """A bounded copy of a schema in the document, which YAML can make a bomb or a loop.

    The bounds are well above what the OpenAPI reader stores (a schema level is about two JSON
    levels and a few values per node), so a catalog written by toolgen reads back whole.
    """
    if not isinstance(value, dict):
        return None  # ToolBench's own "schema" is often "" or a JSON string
    copied = bounded_copy(
        value, max_nodes=options.max_schema_nodes * 10, max_depth=options.max_schema_depth * 3 + 8
    )
    return copied if isinstance(copied, dict) else None  # None: cut at the top (no budget)


def _origin(apis: list[Api]) -> str:
    for api in apis:
        parts = _split(api.url)
        if parts is not None and parts.scheme and parts.netloc:
            return f"{parts.scheme}://{parts.netloc}"
    return ""


# -- writing --------------------------------------------------------------------------------


def toolbench_category_dir(category: str) -> str:
    """ToolBench's folder name for a category: space, ``,`` and ``/`` become ``_``."""
    return re.sub(r"[ ,/]", "_", category) or "Uncategorized"


def tool_to_toolbench(tool: Tool) -> dict[str, Any]:
    """A ToolBench tool document for ``tool`` (ToolBench's fields first, then toolgen's)."""
    parts = _split(tool.base_url)
    host = parts.netloc if parts is not None else ""
    return {
        "tool_name": tool.tool_name,
        "tool_description": tool.tool_description,
        "title": tool.title or tool.tool_name,
        "standardized_name": tool.standardized_name or tool.id,
        "name": tool.id,
        "host": host,
        "home_url": tool.base_url,
        "pricing": "FREE",
        "score": None,
        "product_id": f"toolgen/{tool.id}",
        "api_list": [_api_to_toolbench(api) for api in tool.api_list],
        # toolgen's own fields: ignored by ToolBench, read back by read_toolbench.
        "category": tool.category,
        "base_url": tool.base_url,
        "version": tool.version,
        "auth": [a.model_dump(mode="json", exclude_none=True) for a in tool.auth],
        "source": tool.source.model_dump(mode="json", exclude_none=True),
    }


def _api_to_toolbench(api: Api) -> dict[str, Any]:
    return {
        "name": api.name,
        "url": api.url,
        "description": api.description,
        "method": api.method,
        "required_parameters": [_param_to_toolbench(p) for p in api.required_parameters],
        "optional_parameters": [_param_to_toolbench(p) for p in api.optional_parameters],
        "code": "200",
        "test_endpoint": "",
        "statuscode": 200,
        "schema": api.response_schema or {},
        "template_response": api.template_response,
        "path": api.path,
        "body_schema": api.body_schema,
        "body_content_type": api.body_content_type,
        "response_example": api.response_example,
        "response_content_types": api.response_content_types,
        "tags": api.tags,
        "deprecated": api.deprecated,
    }


def toolbench_api_record(tool: Tool, api: Api) -> dict[str, Any]:
    """An API as ToolBench's query files and retriever corpus (``document_content``) record it."""
    returns = api.template_response if api.template_response is not None else (api.response_schema or {})
    return {
        "category_name": tool.category,
        "tool_name": tool.tool_name,
        "api_name": api.name,
        "api_description": api.description,
        "required_parameters": [toolbench_param(p) for p in api.required_parameters],
        "optional_parameters": [toolbench_param(p) for p in api.optional_parameters],
        "method": api.method,
        "template_response": returns,
    }


def toolbench_param(param: Param) -> dict[str, Any]:
    """A parameter as ToolBench's files have it: ``name``, ``type``, ``description``, ``default``."""
    return {
        "name": param.name,
        "type": param.type or toolbench_type(param.schema_),
        "description": param.description,
        "default": param.default,
    }


def _param_to_toolbench(param: Param) -> dict[str, Any]:
    record = {**toolbench_param(param), "location": param.location, "schema": param.schema_}
    if param.enum is not None:
        record["enum"] = param.enum
    if param.example is not None:
        record["example"] = param.example
    return record


def export_toolbench(tools: Iterable[Tool], directory: Path) -> int:
    """Write ``tools`` as ``directory/<Category>/<tool>.json``; returns how many were written."""
    count = 0
    for tool in tools:
        folder = Path(directory) / toolbench_category_dir(tool.category)
        write_json(folder / f"{tool.id}.json", tool_to_toolbench(tool))
        count += 1
    return count
