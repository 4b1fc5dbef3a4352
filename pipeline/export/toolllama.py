"""ToolLLaMA training data, as ToolBench's ``preprocess/preprocess_toolllama_data.py`` makes it.

Files: ``train.json`` and ``eval.json``, each a JSON list of
``{"id": "Step {i}: {query}", "conversations": [{"from": ..., "value": ...}, ...]}``.

* One sample per assistant step of the chosen path, holding the conversation up to and
  including that step. ``i`` is the step's message index in the conversation (system 0, user 1,
  first assistant 2, ...), which is the number ToolBench puts there.
* ``system``: the AutoGPT prompt with ToolBench's ReAct format note inserted after "with a
  function call to actually excute your step." and ``"\\nSpecifically, you have access to the
  following APIs: " + str(functions)``. ``str`` (Python's repr, single quotes) and not JSON on
  purpose: that is what ToolBench's training data and its ToolLLaMA inference code
  (``process_system_message``) put there, and a model is best served the prompt it was trained on.
* ``assistant``: ``"\\nThought: {thought}\\nAction: {name}\\nAction Input: {arguments}"``.
* ``function``: the observation the policy saw.
* ``Finish`` stays, as in ToolBench: the last step's action is ``Finish`` with
  ``{"return_type": "give_answer", "final_answer": ...}``, and its functions list includes it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.export.common import (
    Dialogue,
    ExportContext,
    JsonArrayWriter,
    SplitRowsExporter,
    Step,
    functions_of,
)

FORMAT_ANCHOR = "with a function call to actually excute your step."  # sic, ToolBench's spelling
FORMAT_NOTE = " Your output should follow this format:\nThought:\nAction\nAction Input:\n"
APIS_INTRO = "\nSpecifically, you have access to the following APIs: "


def toolllama_system(system: str, functions: list[dict[str, Any]]) -> str:
    """ToolBench's ``process_system_message``: format note, then the function dicts."""
    if FORMAT_ANCHOR in system:
        system = system.replace(FORMAT_ANCHOR, FORMAT_ANCHOR + FORMAT_NOTE, 1)
    return system + APIS_INTRO + str(functions)


def react_text(step: Step) -> str:
    return f"\nThought: {step.thought}\nAction: {step.name}\nAction Input: {step.arguments}"


def samples_of(dialogue: Dialogue) -> list[dict[str, Any]]:
    """One ToolLLaMA sample per assistant step of ``dialogue``."""
    system = toolllama_system(dialogue.system, functions_of(dialogue.tools, keep_finish=True))
    history: list[dict[str, str]] = [{"from": "system", "value": system}, {"from": "user", "value": dialogue.user}]
    samples = []
    for step in dialogue.steps:
        history.append({"from": "assistant", "value": react_text(step)})
        samples.append({"id": f"Step {step.index}: {dialogue.query}", "conversations": list(history)})
        if step.observation is not None:
            history.append({"from": "function", "value": step.observation})
    return samples


class ToolLlamaExporter(SplitRowsExporter):
    """Writes ``train.json`` / ``eval.json``."""

    def __init__(self, folder: Path, context: ExportContext) -> None:
        super().__init__(folder, ".json", JsonArrayWriter, lambda dialogue, split: samples_of(dialogue))
