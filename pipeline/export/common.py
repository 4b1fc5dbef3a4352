"""What every dataset export shares: the input, the split rule, the chosen path, the writers.

An export reads ``<run>/verified/accepted.jsonl`` once, line by line, and hands each sample with
its split to one format's exporter, which writes rows as it goes. Nothing holds the samples:
a 100k-sample run costs the memory of one sample (plus the catalog for the retriever export).

The split is decided per sample from the instruction alone (:func:`split_of`), so the same
instruction always lands on the same side, across formats and across reruns, without a first
pass over the data.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final, Literal, Protocol

import orjson
from pydantic import BaseModel, Field

from pipeline.env.observation import Observation
from pipeline.env.shorten import legacy_cut_length
from pipeline.errors import NothingToDo
from pipeline.io import JsonlWriter, dumps
from pipeline.records import ApiPair, ChatMessage, TrajectoryRecord
from pipeline.search.functions import FINISH_NAME
from pipeline.settings import Settings

DATASETS_DIR = "datasets"
TRAIN: Final = "train"
EVAL: Final = "eval"
Split = Literal["train", "eval"]
SPLITS: tuple[Split, ...] = (TRAIN, EVAL)

_THOUGHT_PREFIX = re.compile(r"^\s*thought\s*:\s*", re.IGNORECASE)
_WHITESPACE = re.compile(r"\s+")


class NothingToExport(NothingToDo):
    """The run folder has no verified samples to export."""


class ExportReport(BaseModel):
    """What one format's export read and wrote; recorded in the manifest under ``export``."""

    format: str
    directory: str
    samples_read: int = 0
    samples_skipped: int = Field(default=0, description="accepted lines that had no usable answered path")
    samples: dict[str, int] = Field(default_factory=dict, description="samples per split")
    rows: dict[str, int] = Field(default_factory=dict, description="rows written per split")
    files: list[str] = Field(default_factory=list, description="files written, relative to directory")
    notes: dict[str, int] = Field(default_factory=dict, description="format-specific counts")
    seconds: float = 0.0


def normalise_query(text: str) -> str:
    """The instruction as the split sees it: lower case, whitespace collapsed."""
    return _WHITESPACE.sub(" ", str(text or "")).strip().lower()


def split_of(query: str, *, eval_fraction: float, seed: int) -> Split:
    """``eval`` when the seeded hash of the normalised instruction falls under ``eval_fraction``.

    A hash instead of a shuffle: the decision needs no other sample (streaming), is the same
    for every format and every rerun, and sends duplicates of one instruction to one side.
    """
    digest = hashlib.sha256(f"{seed}\x00{normalise_query(query)}".encode()).digest()
    position = int.from_bytes(digest[:8], "big") / 2**64
    return EVAL if position < eval_fraction else TRAIN


# --- the chosen path as steps ------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One assistant decision on the chosen path: a thought and one call (Finish included)."""

    index: int  # position of the assistant message in the record's ``messages``
    thought: str
    name: str
    arguments: str  # the arguments text as the model wrote it
    call_id: str
    observation: str | None  # the tool message's content; None for Finish

    @property
    def is_finish(self) -> bool:
        return self.name == FINISH_NAME

    def arguments_object(self) -> dict[str, Any]:
        return json_object(self.arguments)


@dataclass(frozen=True)
class Dialogue:
    """A sample reduced to what the formats render: prompts, steps and the final answer."""

    query_id: str
    group: str
    query: str
    system: str
    user: str
    steps: list[Step]
    final_answer: str
    tools: list[dict[str, Any]]  # OpenAI tools as the policy saw them (Finish included)
    relevant_apis: tuple[ApiPair, ...] = ()  # ToolBench's "relevant APIs": (tool name, API name)

    @property
    def calls(self) -> list[Step]:
        """The steps that call a real API (everything but Finish)."""
        return [step for step in self.steps if not step.is_finish]


def json_object(text: str) -> dict[str, Any]:
    try:
        value = orjson.loads(text or "{}")
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def strip_thought(content: Any) -> str:
    """The thought text without a leading ``Thought:``, which every format adds back its own way."""
    return _THOUGHT_PREFIX.sub("", str(content or ""), count=1).strip()


def dialogue_of(record: TrajectoryRecord | Mapping[str, Any]) -> Dialogue | None:
    """The chosen path of an answered sample, or None when it has no Finish(give_answer) step."""
    record = TrajectoryRecord.of(record)
    messages = record.chat()
    if len(messages) < 3 or messages[0].role != "system" or messages[1].role != "user":
        return None
    observations = _observation_texts(record, messages)
    steps: list[Step] = []
    for index, message in enumerate(messages):
        if message.role != "assistant" or not message.tool_calls:
            continue
        call = message.tool_calls[0]  # ToolBench's policy makes one call per step
        raw = call.function.arguments
        arguments = raw if isinstance(raw, str) else dumps(raw or {}).decode()
        call_id = call.id or ""
        steps.append(Step(index=index, thought=strip_thought(message.content), name=call.function.name,
                          arguments=arguments, call_id=call_id, observation=observations.get(call_id)))
    if not steps or not steps[-1].is_finish or any(s.is_finish for s in steps[:-1]):
        return None
    finish = steps[-1].arguments_object()
    if finish.get("return_type", "give_answer") != "give_answer":
        return None
    answer = finish.get("final_answer")
    if not isinstance(answer, str) or not answer.strip():
        answer = record.final_answer or ""
    if not answer.strip() or any(step.observation is None for step in steps[:-1]):
        return None
    return Dialogue(
        query_id="" if record.query_id is None else str(record.query_id), group=record.group,
        query=record.query, system=_text(messages[0].content), user=_text(messages[1].content),
        steps=steps, final_answer=answer, tools=list(record.tools), relevant_apis=tuple(record.relevant_apis or ()),
    )


def _observation_texts(record: TrajectoryRecord, messages: list[ChatMessage]) -> dict[str, str]:
    """The tool messages' texts by call id. Samples annotated before observations were cut
    structurally hold raw cuts that are no longer JSON; those are redone, at the same length,
    from the whole observation the search tree keeps."""
    texts: dict[str, str] = {}
    whole: dict[str, dict[str, Any]] | None = None
    for message in messages:
        if message.role != "tool":
            continue
        call_id, text = str(message.tool_call_id), _text(message.content)
        cut_at = legacy_cut_length(text)
        if cut_at is not None:
            if whole is None:  # reading the tree costs; most samples never need it
                whole = {str(node.tool_call_id): node.observation for node in record.path_nodes()
                         if node.observation is not None}
            kept = whole.get(call_id)
            if kept is not None:
                text = Observation.model_validate(kept).for_model(cut_at)
        texts[call_id] = text
    return texts


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # OpenAI content parts
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return "" if content is None else str(content)


# --- function schemas ----------------------------------------------------------------------------


def functions_of(tools: list[dict[str, Any]], *, keep_finish: bool) -> list[dict[str, Any]]:
    """The function dicts (without OpenAI's ``{"type": "function"}`` wrapper)."""
    functions = [tool.get("function", tool) for tool in tools if isinstance(tool, dict)]
    return [f for f in functions if keep_finish or f.get("name") != FINISH_NAME]


_SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
_SCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
_SCHEMA_ONES = ("items", "additionalProperties", "not", "contains", "if", "then", "else",
                "propertyNames", "unevaluatedProperties", "additionalItems")


def clean_schema(schema: Any) -> Any:
    """A parameter schema as valid JSON Schema: ToolBench's ``optional`` list dropped (the
    ``required`` list already says it) and ``example_value`` turned into ``examples``.

    Walks only schema positions, so a *property* called ``optional`` is kept.
    """
    if not isinstance(schema, dict):
        return schema
    cleaned: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "optional":
            continue
        if key == "example_value":
            if "examples" not in schema:
                cleaned["examples"] = [value]
            continue
        if key in _SCHEMA_MAPS and isinstance(value, dict):
            cleaned[key] = {name: clean_schema(sub) for name, sub in value.items()}
        elif key in _SCHEMA_LISTS and isinstance(value, list):
            cleaned[key] = [clean_schema(sub) for sub in value]
        elif key in _SCHEMA_ONES:
            cleaned[key] = [clean_schema(s) for s in value] if isinstance(value, list) else clean_schema(value)
        else:
            cleaned[key] = value
    return cleaned


def clean_function(function: Mapping[str, Any]) -> dict[str, Any]:
    out = {"name": function.get("name", ""), "description": function.get("description", "")}
    out["parameters"] = clean_schema(function.get("parameters") or {"type": "object", "properties": {}})
    return out


# Why the native-tool formats (openai, sharegpt) get their own system prompt: ToolBench's AutoGPT
# prompt tells the model to end with a call to "Finish", which those formats drop (a model
# trained for native tool calls answers in plain text), so keeping it would teach a
# contradiction. The tool overview of the original prompt is kept.
NATIVE_SYSTEM_PROMPT = (
    "You are a helpful assistant that handles the user's request in real time by calling "
    "functions. At each step, think briefly about the state of the task and call one function. "
    "After each call you get its result; decide what to do next from it. When you have enough "
    "information, answer the user directly in plain text with everything they need. If the "
    "functions cannot do the task, say so plainly. Use only the functions' names, not the "
    "tools' names."
)
_TOOL_OVERVIEW = "You have access of the following tools:"


def native_system_prompt(original: str) -> str:
    """:data:`NATIVE_SYSTEM_PROMPT` plus the numbered tool overview of the original prompt."""
    at = original.find(_TOOL_OVERVIEW)
    if at == -1:
        return NATIVE_SYSTEM_PROMPT
    overview = original[at + len(_TOOL_OVERVIEW):].strip()
    return f"{NATIVE_SYSTEM_PROMPT}\nYou have access to the following tools:\n{overview}\n"


# --- writers -------------------------------------------------------------------------------------


class JsonArrayWriter:
    """Stream items into a JSON array file: ``[``, items joined by ``,\\n``, ``]``.

    The export writes into a staging folder that is renamed into place at the end, so this
    writer needs no temporary file of its own.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._handle: IO[bytes] = self.path.open("wb")
        self._handle.write(b"[\n")
        self.count = 0

    def write(self, item: Any) -> None:
        if self.count:
            self._handle.write(b",\n")
        self._handle.write(dumps(item))
        self.count += 1

    def close(self) -> None:
        if not self._handle.closed:
            self._handle.write(b"\n]\n")
            self._handle.close()


class SplitFiles:
    """One writer per split, named ``<split><suffix>``; counts rows per split."""

    def __init__(self, folder: Path, suffix: str, writer: type[JsonArrayWriter | JsonlWriter],
                 names: Mapping[str, str] | None = None) -> None:
        names = names or {}
        self.writers = {split: writer(folder / f"{names.get(split, split)}{suffix}") for split in SPLITS}

    def write(self, split: Split, item: Any) -> None:
        self.writers[split].write(item)

    @property
    def rows(self) -> dict[str, int]:
        return {split: writer.count for split, writer in self.writers.items()}

    @property
    def paths(self) -> list[Path]:
        return [writer.path for writer in self.writers.values()]

    def close(self) -> None:
        for writer in self.writers.values():
            writer.close()


class SplitRowsExporter:
    """An :class:`Exporter` whose rows come from each sample alone: ``rows_of(dialogue, split)``
    gives the sample's rows, written to ``<split><suffix>`` with ``writer``."""

    def __init__(self, folder: Path, suffix: str, writer: type[JsonArrayWriter | JsonlWriter],
                 rows_of: Callable[[Dialogue, Split], Iterable[dict[str, Any]]]) -> None:
        self._files = SplitFiles(folder, suffix, writer)
        self._rows_of = rows_of

    def add(self, record: TrajectoryRecord | Mapping[str, Any], dialogue: Dialogue, split: Split) -> None:
        for row in self._rows_of(dialogue, split):
            self._files.write(split, row)

    def close(self) -> None:
        self._files.close()

    @property
    def rows(self) -> dict[str, int]:
        return self._files.rows

    @property
    def notes(self) -> dict[str, int]:
        return {}

    def paths(self) -> list[Path]:
        return self._files.paths


@dataclass(frozen=True)
class ExportContext:
    """What an exporter may need beyond the samples: the run folder and the settings."""

    run_dir: Path
    settings: Settings


class Exporter(Protocol):
    """One format's writer: fed each sample with its split, closed once at the end. Formats read
    the :class:`Dialogue`; ``record`` (the accepted sample) is there for what a dialogue lacks."""

    def add(self, record: TrajectoryRecord | Mapping[str, Any], dialogue: Dialogue, split: Split) -> None: ...

    def close(self) -> None: ...

    @property
    def rows(self) -> dict[str, int]: ...

    @property
    def notes(self) -> dict[str, int]: ...

    def paths(self) -> list[Path]: ...


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
