"""Trajectories in ToolBench's answer layout: one ``{query_id}_{method}.json`` per search.

``<DIR>/<group>_answer/{query_id}_DFS_woFilter_w{W}.json`` for DFSDT, ``..._CoT.json`` for ReACT
(ToolBench's method names; the group folder keeps ids of different groups apart). Each file has
ToolBench's ``answer_generation``:

* ``valid_data``: true only for ``give_answer``;
* ``query_count``: model calls; ``total_tokens``: prompt + completion tokens;
* ``final_answer``: the ``Finish`` call's arguments text, as ToolBench stores it ("" on failure);
* ``function``: the function schemas without the OpenAI ``{"type": "function"}`` wrapper;
* ``train_messages``: one message list per assistant step of the chosen path, each the whole
  conversation up to and including that step, in the legacy ``function_call`` / ``function``
  message shape of ToolBench's files;
* ``chain`` (empty, as in ToolBench's DFS files) and ``query``.

``forward_args`` carries the search settings. ``tree`` is our search tree
(``{"root", "nodes": [...]}``, one node per model step), not ToolBench's nested
Thought/Action/Action-Input nodes.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pipeline.io import write_json


def method_name(record: dict[str, Any]) -> str:
    if record.get("algorithm") == "react":
        return "CoT"
    width = (record.get("search") or {}).get("width", 2)
    return f"DFS_woFilter_w{width}"


def legacy_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """OpenAI tool-call messages → ToolBench's ``function_call`` / ``function`` messages."""
    converted: list[dict[str, Any]] = []
    names: dict[str, str] = {}
    for message in messages:
        role = message.get("role")
        if role == "assistant" and message.get("tool_calls"):
            call = message["tool_calls"][0]
            names[call.get("id", "")] = call["function"]["name"]
            converted.append({
                "role": "assistant",
                "content": message.get("content"),
                "function_call": {"name": call["function"]["name"], "arguments": call["function"]["arguments"]},
            })
        elif role == "tool":
            converted.append({"role": "function", "name": names.get(message.get("tool_call_id", ""), ""),
                              "content": message.get("content", "")})
        else:
            converted.append({"role": role, "content": message.get("content")})
    return converted


def train_messages(messages: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """One prefix per assistant step, ending with that step (ToolBench's ``train_messages``)."""
    legacy = legacy_messages(messages)
    return [legacy[: k + 1] for k, m in enumerate(legacy) if m["role"] == "assistant"]


def _final_answer_text(record: dict[str, Any]) -> str:
    if record.get("finish_type") != "give_answer":
        return ""
    nodes = record.get("tree", {}).get("nodes", [])
    last = record.get("chosen_path", [])[-1:] or [None]
    for node in nodes:
        if node.get("id") == last[0] and node.get("raw_arguments"):
            return str(node["raw_arguments"])
    return str(record.get("final_answer") or "")


def answer_document(record: dict[str, Any]) -> dict[str, Any]:
    """One trajectory record (a line of ``trajectories/*.jsonl``) as a ToolBench answer file."""
    counts = record.get("counts", {})
    search = record.get("search") or {}
    return {
        "answer_generation": {
            "valid_data": record.get("finish_type") == "give_answer",
            "query_count": int(counts.get("model_calls", 0)),
            "total_tokens": int(counts.get("prompt_tokens", 0)) + int(counts.get("completion_tokens", 0)),
            "final_answer": _final_answer_text(record),
            "finish_type": record.get("finish_type", "give_up"),
            "function": [t.get("function", t) for t in record.get("tools", [])],
            "chain": [],
            "train_messages": train_messages(record.get("messages", [])),
            "query": record.get("query", ""),
        },
        "forward_args": {
            "single_chain_max_step": search.get("max_depth"),
            "tree_beam_size": search.get("width"),
            "max_query_count": search.get("max_model_calls"),
            "answer": 1,
            "with_filter": False,
        },
        "tree": record.get("tree", {}),
    }


def export_toolbench_answers(records: Iterable[dict[str, Any]], directory: Path) -> int:
    """Write one answer file per record; returns how many were written."""
    directory = Path(directory)
    count = 0
    for record in records:
        folder = directory / f"{record.get('group', 'G')}_answer"
        folder.mkdir(parents=True, exist_ok=True)
        write_json(folder / f"{record.get('query_id')}_{method_name(record)}.json", answer_document(record))
        count += 1
    return count
