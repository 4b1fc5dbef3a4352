"""Chat JSONL for Hugging Face trainers: TRL's ``SFTTrainer`` and anything that renders rows with
``tokenizer.apply_chat_template(messages, tools=tools)``.

Files: ``train.jsonl`` and ``eval.jsonl``, one ``{"messages": [...], "tools": [...]}`` per
sample; the same conversation as the ``openai`` export, shaped for chat templates:

* a tool call's ``arguments`` is a JSON **object**, not a JSON string. Chat templates (Qwen2.5,
  Qwen3, Llama 3.1, Hermes, Mistral) write ``arguments | tojson``: a string there comes out as a
  JSON string of JSON, and the model would learn to emit escaped quotes;
* a ``tool`` message has ``name`` (the function called) beside ``tool_call_id``: Hermes-style
  templates raise "Tool response dicts require a 'name' key" without it;
* call ids are 9 alphanumeric characters (Mistral's templates reject any other id), derived
  from the sample and the step, the same as in the ``openai`` export;
* ``tools`` is the function list ``[{"type": "function", "function": {...}}]`` with JSON Schema
  parameters only, as ``apply_chat_template(tools=...)`` takes it;
* an assistant message without a thought has ``content: ""`` (templates concatenate it).

``weight`` (``0`` on a call that came back with an error, ``1`` otherwise) is on every assistant
message, as in the ``openai`` export. Which trainers read it: OpenAI fine-tuning and
mistral-finetune do; TRL's ``SFTTrainer`` does not (a per-message weight was proposed in
huggingface/trl#5761 and closed without it; ``assistant_only_loss`` masks by role only), and
neither does LLaMA-Factory (per-turn masks are open pull requests, hiyouga/LlamaFactory#9630 and
#10471). With those, drop the rows' failed turns yourself or accept that they are trained on.

Loading: ``datasets`` 4.8 and 5.x read the files (``load_dataset("json", ...)``; tool schemas
and arguments whose keys differ from row to row become ``Json`` columns). ``datasets`` 4.0 infers
one struct for every row instead: it loads each split file on its own but fails to load
``train`` and ``eval`` together, and fills every tool's parameters with the other tools'
property names set to null, which a chat template then renders.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.export.common import Dialogue, ExportContext, SplitRowsExporter
from pipeline.export.openai_chat import FAILED_NOTE, chat_messages, chat_tools
from pipeline.io import JsonlWriter


def hf_sample(dialogue: Dialogue, *, compact: bool = False) -> dict[str, Any]:
    return {"messages": chat_messages(dialogue, compact=compact, hf=True), "tools": chat_tools(dialogue)}


class HfChatExporter(SplitRowsExporter):
    """Writes ``train.jsonl`` / ``eval.jsonl``."""

    def __init__(self, folder: Path, context: ExportContext) -> None:
        compact = context.settings.export.compact_system
        super().__init__(folder, ".jsonl", JsonlWriter, lambda dialogue, split: [hf_sample(dialogue, compact=compact)],
                         failed_note=FAILED_NOTE)
