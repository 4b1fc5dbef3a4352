"""The ``rl`` export read the way verl reads it, and its rows scored by the reward file verl loads.

verl is not installed (it needs CUDA-era torch, ray and vLLM); its steps are reproduced from
volcengine/verl at b178a3cd (2026-01-29), ``verl/utils/dataset/rl_dataset.py``:

* ``RLHFDataset._read_files_and_tokenize`` (lines 153-179): each file must end in ``.parquet``
  (read with ``datasets.load_dataset("parquet", data_files=f)["train"]``, line 158) or ``.json``;
  anything else raises ``ValueError("Unsupported file format")`` (162); the files are joined with
  ``datasets.concatenate_datasets`` (164).
* ``maybe_filter_out_long_prompts`` (181-261): without a processor, a row stays when
  ``len(tokenizer.apply_chat_template(doc["prompt"], add_generation_prompt=True))`` (247) is at
  most ``max_prompt_length`` (filter at 254).
* ``__getitem__`` (341-363): ``row["prompt"]`` is the message list for the chat template;
  ``row["extra_info"].get("index", 0)`` (353) and ``tools_kwargs`` are read from ``extra_info``.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import datasets
import pytest
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

from pipeline.export.common import EVAL, SPLITS, TRAIN
from pipeline.export.rl import parquet_schema
from pipeline.export.stage import export_dataset
from pipeline.io import read_json, read_jsonl, write_json
from pipeline.verify.reward import parse_completion
from tests.export.conftest import settings_for
from tests.verify.verl_like import REWARD_FILE, get_custom_reward_fn_like_verl, score_like_reward_loop

# A ChatML template (Qwen's layout) over a word-level tokenizer built here: no download.
CHATML = ("{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
          "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


@pytest.fixture(scope="module")
def rl_run(offline_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("rl") / "run"
    for name in ("catalog", "verified"):
        shutil.copytree(offline_run / name, target / name)
    manifest = read_json(offline_run / "manifest.json")
    manifest.get("stages", {}).pop("export", None)
    write_json(target / "manifest.json", manifest)
    export_dataset(settings_for(target, export={"eval_fraction": 0.3}), "rl", run_dir=target)
    return target


@pytest.fixture(scope="module")
def tokenizer() -> PreTrainedTokenizerFast:
    backend = Tokenizer(models.WordLevel({"[UNK]": 0, "[PAD]": 1}, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="[UNK]", pad_token="[PAD]",
                                   chat_template=CHATML)


def load_like_verl(files: list[Path]) -> datasets.Dataset:
    frames = []
    for path in map(str, files):
        if path.endswith(".parquet"):
            frames.append(datasets.load_dataset("parquet", data_files=path)["train"])
        elif path.endswith(".json"):
            frames.append(datasets.load_dataset("json", data_files=path)["train"])
        else:
            raise ValueError(f"Unsupported file format: {path}")
    return datasets.concatenate_datasets(frames)


def prompt_tokens(tokenizer: Any, messages: list[dict[str, str]]) -> int:
    """verl's length: ``len(apply_chat_template(messages, add_generation_prompt=True))``. Under
    transformers 4 that is a list of ids; transformers 5 returns a two-key BatchEncoding unless
    ``return_dict=False``, so verl's filter measures 2 there and keeps every row."""
    return len(tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_dict=False))


def filter_like_verl(frame: datasets.Dataset, tokenizer: Any, max_prompt_length: int) -> datasets.Dataset:
    return frame.filter(lambda doc: prompt_tokens(tokenizer, doc["prompt"]) <= max_prompt_length)


def test_the_jsonl_files_are_what_verl_refuses_and_the_parquet_what_it_reads(rl_run: Path) -> None:
    base = rl_run / "datasets" / "rl"
    with pytest.raises(ValueError, match="Unsupported file format"):
        load_like_verl([base / "train.jsonl"])

    frame = load_like_verl([base / f"{split}.parquet" for split in SPLITS])

    jsonl = [row for split in SPLITS for row in read_jsonl(base / f"{split}.jsonl")]
    assert len(frame) == len(jsonl) > 0
    assert frame.to_list() == jsonl  # the same rows, every value the same type as in the JSONL
    listed = (base / "SHA256SUMS").read_text()
    assert all(f"{split}.parquet" in listed and f"{split}.jsonl" in listed for split in SPLITS)


def test_every_column_has_one_arrow_type(rl_run: Path) -> None:
    import pyarrow.parquet as pq

    for split in SPLITS:
        assert pq.read_schema(rl_run / "datasets" / "rl" / f"{split}.parquet").equals(parquet_schema())


def test_rows_read_back_as_verls_dataset_items(rl_run: Path, tokenizer: PreTrainedTokenizerFast) -> None:
    base = rl_run / "datasets" / "rl"
    for split in (TRAIN, EVAL):
        frame = load_like_verl([base / f"{split}.parquet"])
        assert [row["extra_info"]["index"] for row in frame] == list(range(len(frame)))
        for item in range(len(frame)):
            row = frame[item]
            messages = row["prompt"]
            assert [m["role"] for m in messages] == ["system", "user"]
            text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
            assert text.endswith("<|im_start|>assistant\n") and messages[1]["content"] in text
            assert row["extra_info"].get("index", 0) == item and row["extra_info"]["split"] == split
            assert row["extra_info"].get("tools_kwargs", {}) == {}
            assert isinstance(row["reward_model"]["ground_truth"], str)


def test_verls_prompt_length_filter_reads_the_prompts(rl_run: Path, tokenizer: PreTrainedTokenizerFast) -> None:
    frame = load_like_verl([rl_run / "datasets" / "rl" / "train.parquet"])
    lengths = sorted(prompt_tokens(tokenizer, row["prompt"]) for row in frame)
    middle = lengths[len(lengths) // 2]

    assert len(filter_like_verl(frame, tokenizer, lengths[-1])) == len(frame)
    assert 0 < len(filter_like_verl(frame, tokenizer, middle)) < len(frame)


def test_real_rows_score_through_the_reward_file_verl_loads(rl_run: Path) -> None:
    compute = get_custom_reward_fn_like_verl(REWARD_FILE)
    frame = load_like_verl([rl_run / "datasets" / "rl" / f"{split}.parquet" for split in SPLITS])
    answers = 0
    for row in frame:
        truth = row["reward_model"]["ground_truth"]
        assert score_like_reward_loop(compute, row, truth, router=True) == 4.0  # the reference is perfect
        empty = score_like_reward_loop(compute, row, "", router=False)
        assert empty == -3.0, "an empty completion earns nothing, answer rows included"
        answers += parse_completion(truth).response is not None
    assert answers > 0
