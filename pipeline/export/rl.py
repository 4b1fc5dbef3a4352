"""RL prompts with rule-reward ground truth, in verl's row layout (ToolRL-style GRPO data).

Files: ``train.jsonl`` and ``eval.jsonl``, one row per decision point of the chosen path (every
assistant step, the final answer included)::

    {"data_source": "toolgen",
     "prompt": [{"role": "system", "content": TOOLRL_SYSTEM_PROMPT + tools},
                {"role": "user", "content": query + the earlier steps and their observations}],
     "ability": "tool_use",
     "reward_model": {"style": "rule", "ground_truth": render_reference(thought, calls, response)},
     "extra_info": {"query_id", "group", "step", "split"}}

A row asks the policy for the next step only: the earlier steps are given in the reference
format (``<think>``/``<tool_call>``) each followed by ``<obs>observation</obs>``, so the prompt
shows the model the same format it must produce. The ground truth of an API step is its thought
and call; of the last step, its thought and ``<response>`` with the final answer (``Finish`` is
not offered as a tool: answering is the ``<response>`` block). ``extra_info.step`` counts
decision points from 0. Score rows with :func:`pipeline.verify.reward.compute_score`.

verl's loader reads parquet; convert with ``datasets.load_dataset("json", ...).to_parquet(...)``
(JSONL is written so the export streams).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.export.common import (
    Dialogue,
    ExportContext,
    Split,
    SplitRowsExporter,
    Step,
    clean_function,
    functions_of,
)
from pipeline.io import JsonlWriter

DATA_SOURCE = "toolgen"
ABILITY = "tool_use"


def _call(step: Step) -> dict[str, Any]:
    return {"name": step.name, "parameters": step.arguments_object()}


def rl_rows(dialogue: Dialogue, split: Split) -> list[dict[str, Any]]:
    """One verl row per decision point of ``dialogue``."""
    # Imported here: the reward module is the verify stage's, and exports of other formats
    # should not pay for (or break on) it.
    from pipeline.verify.reward import render_reference, toolrl_system_message

    functions = [clean_function(f) for f in functions_of(dialogue.tools, keep_finish=False)]
    system = toolrl_system_message(functions)
    history: list[str] = []
    rows = []
    for number, step in enumerate(dialogue.steps):
        if step.is_finish:
            reference = render_reference(step.thought, None, dialogue.final_answer)
        else:
            reference = render_reference(step.thought, [_call(step)], None)
        user = dialogue.query if not history else dialogue.query + "\n\n" + "\n".join(history)
        rows.append({
            "data_source": DATA_SOURCE,
            "prompt": [{"role": "system", "content": system}, {"role": "user", "content": user}],
            "ability": ABILITY,
            "reward_model": {"style": "rule", "ground_truth": reference},
            "extra_info": {"query_id": dialogue.query_id, "group": dialogue.group, "step": number,
                           "split": split},
        })
        if not step.is_finish:
            history.append(f"{reference}\n<obs>{step.observation or ''}</obs>")
    return rows


class RlExporter(SplitRowsExporter):
    """Writes ``train.jsonl`` / ``eval.jsonl``."""

    def __init__(self, folder: Path, context: ExportContext) -> None:
        super().__init__(folder, ".jsonl", JsonlWriter, rl_rows)
