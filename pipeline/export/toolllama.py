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

Failed calls: ToolBench's ``train.py`` trains on every assistant turn of a sample and reads no
per-turn flag, so a step whose call came back with an error stays a target (in its own sample
and as history in the later ones). No flag is written that it would ignore; the card counts them
(``failed calls kept unmasked``).

``export.compact_system`` shortens the system prompt (ToolBench's is 5.9k–18.3k characters,
mostly the function list) while keeping its layout: each function's description loses
ToolBench's "This is the subfunction for tool ..." preamble and keeps its first sentence (at
most 160 characters); parameter descriptions keep their first sentence (at most 100);
``example_value``, ``pattern`` and ``format`` are dropped from parameters; the numbered tool
overview keeps each tool's first sentence. Names, types, enums, defaults, ``required`` and
``optional`` stay. A ToolLLaMA checkpoint was trained on the long form: use the compact one to
train a new model, not to prompt ToolLLaMA.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pipeline.export.common import (
    TOOL_OVERVIEW,
    Dialogue,
    ExportContext,
    JsonArrayWriter,
    SplitRowsExporter,
    Step,
    functions_of,
    shorten,
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


_PREAMBLE = re.compile(r'^This is the subfunction for tool "[^"]*", you can use this tool\.'
                       r'(The description of this function is: )?', re.DOTALL)
_DROPPED_PARAMETER_KEYS = ("example_value", "pattern", "format")
_OVERVIEW_ENTRY = re.compile(r"^(\d+\.[^:\n]+):[ \t]?(.*)$", re.MULTILINE)


def compact_function(function: dict[str, Any]) -> dict[str, Any]:
    """``function`` with short descriptions and without example values (see the module notes)."""
    description = _PREAMBLE.sub("", str(function.get("description") or "")).strip().strip('"')
    parameters = function.get("parameters")
    if isinstance(parameters, dict) and isinstance(parameters.get("properties"), dict):
        properties = {}
        for name, schema in parameters["properties"].items():
            if isinstance(schema, dict):
                schema = {k: v for k, v in schema.items() if k not in _DROPPED_PARAMETER_KEYS}
                if "description" in schema:
                    schema["description"] = shorten(str(schema["description"]), 100)
            properties[name] = schema
        parameters = {**parameters, "properties": properties}
    return {**function, "description": shorten(description, 160), "parameters": parameters}


def compact_overview(system: str) -> str:
    """The AutoGPT prompt with each tool of the numbered overview cut to its first sentence."""
    at = system.find(TOOL_OVERVIEW)
    if at == -1:
        return system
    tail = system[at + len(TOOL_OVERVIEW):]
    entries = _OVERVIEW_ENTRY.findall(tail)
    if not entries:
        return system
    return system[:at + len(TOOL_OVERVIEW)] + "\n" + "".join(f"{name}: {shorten(text, 160)}\n" for name, text in entries)


def samples_of(dialogue: Dialogue, *, compact: bool = False) -> list[dict[str, Any]]:
    """One ToolLLaMA sample per assistant step of ``dialogue``."""
    functions = functions_of(dialogue.tools, keep_finish=True)
    original = dialogue.system
    if compact:
        functions, original = [compact_function(f) for f in functions], compact_overview(original)
    system = toolllama_system(original, functions)
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
        compact = context.settings.export.compact_system
        super().__init__(folder, ".json", JsonArrayWriter, lambda dialogue, split: samples_of(dialogue, compact=compact),
                         failed_note="failed_calls_kept_unmasked")
