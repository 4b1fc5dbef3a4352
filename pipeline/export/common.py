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
import random
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
from pipeline.tool_schema import SCHEMA_LISTS, SCHEMA_MAPS, SCHEMA_ONES

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
    tokenizer: str = Field(default="", description="what token_lengths were counted with")
    token_lengths: dict[str, dict[str, int]] = Field(
        default_factory=dict, description="per split: rows, min, median, p95, max tokens of a row")
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

    @property
    def failed(self) -> bool:
        """The call came back with an error (see :func:`observation_failed`)."""
        return self.observation is not None and observation_failed(self.observation)

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

    def call_id(self, step: Step) -> str:
        """:func:`short_call_id` of ``step`` in this sample."""
        return short_call_id(self.query_id, self.query, step.index)


# An observation is ToolBench's ``{"error": ..., "response": ...}``; a non-empty ``error`` is what
# the search marks as a failed call (Observation.ok). A text cut at the observation limit is no
# longer JSON, so the start of the object is read instead.
_ERROR_START = re.compile(r'^\s*\{\s*"error"\s*:\s*(?:"[^"]|\{|\[|true|[1-9])')


def observation_failed(text: str) -> bool:
    """True when a tool message's content reports an error (a non-empty ``error`` field)."""
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return bool(_ERROR_START.match(text or ""))
    return isinstance(value, dict) and bool(value.get("error"))


_ID_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
CALL_ID_LENGTH = 9


def short_call_id(query_id: str, query: str, index: int) -> str:
    """A 9-character alphanumeric call id, the same for a sample's step on every export.

    Nine alphanumerics because Mistral's chat templates reject any other id (they raise "Tool
    call IDs should be alphanumeric strings with length 9"), and OpenAI accepts any string, so
    one id serves every consumer. Derived from a hash instead of the policy's ids, which are
    long (``call_...``) or missing.
    """
    digest = int.from_bytes(hashlib.sha256(f"{query_id}\x00{query}\x00{index}".encode()).digest()[:8], "big")
    chars = []
    for _ in range(CALL_ID_LENGTH):
        digest, rest = divmod(digest, len(_ID_ALPHABET))
        chars.append(_ID_ALPHABET[rest])
    return "".join(chars)


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


# Keywords of JSON Schema (2020-12) kept as they are; anything else in a schema position is
# OpenAPI's or ToolBench's (``example``, ``nullable``, ``optional``, ``example_value``, ``x-*``,
# ``in``, ``style``...) and is dropped. ``examples`` is JSON Schema too, but its values have any
# type, and a column holding a string here and a number there is what Arrow (``datasets``)
# cannot load; so examples go into the description as text instead.
_SCHEMA_VALUES = frozenset({
    "type", "enum", "const", "format", "description", "title", "default", "required", "$ref",
    "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minLength", "maxLength",
    "pattern", "minItems", "maxItems", "uniqueItems", "minContains", "maxContains", "minProperties",
    "maxProperties", "dependentRequired", "deprecated", "readOnly", "writeOnly", "contentEncoding",
    "contentMediaType",
})
_EXAMPLE_KEYS = ("example_value", "example", "examples")
_JSON_TYPES = frozenset({"string", "number", "integer", "boolean", "object", "array", "null"})
_TYPE_ALIASES = {"int": "integer", "long": "integer", "float": "number", "double": "number",
                 "bool": "boolean", "str": "string", "file": "string", "date": "string", "list": "array",
                 "dict": "object", "map": "object"}
EXAMPLE_CHARS = 80


def clean_schema(schema: Any) -> Any:
    """A parameter schema as JSON Schema only, for the formats whose consumers validate or load
    it (OpenAI, chat templates, ``datasets``).

    Kept: JSON Schema keywords. Moved: ``example_value`` / ``example`` / ``examples`` become
    ``Example: <value>`` at the end of the description (one, cut to :data:`EXAMPLE_CHARS`).
    Translated: ``nullable: true`` adds ``"null"`` to the type; types outside JSON Schema's seven
    are mapped (``int`` → ``integer``) or dropped. Dropped: everything else, including ToolBench's
    ``optional`` list (``required`` already says it) and a ``required`` that is not a list of
    names (OpenAPI's per-parameter boolean). Walks only schema positions, so a *property*
    called ``optional`` or ``example`` is kept.
    """
    if not isinstance(schema, dict):
        return schema
    cleaned: dict[str, Any] = {}
    for key, value in schema.items():
        if key in SCHEMA_MAPS and isinstance(value, dict):
            cleaned[key] = {name: clean_schema(sub) for name, sub in value.items()}
        elif key in SCHEMA_LISTS and isinstance(value, list):
            cleaned[key] = [clean_schema(sub) for sub in value]
        elif key in SCHEMA_ONES:
            if isinstance(value, dict | bool):
                cleaned[key] = clean_schema(value)
            elif isinstance(value, list) and key == "items":  # draft-04 tuple form
                cleaned["prefixItems"] = [clean_schema(s) for s in value]
        elif key in _SCHEMA_VALUES:
            cleaned[key] = value
    if "required" in cleaned and not (isinstance(cleaned["required"], list)
                                      and all(isinstance(n, str) for n in cleaned["required"])):
        del cleaned["required"]
    for key in ("description", "title", "format", "pattern"):
        if key in cleaned and not isinstance(cleaned[key], str):
            del cleaned[key]
    kind = _json_type(cleaned.pop("type", None))
    if kind is not None:
        if schema.get("nullable") is True and kind != "null" and not (isinstance(kind, list) and "null" in kind):
            kind = [*kind, "null"] if isinstance(kind, list) else [kind, "null"]
        cleaned["type"] = kind
    example = _first_example(schema)
    if example is not None:
        described = str(cleaned.get("description") or "").rstrip()
        separator = "" if not described else (" " if described.endswith(".") else ". ")
        cleaned["description"] = f"{described}{separator}Example: {example}"
    return cleaned


def _json_type(value: Any) -> str | list[str] | None:
    if isinstance(value, list):
        kinds = [k for k in (_json_type(v) for v in value) if isinstance(k, str)]
        unique = list(dict.fromkeys(kinds))
        return unique[0] if len(unique) == 1 else (unique or None)
    if not isinstance(value, str):
        return None
    name = value.strip().lower()
    name = _TYPE_ALIASES.get(name, name)
    return name if name in _JSON_TYPES else None


def _first_example(schema: Mapping[str, Any]) -> str | None:
    """The schema's first example value as short text, or None."""
    for key in _EXAMPLE_KEYS:
        if key not in schema:
            continue
        value = schema[key]
        if key == "examples":
            if isinstance(value, dict):  # OpenAPI's named examples: {"name": {"value": ...}}
                value = next(iter(value.values()), None)
                value = value.get("value") if isinstance(value, dict) else value
            elif isinstance(value, list):
                value = value[0] if value else None
        if value is None or value == "":
            continue
        text = value if isinstance(value, str) else dumps(value).decode()
        text = " ".join(text.split())
        return text if len(text) <= EXAMPLE_CHARS else text[: EXAMPLE_CHARS - 1] + "…"
    return None


def clean_function(function: Mapping[str, Any]) -> dict[str, Any]:
    """A function dict (name, description, parameters) with a JSON-Schema-only parameter schema."""
    parameters = clean_schema(function.get("parameters") or {"type": "object", "properties": {}})
    if not isinstance(parameters, dict):
        parameters = {"type": "object", "properties": {}}
    parameters.setdefault("type", "object")
    parameters.setdefault("properties", {})
    description = function.get("description", "")
    return {"name": function.get("name", ""), "description": description if isinstance(description, str) else "",
            "parameters": parameters}


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
TOOL_OVERVIEW = "You have access of the following tools:"  # ToolBench's wording


def native_system_prompt(original: str, *, compact: bool = False) -> str:
    """:data:`NATIVE_SYSTEM_PROMPT` plus the numbered tool overview of the original prompt.

    ``compact`` leaves the overview out: the tools' names and descriptions are in the row's
    ``tools`` already, which every native-tool consumer renders into the prompt itself.
    """
    at = original.find(TOOL_OVERVIEW)
    if at == -1 or compact:
        return NATIVE_SYSTEM_PROMPT
    overview = original[at + len(TOOL_OVERVIEW):].strip()
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


LENGTH_SAMPLE = 2000  # rows per split whose tokens the card reports


class SplitRowsExporter:
    """An :class:`Exporter` whose rows come from each sample alone: ``rows_of(dialogue, split)``
    gives the sample's rows, written to ``<split><suffix>`` with ``writer``.

    ``failed_note`` names the note that counts the calls that came back with an error (what the
    format does with them differs: a weight of 0, or kept because the consumer cannot mask).
    """

    def __init__(self, folder: Path, suffix: str, writer: type[JsonArrayWriter | JsonlWriter],
                 rows_of: Callable[[Dialogue, Split], Iterable[dict[str, Any]]], *,
                 failed_note: str | None = None) -> None:
        self._files = SplitFiles(folder, suffix, writer)
        self._rows_of = rows_of
        self._failed_note = failed_note
        self._failed = 0
        # set by the stage: a row's token count, kept per split for the card (a uniform sample of
        # LENGTH_SAMPLE rows per split, so a 100k-sample export neither tokenizes every row nor
        # keeps a count per row; reservoir sampling with a fixed seed, the same on every rerun)
        self.measure: Callable[[Mapping[str, Any]], int] | None = None
        self.lengths: dict[str, list[int]] = {split: [] for split in SPLITS}
        self._offered = dict.fromkeys(SPLITS, 0)
        self._sampler = random.Random(0)

    def add(self, record: TrajectoryRecord | Mapping[str, Any], dialogue: Dialogue, split: Split) -> None:
        for row in self._rows_of(dialogue, split):
            self._files.write(split, row)
            if self.measure is not None:
                self._sample_length(split, row)
        self._failed += sum(step.failed for step in dialogue.calls)

    def _sample_length(self, split: Split, row: Mapping[str, Any]) -> None:
        assert self.measure is not None
        self._offered[split] += 1
        kept = self.lengths[split]
        if len(kept) < LENGTH_SAMPLE:
            kept.append(self.measure(row))
        else:
            slot = self._sampler.randrange(self._offered[split])
            if slot < LENGTH_SAMPLE:
                kept[slot] = self.measure(row)

    def close(self) -> None:
        self._files.close()

    @property
    def rows(self) -> dict[str, int]:
        return self._files.rows

    @property
    def notes(self) -> dict[str, int]:
        return {self._failed_note: self._failed} if self._failed_note else {}

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


def shorten(text: str, limit: int) -> str:
    """``text``'s first sentence when it fits in ``limit`` characters, else ``text`` cut there."""
    text = " ".join(str(text or "").split())
    end = re.search(r"[.!?](\s|$)", text)
    first = text[: end.start() + 1] if end else text
    if len(first) <= limit:
        return first
    return text[: limit - 1].rstrip() + "…"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
