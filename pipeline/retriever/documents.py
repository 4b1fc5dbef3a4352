"""Retriever documents: one per catalog API, the same text for training, indexing and evaluation.

The text is ToolBench's (``process_retrieval_ducoment`` in its retriever code):
``"{category}, {tool}, {api}, {api_description}, required_params: {json}, optional_params:
{json}, return_schema: {json}"`` built from the API's ToolBench record. ToolBench users trip over
training and inference building this text differently; here one function builds it for both.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from pipeline.models import Api, Tool
from pipeline.specs.catalog import iter_tools
from pipeline.toolbench.documents import toolbench_api_record
from pipeline.toolbench.names import name_key


class ApiDocument(BaseModel):
    """One API as the retriever sees it."""

    model_config = ConfigDict(frozen=True)

    tool_id: str
    api_id: str
    tool_name: str
    api_name: str
    category: str
    text: str

    @property
    def key(self) -> tuple[str, str]:
        """(tool, API) compared as ToolBench's names are: lower case, no punctuation."""
        return (name_key(self.tool_name), name_key(self.api_name))

    @property
    def text_hash(self) -> str:
        """Changes exactly when the text changes (the embedding cache's key, with the model)."""
        return hashlib.sha256(self.text.encode()).hexdigest()


def _json(value: Any) -> str:
    # ToolBench uses json.dumps with its defaults (ASCII escapes, ", " separators); keep them so a
    # model trained on ToolBench's corpus sees the text it was trained on.
    return json.dumps(value, default=str)


def document_text(record: Mapping[str, Any]) -> str:
    """ToolBench's retriever text of an API record (a query file's ``api_list`` entry or ours)."""
    return (
        f"{record.get('category_name') or ''}, {record.get('tool_name') or ''}, "
        f"{record.get('api_name') or ''}, {record.get('api_description') or ''}"
        f", required_params: {_json(record.get('required_parameters', ''))}"
        f", optional_params: {_json(record.get('optional_parameters', ''))}"
        f", return_schema: {_json(record.get('template_response', ''))}"
    )


def api_document(tool: Tool, api: Api) -> ApiDocument:
    """The retriever document of one catalog API."""
    return ApiDocument(
        tool_id=tool.id or tool.tool_name,
        api_id=api.id or api.name,
        tool_name=tool.tool_name,
        api_name=api.name,
        category=tool.category,
        text=document_text(toolbench_api_record(tool, api)),
    )


def documents_of(tools: Iterable[Tool]) -> Iterator[ApiDocument]:
    for tool in tools:
        for api in tool.api_list:
            yield api_document(tool, api)


def catalog_documents(run_dir: Path) -> list[ApiDocument]:
    """Every API of a run's catalog, in catalog order."""
    return list(documents_of(iter_tools(run_dir)))


def record_document(record: Mapping[str, Any]) -> ApiDocument:
    """The document of an API known only by its ToolBench record (a query file's ``api_list``).

    Its ids are its names, as ToolBench's own files give no others.
    """
    tool_name = str(record.get("tool_name") or "")
    api_name = str(record.get("api_name") or "")
    return ApiDocument(
        tool_id=tool_name, api_id=api_name, tool_name=tool_name, api_name=api_name,
        category=str(record.get("category_name") or ""), text=document_text(record),
    )
