"""Each export read back the way its consumer reads it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from datasets import load_dataset
from jsonschema import Draft202012Validator

from pipeline.export.common import EVAL, TRAIN, dialogue_of, normalise_query
from pipeline.export.stage import ExportReport, export_datasets
from pipeline.io import read_jsonl
from pipeline.manifest import read_manifest
from pipeline.records import accepted_path, iter_accepted
from pipeline.settings import EXPORT_FORMATS
from tests.export.conftest import settings_for

# An OpenAI chat fine-tuning message, as the exporter must write it.
MESSAGE_SCHEMA: dict[str, Any] = {
    "oneOf": [
        {"type": "object", "required": ["role", "content"], "additionalProperties": False,
         "properties": {"role": {"enum": ["system", "user"]}, "content": {"type": "string", "minLength": 1}}},
        {"type": "object", "required": ["role", "content", "tool_calls", "weight"], "additionalProperties": False,
         "properties": {
             "role": {"const": "assistant"},
             "content": {"type": ["string", "null"]},
             "weight": {"enum": [0, 1]},
             "tool_calls": {"type": "array", "minItems": 1, "maxItems": 1, "items": {
                 "type": "object", "required": ["id", "type", "function"], "additionalProperties": False,
                 "properties": {
                     "id": {"type": "string", "pattern": "^[A-Za-z0-9]{9}$"},
                     "type": {"const": "function"},
                     "function": {"type": "object", "required": ["name", "arguments"], "additionalProperties": False,
                                  "properties": {"name": {"type": "string", "pattern": "^[a-zA-Z0-9_-]{1,64}$"},
                                                 "arguments": {"type": "string"}}}}}}}},
        {"type": "object", "required": ["role", "content", "weight"], "additionalProperties": False,
         "properties": {"role": {"const": "assistant"}, "content": {"type": "string", "minLength": 1},
                        "weight": {"const": 1}}},
        {"type": "object", "required": ["role", "tool_call_id", "content"], "additionalProperties": False,
         "properties": {"role": {"const": "tool"}, "tool_call_id": {"type": "string"}, "content": {"type": "string"}}},
    ]
}


@pytest.fixture(scope="module")
def exported(offline_run: Path) -> dict[str, ExportReport]:
    # A large eval share so both splits have rows to check.
    return export_datasets(settings_for(offline_run, export={"eval_fraction": 0.3}), run_dir=offline_run)


def folder(run_dir: Path, fmt: str) -> Path:
    return run_dir / "datasets" / fmt


def accepted(run_dir: Path) -> list[dict[str, Any]]:
    return list(read_jsonl(run_dir / "verified" / "accepted.jsonl"))


def test_every_format_is_written_with_both_splits(exported: dict[str, ExportReport], offline_run: Path) -> None:
    assert set(exported) == set(EXPORT_FORMATS)
    total = len(accepted(offline_run))
    for fmt, report in exported.items():
        assert report.samples_read == total and report.samples_skipped == 0, fmt
        assert report.samples[TRAIN] > 0 and report.samples[EVAL] > 0, fmt
        listed = sorted(p.name for p in folder(offline_run, fmt).iterdir())
        assert listed == report.files, fmt
        assert {"README.md", "SHA256SUMS"} <= set(listed)
    assert not list((offline_run / "datasets").glob(".*")), "no staging folder is left behind"


def test_checksums_pass_sha256sum_check(exported: dict[str, ExportReport], offline_run: Path) -> None:
    for fmt, report in exported.items():
        result = subprocess.run(["sha256sum", "-c", "--strict", "SHA256SUMS"], cwd=folder(offline_run, fmt),
                                capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stdout + result.stderr
        names = {line.split("  ", 1)[1] for line in (folder(offline_run, fmt) / "SHA256SUMS").read_text().splitlines()}
        assert names == set(report.files) - {"SHA256SUMS"}


def test_card_states_sources_counts_and_offline_origin(exported: dict[str, ExportReport], offline_run: Path) -> None:
    card = (folder(offline_run, "openai") / "README.md").read_text()
    assert "rule-based engine" in card and "offline-rule-policy" in card
    assert "Catalog: " in card and " tools, " in card
    assert f"| train | {exported['openai'].samples[TRAIN]} |" in card
    assert "Licence" in card and "sha256sum -c SHA256SUMS" in card


def test_manifest_records_every_format(exported: dict[str, ExportReport], offline_run: Path) -> None:
    section = read_manifest(offline_run)["stages"]["export"]
    assert set(section) == set(EXPORT_FORMATS)
    assert section["openai"]["rows"] == exported["openai"].rows


# --- openai ----------------------------------------------------------------------------------------


def test_openai_loads_with_datasets_and_every_message_is_valid(exported: dict[str, ExportReport],
                                                                offline_run: Path) -> None:
    base = folder(offline_run, "openai")
    loaded = load_dataset("json", data_files={s: str(base / f"{s}.jsonl") for s in (TRAIN, EVAL)})
    assert {s: loaded[s].num_rows for s in (TRAIN, EVAL)} == exported["openai"].rows
    validator = Draft202012Validator(MESSAGE_SCHEMA)
    for split in (TRAIN, EVAL):
        for row in read_jsonl(base / f"{split}.jsonl"):
            assert row["parallel_tool_calls"] is False
            messages = row["messages"]
            for message in messages:
                errors = [e.message for e in validator.iter_errors(message)]
                assert not errors, (message, errors)
            assert [m["role"] for m in messages[:2]] == ["system", "user"]
            assert "Finish" not in messages[0]["content"]
            final = messages[-1]
            assert final["role"] == "assistant" and "tool_calls" not in final and final["content"].strip()
            pending = None
            for message in messages[2:-1]:
                if message["role"] == "assistant":
                    assert pending is None, "a call must be answered before the next one"
                    call = message["tool_calls"][0]
                    assert isinstance(json.loads(call["function"]["arguments"]), dict)
                    assert call["function"]["name"] != "Finish"
                    pending = call["id"]
                else:
                    assert message["role"] == "tool" and message["tool_call_id"] == pending
                    pending = None
            names = {t["function"]["name"] for t in row["tools"]}
            assert "Finish" not in names
            for tool in row["tools"]:
                assert tool["type"] == "function"
                parameters = tool["function"]["parameters"]
                Draft202012Validator.check_schema(parameters)
                text = json.dumps(parameters)
                assert '"optional"' not in text and "example_value" not in text
            for message in messages:
                if message.get("tool_calls"):
                    assert message["tool_calls"][0]["function"]["name"] in names


def test_openai_moves_examples_into_descriptions(exported: dict[str, ExportReport], offline_run: Path) -> None:
    row = next(read_jsonl(folder(offline_run, "openai") / f"{TRAIN}.jsonl"))
    properties = [p for t in row["tools"] for p in t["function"]["parameters"].get("properties", {}).values()]
    assert not any("examples" in p or "example" in p for p in properties)
    assert any("Example: " in p.get("description", "") for p in properties)


# --- sharegpt --------------------------------------------------------------------------------------


def test_sharegpt_follows_llama_factory_turn_order(exported: dict[str, ExportReport], offline_run: Path) -> None:
    base = folder(offline_run, "sharegpt")
    loaded = load_dataset("json", data_files={s: str(base / f"{s}.json") for s in (TRAIN, EVAL)})
    assert {s: loaded[s].num_rows for s in (TRAIN, EVAL)} == exported["sharegpt"].rows
    for split in (TRAIN, EVAL):
        for sample in json.loads((base / f"{split}.json").read_text()):
            assert set(sample) == {"conversations", "system", "tools"}
            turns = sample["conversations"]
            for position, turn in enumerate(turns):
                allowed = {"human", "observation"} if position % 2 == 0 else {"gpt", "function_call"}
                assert turn["from"] in allowed, (position, turn["from"])
                assert isinstance(turn["value"], str)
                if turn["from"] == "function_call":
                    call = json.loads(turn["value"])
                    assert set(call) == {"name", "arguments"} and isinstance(call["arguments"], dict)
            assert turns[0]["from"] == "human" and turns[-1]["from"] == "gpt" and len(turns) % 2 == 0
            tools = json.loads(sample["tools"])
            assert tools and all({"name", "description", "parameters"} <= set(t) for t in tools)
            assert "Finish" not in {t["name"] for t in tools}


def test_sharegpt_dataset_info_registers_the_split_files(exported: dict[str, ExportReport], offline_run: Path) -> None:
    base = folder(offline_run, "sharegpt")
    info = json.loads((base / "dataset_info.json").read_text())
    assert set(info) == {"toolgen_train", "toolgen_eval"}
    for entry in info.values():
        assert (base / entry["file_name"]).is_file()
        assert entry["formatting"] == "sharegpt"
        assert entry["columns"] == {"messages": "conversations", "system": "system", "tools": "tools"}
        assert entry["tags"]["function_tag"] == "function_call" and entry["tags"]["observation_tag"] == "observation"


# --- toolllama -------------------------------------------------------------------------------------


def test_toolllama_has_one_sample_per_step_in_toolbench_layout(exported: dict[str, ExportReport],
                                                                offline_run: Path) -> None:
    base = folder(offline_run, "toolllama")
    samples = [s for split in (TRAIN, EVAL) for s in json.load((base / f"{split}.json").open())]
    steps = sum(sum(1 for m in r["messages"] if m.get("tool_calls")) for r in accepted(offline_run))
    assert len(samples) == steps == sum(exported["toolllama"].rows.values())
    for sample in samples:
        assert set(sample) == {"id", "conversations"}
        conversations = sample["conversations"]
        roles = [turn["from"] for turn in conversations]
        assert roles[:2] == ["system", "user"] and roles[-1] == "assistant"
        assert roles[2:] == ["assistant", "function"] * ((len(roles) - 3) // 2) + ["assistant"]
        step, _, query = sample["id"].partition(": ")
        assert step == f"Step {len(conversations) - 1}" and query
        system = conversations[0]["value"]
        assert "Your output should follow this format:\nThought:\nAction\nAction Input:\n" in system
        assert "\nSpecifically, you have access to the following APIs: [{'name': " in system
        assert "'Finish'" in system
        for turn in conversations[2::2]:
            assert turn["value"].startswith("\nThought: ") and "\nThought: Thought:" not in turn["value"]
            _, _, action = turn["value"].partition("\nAction: ")
            name, _, arguments = action.partition("\nAction Input: ")
            assert name and isinstance(json.loads(arguments), dict)
    finals = [s for s in samples if "\nAction: Finish\n" in s["conversations"][-1]["value"]]
    assert len(finals) == len(accepted(offline_run))


# --- retriever -------------------------------------------------------------------------------------


def test_retriever_files_read_as_toolbench_reads_them(exported: dict[str, ExportReport], offline_run: Path) -> None:
    base = folder(offline_run, "retriever")
    documents = pd.read_csv(base / "corpus.tsv", sep="\t")
    assert list(documents.columns) == ["docid", "document_content"]
    corpus = {}
    for row in documents.itertuples():
        doc = json.loads(row.document_content)
        assert {"category_name", "tool_name", "api_name", "api_description", "required_parameters",
                "optional_parameters", "method", "template_response"} <= set(doc)
        corpus[row.docid] = (doc["tool_name"], doc["api_name"])
    assert len(corpus) == exported["retriever"].notes["corpus_documents"] == documents.docid.max()
    queries = {}
    for name in ("train", "test"):
        frame = pd.read_csv(base / f"{name}.query.txt", sep="\t", names=["qid", "query"])
        queries[name] = dict(zip(frame.qid, frame["query"], strict=True))
        labels = pd.read_csv(base / f"qrels.{name}.tsv", sep="\t", names=["qid", "useless", "docid", "label"])
        assert set(labels.useless) == {0} and set(labels.label) == {1}
        assert set(labels.qid) == set(queries[name]) and set(labels.docid) <= set(corpus)
    assert not set(queries["train"]) & set(queries["test"])
    assert not {normalise_query(q) for q in queries["train"].values()} & {
        normalise_query(q) for q in queries["test"].values()}
    # every relevant API of a sample is among its qrels
    record = accepted(offline_run)[0]
    text = " ".join(record["query"].split())
    split = "train" if text in queries["train"].values() else "test"
    qid = next(q for q, t in queries[split].items() if t == text)
    labels = pd.read_csv(base / f"qrels.{split}.tsv", sep="\t", names=["qid", "useless", "docid", "label"])
    relevant = {corpus[d] for d in labels[labels.qid == qid].docid}
    assert {(t, a) for t, a in record["relevant APIs"]} == relevant


# --- rl --------------------------------------------------------------------------------------------


def test_rl_rows_have_verl_layout_and_ground_truth_round_trips(exported: dict[str, ExportReport],
                                                                 offline_run: Path) -> None:
    from pipeline.verify.reward import TOOLRL_SYSTEM_PROMPT, parse_completion, toolrl_reward

    base = folder(offline_run, "rl")
    rows = [(split, row) for split in (TRAIN, EVAL) for row in read_jsonl(base / f"{split}.jsonl")]
    assert len(rows) == sum(exported["rl"].rows.values()) == sum(exported["toolllama"].rows.values())
    responses = 0
    for split, row in rows:
        assert row["data_source"] == "toolgen" and row["ability"] == "tool_use"
        assert [m["role"] for m in row["prompt"]] == ["system", "user"]
        assert row["prompt"][0]["content"].startswith(TOOLRL_SYSTEM_PROMPT)
        assert '"name":"Finish"' not in row["prompt"][0]["content"]
        assert row["reward_model"]["style"] == "rule"
        truth = row["reward_model"]["ground_truth"]
        parsed = parse_completion(truth)
        assert parsed.think is not None and parsed.calls is not None
        assert bool(parsed.calls) != (parsed.response is not None), "a step calls a tool or answers"
        responses += parsed.response is not None
        assert toolrl_reward(truth, truth).total == 4.0
        info = row["extra_info"]
        assert info["split"] == split and isinstance(info["step"], int)
        assert row["prompt"][1]["content"].count("<obs>") == info["step"]
    assert responses == len(accepted(offline_run))


def test_the_accepted_samples_read_as_typed_records_and_as_dicts_alike(offline_run: Path) -> None:
    typed = list(iter_accepted(offline_run))
    plain = list(read_jsonl(accepted_path(offline_run)))
    assert len(typed) == len(plain) and all(sample.verification.passed for sample in typed)
    assert [dialogue_of(sample) for sample in typed] == [dialogue_of(record) for record in plain]
    assert all(d is not None and d.relevant_apis for d in map(dialogue_of, typed))
