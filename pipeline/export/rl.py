"""RL prompts with rule-reward ground truth, in verl's row layout (ToolRL-style GRPO data).

Files: ``train.parquet`` and ``eval.parquet`` for verl (its ``RLHFDataset`` reads parquet, or
``.json``, and refuses ``.jsonl``), and the same rows as ``train.jsonl`` / ``eval.jsonl``; one row
per decision point of the chosen path (every assistant step, the final answer included)::

    {"data_source": "toolgen",
     "prompt": [{"role": "system", "content": TOOLRL_SYSTEM_PROMPT + tools},
                {"role": "user", "content": query + the earlier steps and their observations}],
     "ability": "tool_use",
     "reward_model": {"style": "rule", "ground_truth": render_reference(thought, calls, response)},
     "extra_info": {"index", "query_id", "group", "step", "split"}}

Every column has one type in every row (strings, ``index`` and ``step`` integers; the ground
truth is the reference completion as text), so Arrow reads the files without guessing.

A row asks the policy for the next step only: the earlier steps are given in the reference
format (``<think>``/``<tool_call>``) each followed by ``<obs>observation</obs>``, so the prompt
shows the model the same format it must produce. The ground truth of an API step is its thought
and call; of the last step, its thought and ``<response>`` with the final answer (``Finish`` is
not offered as a tool: answering is the ``<response>`` block). ``extra_info.step`` counts
decision points from 0; ``extra_info.index`` is the row's place in its split file.

Train with verl: ``data.train_files=.../train.parquet data.val_files=.../eval.parquet``,
``custom_reward_function.path=<toolgen>/pipeline/verify/reward.py
custom_reward_function.name=compute_score`` (the file needs the standard library only and can be
copied). Prompts are long (the system prompt lists every tool of the sample, and later steps
carry the earlier observations): verl drops prompts longer than ``data.max_prompt_length`` tokens
(``filter_overlong_prompts``, default 1,024), so raise it to a few thousand.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.export.common import (
    SPLITS,
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


def parquet_schema() -> Any:
    """The Arrow schema of an RL row: every column has one type in every row (Arrow and
    ``datasets`` need that), the ground truth is the reference completion as text."""
    import pyarrow as pa  # type: ignore[import-untyped]

    message = pa.struct([("role", pa.string()), ("content", pa.string())])
    return pa.schema([
        ("data_source", pa.string()),
        ("prompt", pa.list_(message)),
        ("ability", pa.string()),
        ("reward_model", pa.struct([("style", pa.string()), ("ground_truth", pa.string())])),
        ("extra_info", pa.struct([("index", pa.int64()), ("query_id", pa.string()), ("group", pa.string()),
                                  ("step", pa.int64()), ("split", pa.string())])),
    ])


class ParquetRowsWriter:
    """Stream rows into a parquet file with :func:`parquet_schema`, one row group per
    ``batch_rows`` rows, so memory holds one batch, not the dataset."""

    def __init__(self, path: Path, batch_rows: int = 1024) -> None:
        import pyarrow.parquet as pq  # type: ignore[import-untyped]

        self.path = Path(path)
        self.count = 0
        self._schema = parquet_schema()
        self._names = set(self._schema.names)
        self._batch: list[dict[str, Any]] = []
        self._batch_rows = batch_rows
        self._writer = pq.ParquetWriter(self.path, self._schema)

    def write(self, row: dict[str, Any]) -> None:
        if set(row) != self._names:  # Arrow would drop an unknown column silently
            raise ValueError(f"RL row columns {sorted(row)} differ from the parquet schema's {sorted(self._names)}")
        self._batch.append(row)
        self.count += 1
        if len(self._batch) >= self._batch_rows:
            self._flush()

    def _flush(self) -> None:
        import pyarrow as pa

        if self._batch:
            self._writer.write_table(pa.Table.from_pylist(self._batch, schema=self._schema))
            self._batch = []

    def close(self) -> None:
        if self._writer.is_open:
            self._flush()
            self._writer.close()


class RlExporter(SplitRowsExporter):
    """Writes ``train.parquet`` / ``eval.parquet`` (what verl reads) and the same rows as
    ``train.jsonl`` / ``eval.jsonl``; the token lengths of the card come from the shared
    :class:`~pipeline.export.common.SplitRowsExporter`."""

    def __init__(self, folder: Path, context: ExportContext) -> None:
        super().__init__(folder, ".jsonl", JsonlWriter, self._indexed_rows)
        self._parquet = {split: ParquetRowsWriter(folder / f"{split}.parquet") for split in SPLITS}

    def _indexed_rows(self, dialogue: Dialogue, split: Split) -> list[dict[str, Any]]:
        rows = rl_rows(dialogue, split)
        for row in rows:
            # verl's RLHFDataset reads extra_info.index as the row's id: its place in the split.
            row["extra_info"] = {"index": self._parquet[split].count, **row["extra_info"]}
            self._parquet[split].write(row)
        return rows

    def close(self) -> None:
        super().close()
        for writer in self._parquet.values():
            writer.close()

    def paths(self) -> list[Path]:
        return [*(writer.path for writer in self._parquet.values()), *super().paths()]
