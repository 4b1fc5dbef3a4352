"""Chat fine-tuning JSONL for OpenAI fine-tuning.

Files: ``train.jsonl`` and ``eval.jsonl``, one ``{"messages": [...], "tools": [...],
"parallel_tool_calls": false}`` per sample.

* ``messages``: system, user (the instruction itself), then per API step an assistant message
  (``content`` = the thought, ``tool_calls`` = one call whose ``arguments`` is a JSON string, as
  OpenAI requires) and the ``tool`` message with the observation; last, a plain assistant
  message with the final answer.
* ``weight`` on every assistant message: ``0`` on a call that came back with an error (the
  observation's ``error`` is set), ``1`` otherwise. OpenAI's fine-tuning reads it (0 or 1 on
  assistant messages: "controls whether the assistant message is trained against"), so the model
  learns the recovery that follows a failed call, not the failed call itself.
* Call ids are 9 alphanumeric characters, derived from the sample and the step (the same on
  every export): valid for OpenAI and for Mistral-style templates alike.
* ``Finish`` is not a tool here. ToolBench needs it because its ReAct text format has no other
  way to end; a model trained for native tool calls ends by answering in text, and that is what
  OpenAI's and TRL's chat templates expect (a last assistant message without tool calls). The
  ``Finish`` call's thought is dropped with it: the answer is the final message.
* The system prompt is :data:`~pipeline.export.common.NATIVE_SYSTEM_PROMPT` (plus the tool
  overview unless ``export.compact_system``), since the AutoGPT prompt would tell the model to
  call ``Finish``.
* Tool parameters carry JSON Schema only (OpenAPI's ``example``/``nullable``/``x-*`` and
  ToolBench's ``optional``/``example_value`` removed, examples moved into the description),
  because OpenAI validates them, chat templates render them and ``datasets`` must infer one
  column type for them.
* ``parallel_tool_calls: false``: every step makes exactly one call.

For Hugging Face trainers (TRL's ``SFTTrainer``, chat templates) use the ``hf`` export: chat
templates apply ``tojson`` to ``arguments``, so the JSON strings of this file come out
double-encoded there.
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


def chat_messages(dialogue: Dialogue, *, compact: bool = False, hf: bool = False) -> list[dict[str, Any]]:
    """The conversation; ``hf`` gives arguments as objects and ``name`` on tool messages."""
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": native_system_prompt(dialogue.system, compact=compact)},
        {"role": "user", "content": dialogue.query},
    ]
    for step in dialogue.calls:
        call_id = dialogue.call_id(step)
        arguments: str | dict[str, Any] = step.arguments_object() if hf else step.arguments
        messages.append({
            "role": "assistant",
            "content": step.thought or ("" if hf else None),
            "tool_calls": [{"id": call_id, "type": "function",
                            "function": {"name": step.name, "arguments": arguments}}],
            "weight": 0 if step.failed else 1,
        })
        tool: dict[str, Any] = {"role": "tool", "tool_call_id": call_id}
        if hf:
            tool["name"] = step.name
        tool["content"] = step.observation or ""
        messages.append(tool)
    messages.append({"role": "assistant", "content": dialogue.final_answer, "weight": 1})
    return messages


def chat_sample(dialogue: Dialogue, *, compact: bool = False) -> dict[str, Any]:
    return {"messages": chat_messages(dialogue, compact=compact), "tools": chat_tools(dialogue),
            "parallel_tool_calls": False}


FAILED_NOTE = "failed_calls_weight_0"


class OpenAIChatExporter(SplitRowsExporter):
    """Writes ``train.jsonl`` / ``eval.jsonl``."""

    def __init__(self, folder: Path, context: ExportContext) -> None:
        compact = context.settings.export.compact_system
        super().__init__(folder, ".jsonl", JsonlWriter, lambda dialogue, split: [chat_sample(dialogue, compact=compact)],
                         failed_note=FAILED_NOTE)
