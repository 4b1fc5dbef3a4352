"""The export stage: split rule, errors, atomic replacement, manifest merge, streaming."""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipeline.errors import UsageError
from pipeline.export import stage as export_stage
from pipeline.export.common import EVAL, TRAIN, clean_schema, normalise_query, split_of
from pipeline.export.lengths import measure_for
from pipeline.export.stage import NothingToExport, export_dataset, export_datasets
from pipeline.io import read_jsonl, write_jsonl
from pipeline.manifest import read_manifest
from pipeline.records import accepted_path
from tests.export.conftest import DUPLICATE_COPIES, settings_for


def test_split_depends_only_on_the_normalised_instruction() -> None:
    query = "Find the weather in Paris, then convert 20 EUR to USD."
    variants = [query, query.upper(), f"  {query.replace(' ', '   ')}\n"]
    for seed in range(5):
        assert len({split_of(v, eval_fraction=0.5, seed=seed) for v in variants}) == 1
    assert split_of(query, eval_fraction=0.0, seed=0) == TRAIN
    assert split_of(query, eval_fraction=0.9999999, seed=0) == EVAL
    queries = [f"query number {n}" for n in range(4000)]
    share = sum(split_of(q, eval_fraction=0.1, seed=3) == EVAL for q in queries) / len(queries)
    assert 0.08 < share < 0.12
    assert [split_of(q, eval_fraction=0.5, seed=1) for q in queries[:50]] != [
        split_of(q, eval_fraction=0.5, seed=2) for q in queries[:50]]


def test_duplicate_instructions_never_straddle_the_split(run_copy: Path) -> None:
    records = list(read_jsonl(accepted_path(run_copy)))
    assert sum(str(r["query_id"]).endswith("-dup") for r in records) == DUPLICATE_COPIES
    sides: dict[str, set[str]] = {}
    for seed in range(6):  # several seeds, so some duplicate lands in eval at least once
        settings = settings_for(run_copy, export={"eval_fraction": 0.5, "split_seed": seed})
        export_dataset(settings, "openai", run_dir=run_copy)
        for split in (TRAIN, EVAL):
            for row in read_jsonl(run_copy / "datasets" / "openai" / f"{split}.jsonl"):
                sides.setdefault(f"{seed}:{normalise_query(row['messages'][1]['content'])}", set()).add(split)
    assert all(len(found) == 1 for found in sides.values())
    assert {next(iter(s)) for s in sides.values()} == {TRAIN, EVAL}


def test_missing_accepted_file_names_it_and_the_verify_command(tmp_path: Path) -> None:
    with pytest.raises(NothingToExport) as caught:
        export_dataset(settings_for(tmp_path), "openai", run_dir=tmp_path)
    assert str(accepted_path(tmp_path)) in str(caught.value) and "toolgen verify" in str(caught.value)
    assert not (tmp_path / "datasets" / "openai").exists()


def test_unknown_format_is_named_with_the_valid_ones(run_copy: Path) -> None:
    with pytest.raises(UsageError, match=r"'parquet'.*toolllama, openai, hf, sharegpt, rl, retriever"):
        export_datasets(settings_for(run_copy), ["openai", "parquet"], run_dir=run_copy)
    assert not (run_copy / "datasets" / "openai").exists(), "nothing is written before formats are checked"


def test_manifest_section_merges_formats_exported_separately(run_copy: Path) -> None:
    settings = settings_for(run_copy)
    export_dataset(settings, "openai", run_dir=run_copy)
    export_dataset(settings, "toolllama", run_dir=run_copy)
    section = read_manifest(run_copy)["stages"]["export"]
    assert set(section) == {"openai", "toolllama"}
    assert section["toolllama"]["format"] == "toolllama" and section["toolllama"]["seconds"] >= 0


def test_a_failed_export_keeps_the_previous_one_and_leaves_no_partial_files(
        run_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_for(run_copy)
    export_dataset(settings, "sharegpt", run_dir=run_copy)
    before = {p.name: p.read_bytes() for p in (run_copy / "datasets" / "sharegpt").iterdir()}

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("disk full")

    monkeypatch.setattr(export_stage, "write_checksums", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        export_dataset(settings, "sharegpt", run_dir=run_copy)
    after = {p.name: p.read_bytes() for p in (run_copy / "datasets" / "sharegpt").iterdir()}
    assert after == before
    assert [p.name for p in (run_copy / "datasets").iterdir()] == ["sharegpt"]


def test_samples_without_an_answer_or_failing_verification_are_skipped(run_copy: Path) -> None:
    records = list(read_jsonl(accepted_path(run_copy)))[:3]
    records[0] = {**records[0], "verification": {"passed": False, "failed_at": "semantic", "format": {"passed": True}}}
    records[1] = {**records[1], "messages": records[1]["messages"][:-1]}  # no Finish step
    write_jsonl(accepted_path(run_copy), records)
    report = export_dataset(settings_for(run_copy), "openai", run_dir=run_copy)
    assert report.samples_read == 3 and report.samples_skipped == 2 and sum(report.rows.values()) == 1


def test_clean_schema_touches_only_schema_keywords() -> None:
    schema = {"type": "object", "required": ["optional"], "optional": ["x"],
              "properties": {"optional": {"type": "string", "example_value": "a"},
                             "x": {"type": "array", "items": {"type": "integer", "example_value": 3}}}}
    assert clean_schema(schema) == {
        "type": "object", "required": ["optional"],
        "properties": {"optional": {"type": "string", "description": "Example: a"},
                       "x": {"type": "array", "items": {"type": "integer", "description": "Example: 3"}}}}


# --- streaming -------------------------------------------------------------------------------------


def tiny_records(count: int) -> Iterator[dict[str, Any]]:
    """Small but complete answered samples, made one at a time."""
    tool = {"type": "function", "function": {"name": "echo_for_demo", "description": "Echo.",
                                             "parameters": {"type": "object", "properties": {
                                                 "text": {"type": "string", "example_value": "hi"}},
                                                 "required": ["text"], "optional": []}}}
    finish = {"type": "function", "function": {"name": "Finish", "description": "Finish.",
                                               "parameters": {"type": "object", "properties": {}}}}
    for n in range(count):
        query = f"Please echo the word number {n} back to me."
        answer = json.dumps({"return_type": "give_answer", "final_answer": f"It said {n}."})
        yield {
            "query": query, "query_id": n, "group": "G1", "finish_type": "give_answer",
            "relevant APIs": [["demo", "echo"]], "tools": [tool, finish],
            "verification": {"passed": True, "format": {"passed": True}},
            "messages": [
                {"role": "system", "content": "You are AutoGPT.\nYou have access of the following tools:\n1.demo: d\n"},
                {"role": "user", "content": f"\n{query}\nBegin!\n"},
                {"role": "assistant", "content": "Thought: echo it.", "tool_calls": [
                    {"id": f"c{n}", "type": "function", "function": {"name": "echo_for_demo",
                                                                     "arguments": json.dumps({"text": str(n)})}}]},
                {"role": "tool", "tool_call_id": f"c{n}", "content": json.dumps({"error": "", "response": str(n)})},
                {"role": "assistant", "content": "Thought: done.", "tool_calls": [
                    {"id": f"f{n}", "type": "function", "function": {"name": "Finish", "arguments": answer}}]},
            ],
        }


def test_export_streams_instead_of_holding_the_samples(tmp_path: Path) -> None:
    count = 20_000
    write_jsonl(accepted_path(tmp_path), tiny_records(count))
    size = accepted_path(tmp_path).stat().st_size
    settings = settings_for(tmp_path)
    measure_for("sharegpt")  # the card's tokenizer: loaded once per process, not per sample
    tracemalloc.start()
    try:
        reports = export_datasets(settings, ["sharegpt", "toolllama"], run_dir=tmp_path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sum(reports["sharegpt"].rows.values()) == count
    assert sum(reports["toolllama"].rows.values()) == 2 * count
    # streamed: a tenth of the input, plus the one 64-bit digest per sample (about 70 bytes in a
    # set) that the reader keeps to drop repeated samples
    assert peak < size / 10 + 80 * count, f"peak {peak} bytes for a {size}-byte input"
    rows = json.loads((tmp_path / "datasets" / "sharegpt" / "train.json").read_text())
    assert len(rows) == reports["sharegpt"].rows[TRAIN]
