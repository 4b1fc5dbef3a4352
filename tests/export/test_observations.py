"""Observations in exports are JSON, cut structurally, including samples annotated before the cut
kept JSON intact (their raw cuts are redone from the whole observation the search tree keeps)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pipeline.env.observation import Observation
from pipeline.env.shorten import LEGACY_MARKER
from pipeline.export.common import dialogue_of
from pipeline.io import read_jsonl
from pipeline.records import TrajectoryRecord, accepted_path


def accepted(run_dir: Path) -> list[dict[str, Any]]:
    return list(read_jsonl(accepted_path(run_dir)))


def test_every_exported_observation_is_json(offline_run: Path) -> None:
    observations = [step.observation for record in accepted(offline_run)
                    for step in (dialogue_of(record) or _no_dialogue()).calls]
    assert observations
    for text in observations:
        json.loads(text or "")


def test_an_old_raw_cut_is_redone_from_the_tree_at_the_same_length(offline_run: Path) -> None:
    limit = 120
    record, call_id, whole = next(
        (record, node.tool_call_id, node.observation)
        for record in accepted(offline_run)
        for node in TrajectoryRecord.of(record).path_nodes()
        if node.observation is not None and len(Observation.model_validate(node.observation).for_model(10**6)) > limit
    )
    for message in record["messages"]:  # as the annotate stage wrote it before structural cuts
        if message["role"] == "tool" and message["tool_call_id"] == call_id:
            message["content"] = Observation.model_validate(whole).for_model(10**6)[:limit] + LEGACY_MARKER

    dialogue = dialogue_of(record)

    shown = next(step.observation for step in (dialogue or _no_dialogue()).calls if step.call_id == call_id)
    assert shown == Observation.model_validate(whole).for_model(limit)
    assert len(shown or "") <= limit and json.loads(shown or "")


def _no_dialogue() -> Any:
    raise AssertionError("an accepted sample has a dialogue")
