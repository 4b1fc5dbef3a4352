"""Chat fine-tuning JSONL for OpenAI fine-tuning and TRL's ``SFTTrainer``.

Files: ``train.jsonl`` and ``eval.jsonl``, one ``{"messages": [...], "tools": [...],
"parallel_tool_calls": false}`` per sample.

* ``messages``: system, user (the instruction itself), then per API step an assistant message
  (``content`` = the thought, ``tool_calls`` = one call whose ``arguments`` is a JSON string)
  and the ``tool`` message with the observation; last, a plain assistant message with the
  final answer.
* ``Finish`` is not a tool here. ToolBench needs it because its ReAct text format has no other
  way to end; a model trained for native tool calls ends by answering in text, and that is what
  OpenAI's and TRL's chat templates expect (a last assistant message without tool calls). The
  ``Finish`` call's thought is dropped with it: the answer is the final message.
* The system prompt is :data:`~pipeline.export.common.NATIVE_SYSTEM_PROMPT` (plus the tool
  overview), since the AutoGPT prompt would tell the model to call ``Finish``.
* Tool parameters are cleaned to valid JSON Schema (``optional`` dropped, ``example_value`` →
  ``examples``), because OpenAI validates them and chat templates render them.
* ``parallel_tool_calls: false``: every step makes exactly one call.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.export.common import (
    Dialogue,
    ExportContext,
    SplitRowsExporter,
    clean_function,
    functions_of,
    native_system_prompt,
)
from pipeline.io import JsonlWriter


def chat_tools(dialogue: Dialogue) -> list[dict[str, Any]]:
    return [{"type": "function", "function": clean_function(f)}
            for f in functions_of(dialogue.tools, keep_finish=False)]


def chat_messages(dialogue: Dialogue) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": native_system_prompt(dialogue.system)},
        {"role": "user", "content": dialogue.query},
    ]
    for step in dialogue.calls:
        messages.append({
            "role": "assistant",
            "content": step.thought or None,
            "tool_calls": [{"id": step.call_id, "type": "function",
                            "function": {"name": step.name, "arguments": step.arguments}}],
        })
        messages.append({"role": "tool", "tool_call_id": step.call_id, "content": step.observation or ""})
    messages.append({"role": "assistant", "content": dialogue.final_answer})
    return messages


def chat_sample(dialogue: Dialogue) -> dict[str, Any]:
    return {"messages": chat_messages(dialogue), "tools": chat_tools(dialogue), "parallel_tool_calls": False}


class OpenAIChatExporter(SplitRowsExporter):
    """Writes ``train.jsonl`` / ``eval.jsonl``."""

    def __init__(self, folder: Path, context: ExportContext) -> None:
        super().__init__(folder, ".jsonl", JsonlWriter, lambda dialogue, split: [chat_sample(dialogue)])
