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

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pipeline.io import write_json
from pipeline.records import ChatMessage, TrajectoryRecord


def method_name(record: TrajectoryRecord | Mapping[str, Any]) -> str:
    record = TrajectoryRecord.of(record)
    if record.algorithm == "react":
        return "CoT"
    return f"DFS_woFilter_w{record.search.width or 2}"


def legacy_messages(messages: list[ChatMessage] | list[dict[str, Any]]) -> list[dict[str, Any]]:
    """OpenAI tool-call messages → ToolBench's ``function_call`` / ``function`` messages."""
    converted: list[dict[str, Any]] = []
    names: dict[str, str] = {}
    for message in (ChatMessage.model_validate(m) if isinstance(m, dict) else m for m in messages):
        if message.role == "assistant" and message.tool_calls:
            function = message.tool_calls[0].function
            names[message.tool_calls[0].id or ""] = function.name
            converted.append({
                "role": "assistant",
                "content": message.content,
                "function_call": {"name": function.name, "arguments": function.arguments},
            })
        elif message.role == "tool":
            converted.append({"role": "function", "name": names.get(message.tool_call_id or "", ""),
                              "content": message.content if message.content is not None else ""})
        else:
            converted.append({"role": message.role, "content": message.content})
    return converted


def train_messages(messages: list[ChatMessage] | list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """One prefix per assistant step, ending with that step (ToolBench's ``train_messages``)."""
    legacy = legacy_messages(messages)
    return [legacy[: k + 1] for k, m in enumerate(legacy) if m["role"] == "assistant"]


def _final_answer_text(record: TrajectoryRecord) -> str:
    if not record.answered:
        return ""
    last = record.tree_nodes().get(record.chosen_path[-1]) if record.chosen_path else None
    if last is not None and last.raw_arguments:
        return last.raw_arguments  # ToolBench keeps the Finish call's arguments text
    return record.final_answer or ""


def answer_document(record: TrajectoryRecord | Mapping[str, Any]) -> dict[str, Any]:
    """One trajectory record (a line of ``trajectories/*.jsonl``) as a ToolBench answer file."""
    record = TrajectoryRecord.of(record)
    counts = record.counts
    return {
        "answer_generation": {
            "valid_data": record.answered,
            "query_count": counts.model_calls,
            "total_tokens": counts.prompt_tokens + counts.completion_tokens,
            "final_answer": _final_answer_text(record),
            "finish_type": record.finish_type,
            # the function schemas without OpenAI's {"type": "function"} wrapper
            "function": [t.get("function", t) for t in record.tools],
            "chain": [],
            "train_messages": train_messages(record.chat()),
            "query": record.query,
        },
        "forward_args": {
            "single_chain_max_step": record.search.max_depth,
            "tree_beam_size": record.search.width,
            "max_query_count": record.search.max_model_calls,
            "answer": 1,
            "with_filter": False,
        },
        "tree": record.tree,
    }


def export_toolbench_answers(records: Iterable[TrajectoryRecord | Mapping[str, Any]], directory: Path) -> int:
    """Write one answer file per record; returns how many were written."""
    directory = Path(directory)
    count = 0
    for record in map(TrajectoryRecord.of, records):
        folder = directory / f"{record.group or 'G'}_answer"
        folder.mkdir(parents=True, exist_ok=True)
        write_json(folder / f"{record.query_id}_{method_name(record)}.json", answer_document(record))
        count += 1
    return count
