"""The ``hf`` export rendered by real chat templates, the way TRL's ``SFTTrainer`` renders rows.

The templates are the Jinja text of Qwen2.5-Instruct, Qwen3, Llama 3.1 (JSON tool calls),
Hermes-2-Pro (tool use) and Mistral-7B-Instruct-v0.3, kept in ``tests/fixtures/chat_templates``
(see the README there for sources). The tokenizer is built here from a one-word vocabulary: a
chat template needs a tokenizer object, not its vocabulary, and nothing is downloaded.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jinja2.exceptions import TemplateError
from tokenizers import Tokenizer
from tokenizers.models import WordLevel
from transformers import PreTrainedTokenizerFast

from pipeline.export.common import EVAL, NATIVE_SYSTEM_PROMPT, TRAIN, observation_failed
from pipeline.export.lengths import card_section, chatml_text, kept, percentile
from pipeline.export.stage import ExportReport, export_datasets
from pipeline.io import read_jsonl, write_jsonl
from pipeline.records import accepted_path
from tests.export.conftest import settings_for

TEMPLATES = Path(__file__).resolve().parents[1] / "fixtures" / "chat_templates"
NAMES = ["qwen2.5-instruct", "qwen3", "llama3.1-json", "hermes-2-pro-tool-use", "mistral-7b-instruct-v0.3"]


@pytest.fixture(scope="module")
def tokenizer() -> PreTrainedTokenizerFast:
    return PreTrainedTokenizerFast(tokenizer_object=Tokenizer(WordLevel({"<unk>": 0}, unk_token="<unk>")),
                                   bos_token="<s>", eos_token="</s>", unk_token="<unk>")


@pytest.fixture(scope="module")
def exported(offline_run: Path) -> dict[str, ExportReport]:
    return export_datasets(settings_for(offline_run, export={"eval_fraction": 0.3}), ["openai", "hf"],
                           run_dir=offline_run)


def rows(run_dir: Path, fmt: str) -> list[dict[str, Any]]:
    return [row for split in (TRAIN, EVAL) for row in read_jsonl(run_dir / "datasets" / fmt / f"{split}.jsonl")]


def render(tokenizer: PreTrainedTokenizerFast, name: str, row: dict[str, Any]) -> str:
    text = tokenizer.apply_chat_template(row["messages"], tools=row["tools"], tokenize=False,
                                         chat_template=(TEMPLATES / f"{name}.jinja").read_text(encoding="utf-8"))
    assert isinstance(text, str)
    return text


def tojson(value: Any) -> str:
    """What the templates' ``tojson`` filter writes (transformers: ``json.dumps(ensure_ascii=False)``)."""
    return json.dumps(value, ensure_ascii=False)


@pytest.mark.parametrize("name", NAMES)
def test_every_hf_row_renders_each_call_once_as_json_and_each_result(
        name: str, tokenizer: PreTrainedTokenizerFast, exported: dict[str, ExportReport], offline_run: Path) -> None:
    checked = 0
    for row in rows(offline_run, "hf"):
        text = render(tokenizer, name, row)  # a template that raises fails the test here
        calls = [m["tool_calls"][0]["function"] for m in row["messages"] if m.get("tool_calls")]
        for call in calls:
            arguments = call["arguments"]
            assert isinstance(arguments, dict)
            same = sum(other["arguments"] == arguments for other in calls)
            if arguments:  # "{}" also stands for empty schemas elsewhere in the text
                assert text.count(tojson(arguments)) == same, (name, arguments)
            assert tojson(tojson(arguments)) not in text, "arguments must not be a JSON string of JSON"
            checked += 1
        for message in row["messages"]:
            if message["role"] == "tool":
                content = message["content"]
                # Hermes and Llama 3.1 write the result through tojson, the others as it is
                assert content in text or tojson(content)[1:-1] in text, (name, content[:80])
        assert row["messages"][-1]["content"].strip() in text
    assert checked > 10


@pytest.mark.parametrize("name", ["qwen2.5-instruct", "llama3.1-json"])
def test_openai_file_comes_out_double_encoded_under_hf_templates(
        name: str, tokenizer: PreTrainedTokenizerFast, exported: dict[str, ExportReport], offline_run: Path) -> None:
    """Why ``hf`` exists: the ``openai`` file's arguments are strings (as OpenAI requires), and
    these templates write ``arguments | tojson``, so a model trained on it would learn escaped JSON."""
    row = next(r for r in rows(offline_run, "openai") if any(m.get("tool_calls") for m in r["messages"]))
    text = render(tokenizer, name, row)
    arguments = next(m["tool_calls"][0]["function"]["arguments"] for m in row["messages"] if m.get("tool_calls"))
    assert isinstance(arguments, str)
    assert tojson(arguments) in text  # "{\"key\": ...}"


def test_openai_file_fails_a_hermes_template_without_tool_names(
        tokenizer: PreTrainedTokenizerFast, exported: dict[str, ExportReport], offline_run: Path) -> None:
    row = next(r for r in rows(offline_run, "openai") if any(m["role"] == "tool" for m in r["messages"]))
    with pytest.raises(TemplateError, match="require a 'name' key"):
        render(tokenizer, "hermes-2-pro-tool-use", row)


def _with_a_failed_call(run_dir: Path) -> int:
    """Turn the first call of a few accepted samples into a failed one (an error observation):
    the offline policy seldom fails a call, and the test must not depend on it doing so."""
    path = accepted_path(run_dir)
    records = list(read_jsonl(path))
    changed = 0
    for record in records[:3]:
        tool_messages = [m for m in record["messages"] if m["role"] == "tool"]
        if tool_messages and not observation_failed(tool_messages[0]["content"]):
            tool_messages[0]["content"] = json.dumps({"error": "HTTP 500: internal error", "response": ""})
            changed += 1
    write_jsonl(path, records)
    return changed


def test_failed_calls_have_weight_0_and_the_rest_weight_1(run_copy: Path) -> None:
    injected = _with_a_failed_call(run_copy)
    exported = export_datasets(settings_for(run_copy, export={"eval_fraction": 0.3}), ["openai", "hf"],
                               run_dir=run_copy)
    offline_run = run_copy
    for fmt in ("openai", "hf"):
        failed = 0
        for row in rows(offline_run, fmt):
            messages = row["messages"]
            for at, message in enumerate(messages):
                if message["role"] != "assistant":
                    continue
                if message.get("tool_calls"):
                    result = messages[at + 1]
                    assert result["role"] == "tool"
                    assert message["weight"] == (0 if observation_failed(result["content"]) else 1)
                    failed += message["weight"] == 0
                else:
                    assert message["weight"] == 1
        assert failed == exported[fmt].notes["failed_calls_weight_0"], fmt
        assert failed >= injected > 0


def test_hf_rows_carry_tool_names_and_mistral_call_ids(exported: dict[str, ExportReport], offline_run: Path) -> None:
    openai_ids = [m["tool_call_id"] for r in rows(offline_run, "openai") for m in r["messages"] if m["role"] == "tool"]
    hf_ids = []
    for row in rows(offline_run, "hf"):
        pending: dict[str, str] = {}
        for message in row["messages"]:
            for call in message.get("tool_calls") or []:
                assert len(call["id"]) == 9 and call["id"].isalnum() and call["id"].isascii()
                pending[call["id"]] = call["function"]["name"]
            if message["role"] == "tool":
                assert message["name"] == pending.pop(message["tool_call_id"])
                hf_ids.append(message["tool_call_id"])
    assert hf_ids == openai_ids, "the same sample and step get the same id in both exports"


# --- token lengths on the card ---------------------------------------------------------------------


def test_length_rendering_is_qwen25s_template(tokenizer: PreTrainedTokenizerFast, exported: dict[str, ExportReport],
                                              offline_run: Path) -> None:
    for row in rows(offline_run, "hf")[:10]:
        assert chatml_text(row["messages"], row["tools"]) == render(tokenizer, "qwen2.5-instruct", row)


def test_cards_give_token_lengths_and_the_settings_that_keep_rows(offline_run: Path) -> None:
    reports = export_datasets(settings_for(offline_run, export={"eval_fraction": 0.3}),
                              ["hf", "sharegpt", "toolllama", "rl"], run_dir=offline_run)
    for fmt, setting in [("hf", "max_length"), ("sharegpt", "cutoff_len"), ("toolllama", "--model_max_length"),
                         ("rl", "data.max_prompt_length")]:
        report = reports[fmt]
        card = (offline_run / "datasets" / fmt / "README.md").read_text()
        assert "## Token lengths" in card and "Qwen2.5" in card and f"`{setting}` ≥ " in card, fmt
        figures = report.token_lengths[TRAIN]
        assert figures["rows"] == report.rows[TRAIN]
        assert 0 < figures["min"] <= figures["median"] <= figures["p95"] <= figures["max"]
        assert f"| {TRAIN} | {figures['rows']} | {figures['min']} | {figures['median']} |" in card
    # a toolllama row holds the whole ToolBench prompt: longer than the same sample's hf row
    assert reports["toolllama"].token_lengths[TRAIN]["max"] > reports["hf"].token_lengths[TRAIN]["median"]


def test_kept_counts_and_percentiles() -> None:
    values = list(range(1, 101))
    assert percentile(values, 0.95) == 95 and percentile(values, 1.0) == 100 and percentile([7], 0.95) == 7
    assert kept(values, 50) == 50
    lines = "\n".join(card_section("sharegpt", {TRAIN: values, EVAL: []}))
    assert "`cutoff_len` ≥ 95 keeps 95%" in lines and "≥ 100 keeps all" in lines
    assert "the default 2048 keeps them all" in lines
    assert "the default 1024 keeps 2 of 3 (67%) whole" in "\n".join(card_section("hf", {TRAIN: [10, 20, 2000]}))


# --- compact system prompts ------------------------------------------------------------------------


def test_compact_system_prompts_keep_the_layout_and_every_function(run_copy: Path) -> None:
    formats = ["toolllama", "hf", "sharegpt"]
    full = export_datasets(settings_for(run_copy), formats, run_dir=run_copy)
    full_rows = {fmt: json_rows(run_copy, fmt) for fmt in formats}
    compact = export_datasets(settings_for(run_copy, export={"compact_system": True}), formats, run_dir=run_copy)
    compact_rows = {fmt: json_rows(run_copy, fmt) for fmt in formats}
    for fmt in formats:
        assert compact[fmt].rows == full[fmt].rows
        assert compact[fmt].token_lengths[TRAIN]["median"] < full[fmt].token_lengths[TRAIN]["median"], fmt
    for before, after in zip(full_rows["toolllama"], compact_rows["toolllama"], strict=True):
        long, short = before["conversations"][0]["value"], after["conversations"][0]["value"]
        assert len(short) < 0.8 * len(long)
        assert "Specifically, you have access to the following APIs: " in short and "Thought:\nAction\n" in short
        assert "example_value" not in short and "This is the subfunction for tool" not in short
        names = {t.split("'")[0] for t in long.split("{'name': '")[1:]}
        assert names and all(f"{{'name': '{name}'" in short for name in names)
        assert before["conversations"][1:] == after["conversations"][1:], "only the system prompt changes"
    for row in compact_rows["hf"]:
        assert row["messages"][0]["content"] == NATIVE_SYSTEM_PROMPT
    for row in compact_rows["sharegpt"]:
        assert row["system"] == NATIVE_SYSTEM_PROMPT


def json_rows(run_dir: Path, fmt: str) -> list[dict[str, Any]]:
    base = run_dir / "datasets" / fmt
    if (base / f"{TRAIN}.jsonl").exists():
        return rows(run_dir, fmt)
    return [row for split in (TRAIN, EVAL) for row in json.loads((base / f"{split}.json").read_text())]
