"""LLaMA-Factory's ShareGPT function-calling layout, with its ``dataset_info.json``.

Files: ``train.json`` and ``eval.json`` (JSON lists) and ``dataset_info.json`` registering them as
``toolgen_train`` / ``toolgen_eval``. Each sample::

    {"conversations": [{"from": "human", "value": query},
                       {"from": "function_call", "value": "{\\"name\\": ..., \\"arguments\\": {...}}"},
                       {"from": "observation", "value": observation}, ...,
                       {"from": "gpt", "value": final answer}],
     "system": ..., "tools": "<JSON string of the function list>"}

LLaMA-Factory requires human/observation turns at odd positions and gpt/function_call turns at
even ones, so a step's thought has no turn of its own and is left out (a ``gpt`` turn before
each ``function_call`` would break the alternation). ``Finish`` is dropped and the final ``gpt``
turn is the answer, for the same reason as in the OpenAI export; the system prompt is the
native-tool one (without the numbered tool overview when ``export.compact_system``: the
``tools`` column carries the functions). Tool parameters carry JSON Schema only, as in ``openai``.

Failed calls: LLaMA-Factory's ShareGPT reader has no per-turn mask (its only switch,
``mask_history``, trains on the last turn alone; per-turn masks are open pull requests,
hiyouga/LlamaFactory#9630 and #10471), so a ``function_call`` turn whose call came back with an
error stays a training target here. No flag is written that the reader would ignore; the
count is on the card (``failed calls kept unmasked``). Use the ``openai``/``hf`` export
(``weight: 0``) with a trainer that reads per-message weights to leave them out.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pipeline.export.common import (
    EVAL,
    SPLITS,
    TRAIN,
    Dialogue,
    ExportContext,
    JsonArrayWriter,
    SplitRowsExporter,
    clean_function,
    functions_of,
    native_system_prompt,
)
from pipeline.io import dumps

DATASET_INFO = "dataset_info.json"
DATASET_PREFIX = "toolgen"
TAGS = {
    "role_tag": "from",
    "content_tag": "value",
    "user_tag": "human",
    "assistant_tag": "gpt",
    "observation_tag": "observation",
    "function_tag": "function_call",
    "system_tag": "system",
}


def sharegpt_sample(dialogue: Dialogue, *, compact: bool = False) -> dict[str, Any]:
    turns: list[dict[str, str]] = [{"from": "human", "value": dialogue.query}]
    for step in dialogue.calls:
        call = {"name": step.name, "arguments": step.arguments_object()}
        turns.append({"from": "function_call", "value": dumps(call).decode()})
        turns.append({"from": "observation", "value": step.observation or ""})
    turns.append({"from": "gpt", "value": dialogue.final_answer})
    functions = [clean_function(f) for f in functions_of(dialogue.tools, keep_finish=False)]
    return {"conversations": turns, "system": native_system_prompt(dialogue.system, compact=compact),
            "tools": dumps(functions).decode()}


def dataset_info(file_names: Mapping[str, str]) -> dict[str, Any]:
    """``dataset_info.json`` entries for the split files (LLaMA-Factory reads each as ``train``)."""
    return {
        f"{DATASET_PREFIX}_{split}": {
            "file_name": file_names[split],
            "formatting": "sharegpt",
            "columns": {"messages": "conversations", "system": "system", "tools": "tools"},
            "tags": dict(TAGS),
        }
        for split in (TRAIN, EVAL)
    }


class ShareGptExporter(SplitRowsExporter):
    """Writes ``train.json`` / ``eval.json`` and ``dataset_info.json``."""

    def __init__(self, folder: Path, context: ExportContext) -> None:
        compact = context.settings.export.compact_system
        super().__init__(folder, ".json", JsonArrayWriter,
                         lambda dialogue, split: [sharegpt_sample(dialogue, compact=compact)],
                         failed_note="failed_calls_kept_unmasked")
        self._folder = folder

    def close(self) -> None:
        super().close()
        info = dataset_info({s: f"{s}.json" for s in SPLITS})
        (self._folder / DATASET_INFO).write_bytes(dumps(info, indent=True) + b"\n")

    def paths(self) -> list[Path]:
        return [*super().paths(), self._folder / DATASET_INFO]
