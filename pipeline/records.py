"""The records stages pass on, typed: queries, trajectories, accepted and rejected samples.

One line of ``queries/G*.jsonl`` is a :class:`QueryRecord` (ToolBench's query format plus ours),
one line of ``trajectories/*.jsonl`` a :class:`TrajectoryRecord` (the search's
:class:`~pipeline.search.tree.Trajectory` plus what the annotate stage adds), and the lines of
``verified/accepted.jsonl`` / ``rejected.jsonl`` are :class:`AcceptedSample` /
:class:`RejectedSample`. Stages read them with the ``iter_*`` readers (streamed, file by file)
and write them with :class:`RecordAppender` or :func:`write_records`.

Versions. Every record carries ``schema_version``. Lines written before records were versioned
have none and read as version 1, which is their layout. A line from a newer toolgen (a version
above the class's ``SCHEMA_VERSION``) is refused with a :class:`RecordError` that says so rather
than read half-right. A change that only *adds* a key needs no new version (see below); one
that renames, removes or re-types a key does, with a ``mode="before"`` validator that lifts the
older lines.

Extra keys are kept (``extra="allow"``), at the record level and in the parts of a record that
other tools write (ToolBench's ``api_list`` entries, the search settings). A stage that reads a
record and writes it on (verify copies a trajectory into ``accepted.jsonl``) must not lose what
it does not know: a key added by a newer annotate stage, a field of a ToolBench query file, a
note someone put in by hand. ``ignore`` would drop those silently and ``forbid`` would refuse
old and foreign files, which is the opposite of what a reader of run folders is for.

Writing dumps every field, by alias (so ToolBench's ``"relevant APIs"`` key keeps its space),
and ``schema_version`` always. Not ``exclude_unset``: a record built in code would then lose the
keys left at their default (``"execution": null`` in a verification), and every line of a
file would not carry the same keys. An old line read and written again gains only its defaults.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar, Generic, Protocol, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from pipeline.errors import StageError
from pipeline.io import JsonlAppender, dumps, loads, read_jsonl_numbered, write_jsonl
from pipeline.search.tree import SearchNode, SearchTree, Trajectory
from pipeline.verify.verdict import FailedAt, Verification, reason_kind

QUERIES_DIR = "queries"
TRAJECTORIES_DIR = "trajectories"
VERIFIED_DIR = "verified"
ACCEPTED_FILE = "accepted.jsonl"
REJECTED_FILE = "rejected.jsonl"

GIVE_ANSWER = "give_answer"

# A (tool name, API name) pair, ToolBench's entry of "relevant APIs".
ApiPair = tuple[str, str]
RELEVANT_APIS = "relevant APIs"  # ToolBench's key, space included


class RecordError(StageError, ValueError):
    """A line that is not a valid record; the message names the file, line and field."""


class Record(BaseModel):
    """What every record shares: a ``schema_version`` and the keys it does not model, kept."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    SCHEMA_VERSION: ClassVar[int] = 1

    schema_version: int = Field(default=1, description="absent on lines written before records were versioned")

    @field_validator("schema_version")
    @classmethod
    def _readable(cls, version: int) -> int:
        if version > cls.SCHEMA_VERSION:
            raise ValueError(
                f"schema_version {version} is newer than this toolgen reads ({cls.__name__} version "
                f"{cls.SCHEMA_VERSION}): the file was written by a newer toolgen; upgrade to read it"
            )
        if version < 1:
            raise ValueError(f"schema_version {version}: versions start at 1")
        return version

    @classmethod
    def of(cls, value: Self | Mapping[str, Any]) -> Self:
        """``value`` as this record: itself when it is one, else validated (a dict from a file)."""
        return value if isinstance(value, cls) else cls.model_validate(value)

    def dump(self) -> dict[str, Any]:
        """The JSON object of one line: every field by alias, extra keys included."""
        try:
            return self.model_dump(mode="json", by_alias=True)
        except UnicodeEncodeError:  # a lone surrogate, legal in Python text but not in UTF-8
            cleaned: dict[str, Any] = loads(dumps(self.model_dump(mode="python", by_alias=True)))  # io replaces it
            return cleaned

    def dump_line(self) -> bytes:
        """The record's JSONL line (without its newline), under :mod:`pipeline.io`'s JSON policy."""
        return dumps(self.dump())


R = TypeVar("R", bound=Record)


# --- queries ------------------------------------------------------------------------------------


class QueryApi(BaseModel):
    """One entry of a query's ``api_list``: ToolBench's API record, plus our catalog ids.

    ToolBench's own query files are loose (names only, numbers where names should be), so every
    field has a default, numbers are read as text, and unknown keys are kept.
    """

    model_config = ConfigDict(extra="allow", coerce_numbers_to_str=True)

    category_name: str = ""
    tool_name: str = ""
    api_name: str = ""
    api_description: str = ""
    required_parameters: list[dict[str, Any]] = Field(default_factory=list)
    optional_parameters: list[dict[str, Any]] = Field(default_factory=list)
    method: str = ""
    template_response: Any = None
    tool_id: str | None = None  # ours: the catalog's ids, when the generate stage wrote the query
    api_id: str | None = None


class QueryRecord(Record):
    """One instruction: ToolBench's ``{query, query_id, api_list, "relevant APIs"}`` plus ours.

    ``query_id`` is an int in our files and in ToolBench's, but other query files use text ids;
    both are kept as they are. ``group`` is the query's group (G1/G2/G3), or its file's stem.
    """

    query: str = ""
    query_id: int | str
    api_list: list[QueryApi] = Field(default_factory=list)
    relevant_apis: list[ApiPair] | None = Field(  # not `alias`: type checkers would want "relevant APIs" as a keyword
        default=None, validation_alias=RELEVANT_APIS, serialization_alias=RELEVANT_APIS
    )
    relevant_api_ids: list[ApiPair] | None = None  # ours: (tool id, API id) of each relevant API
    group: str = ""
    api_set_id: str | None = None
    model: str | None = None
    seed: int | None = None

    @property
    def key(self) -> tuple[str, str]:
        """(group, query id as text): what identifies a query in a run."""
        return (self.group, str(self.query_id))


# --- trajectories -------------------------------------------------------------------------------


class SearchParameters(BaseModel):
    """The search settings a trajectory was made with (ToolBench's ``forward_args``)."""

    model_config = ConfigDict(extra="allow")

    width: int | None = None
    max_depth: int | None = None
    max_model_calls: int | None = None
    max_api_calls: int | None = None
    restarts: int | None = None


class FunctionCall(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str = ""
    arguments: Any = None  # the text the model sent; some writers store the object instead


class ToolCall(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str | None = None
    type: str = "function"
    function: FunctionCall = Field(default_factory=FunctionCall)


class ChatMessage(BaseModel):
    """One OpenAI chat message of a trajectory's ``messages``, read for its parts."""

    model_config = ConfigDict(extra="allow")

    role: str = ""
    content: Any = None  # text, or OpenAI content parts
    tool_calls: list[ToolCall] = Field(default_factory=list)
    tool_call_id: str | None = None


_RETRIEVAL_KEYS = ("retrieved_apis", "retrieved_api_ids", "retrieval_recall")


class TrajectoryRecord(Trajectory, Record):
    """One finished search: the :class:`Trajectory` plus what the annotate stage adds.

    ``tree`` and ``messages`` stay as the search wrote them (``SearchTree.as_dict()`` and OpenAI
    chat messages, copied on as they are); :meth:`tree_nodes`, :meth:`path_nodes` and
    :meth:`chat` read them as models.
    """

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    group: str = ""
    model: str = ""
    training: bool = False
    search: SearchParameters = Field(default_factory=SearchParameters)
    relevant_apis: list[ApiPair] | None = Field(  # not `alias`: type checkers would want "relevant APIs" as a keyword
        default=None, validation_alias=RELEVANT_APIS, serialization_alias=RELEVANT_APIS
    )
    unresolved_apis: list[ApiPair] = Field(default_factory=list)
    # open-domain annotation only: what the retriever offered (best first) and the share of the
    # relevant APIs among it (None when they are unknown)
    retrieved_apis: list[ApiPair] | None = None
    retrieved_api_ids: list[ApiPair] | None = None
    retrieval_recall: float | None = None

    @classmethod
    def from_trajectory(
        cls,
        trajectory: Trajectory,
        *,
        query_id: int | str | None,
        group: str,
        model: str,
        training: bool,
        search: SearchParameters | Mapping[str, Any],
        relevant_apis: list[ApiPair] | None,
        unresolved_apis: list[ApiPair],
        retrieved_apis: list[ApiPair] | None = None,
        retrieved_api_ids: list[ApiPair] | None = None,
        retrieval_recall: float | None = None,
    ) -> Self:
        """The record the annotate stage writes for a search of one query."""
        extra = {} if retrieved_apis is None else {
            "retrieved_apis": retrieved_apis, "retrieved_api_ids": retrieved_api_ids,
            "retrieval_recall": retrieval_recall}
        return cls.model_validate({
            **trajectory.model_dump(), "query_id": query_id, "group": group, "model": model,
            "training": training, "search": search, "relevant_apis": relevant_apis,
            "unresolved_apis": unresolved_apis, **extra,
        })

    def dump(self) -> dict[str, Any]:
        """As :meth:`Record.dump`, without the open-domain keys on closed-domain searches."""
        data = super().dump()
        if self.retrieved_apis is None:
            for key in _RETRIEVAL_KEYS:
                data.pop(key, None)
        return data

    @property
    def key(self) -> tuple[str, str]:
        """(group, query id as text): what identifies a search in a run."""
        return (self.group, str(self.query_id))

    @property
    def answered(self) -> bool:
        return self.finish_type == GIVE_ANSWER

    @property
    def node_count(self) -> int:
        """Nodes of the tree as written, root included."""
        return len(self.tree.get("nodes") or ())

    def search_tree(self) -> SearchTree:
        return SearchTree.from_dict(self.tree)

    def tree_nodes(self) -> dict[int, SearchNode]:
        """Every node of the tree by id, in creation order."""
        return self.search_tree().nodes

    def path_nodes(self) -> list[SearchNode]:
        """The nodes of the chosen path, root first (ids the tree lacks are skipped)."""
        nodes = self.tree_nodes()
        return [nodes[i] for i in self.chosen_path if i in nodes]

    def chat(self) -> list[ChatMessage]:
        """The chosen path's messages as models (system, user, then assistant / tool turns)."""
        return [ChatMessage.model_validate(message) for message in self.messages]

    def path_calls_ok(self) -> bool:
        """Every API call on the chosen path returned without an error."""
        return all(node.call_ok for node in self.path_nodes() if node.kind == "call")


# --- verified samples ---------------------------------------------------------------------------


class AcceptedSample(TrajectoryRecord):
    """A trajectory that passed the funnel: the whole record plus its ``verification``."""

    verification: Verification

    @classmethod
    def accept(cls, record: TrajectoryRecord, verification: Verification) -> Self:
        return cls.model_validate({**record.model_dump(by_alias=True), "verification": verification})


class RejectedSample(Record):
    """A trajectory the funnel refused: who it was, where it failed and why, without the tree."""

    group: str = ""
    query_id: int | str | None = None
    query: str = ""
    failed_at: FailedAt
    reasons: list[str] = Field(default_factory=list)
    reason_kinds: list[str] = Field(default_factory=list)
    verification: Verification

    @classmethod
    def reject(cls, record: TrajectoryRecord, verification: Verification) -> Self:
        if verification.failed_at is None:
            raise ValueError(f"{record.key}: a verification that failed nowhere is not a rejection")
        return cls(group=record.group, query_id=record.query_id, query=record.query,
                   failed_at=verification.failed_at, reasons=verification.reasons,
                   reason_kinds=verification.reason_kinds, verification=verification)

    @property
    def key(self) -> tuple[str, str]:
        return (self.group, str(self.query_id))

    @property
    def kinds(self) -> list[str]:
        """The reasons as counted categories; lines without ``reason_kinds`` derive them."""
        return self.reason_kinds or [reason_kind(self.failed_at, r) for r in self.reasons or [self.failed_at]]


# --- reading ------------------------------------------------------------------------------------


def parse_record(model: type[R], data: Any, where: str) -> R:
    """``data`` as a ``model``; a :class:`RecordError` naming ``where`` and each field at fault."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise RecordError(f"{where}: not a valid {model.__name__}: {_describe(error)}") from error


def _describe(error: ValidationError) -> str:
    problems = []
    for item in error.errors(include_url=False, include_input=False):
        where = ".".join(str(part) for part in item["loc"]) or "(the line)"
        problems.append(f"{where}: {re.sub(r'^(Value|Assertion) error, ', '', item['msg'])}")
    return "; ".join(problems[:5]) + (f" (and {len(problems) - 5} more)" if len(problems) > 5 else "")


def read_records(
    path: Path, model: type[R], *, group: str | None = None, on_error: Callable[[RecordError], None] | None = None
) -> Iterator[R]:
    """The records of one JSONL file, streamed (a torn last line is skipped, as in
    :func:`~pipeline.io.read_jsonl`). ``group`` fills a line's missing or empty ``group``.

    A line that is not a valid record raises :class:`RecordError`, unless ``on_error`` is given:
    then it gets the error and reading goes on with the next line.
    """
    for number, data in read_jsonl_numbered(path):
        if group is not None and isinstance(data, dict) and not data.get("group"):
            data["group"] = group
        try:
            yield parse_record(model, data, f"{path}:{number}")
        except RecordError as error:
            if on_error is None:
                raise
            on_error(error)


class RecordKey(BaseModel):
    """Only what identifies a record, read without validating the rest (a whole search tree)."""

    model_config = ConfigDict(extra="ignore")

    group: str = ""
    query_id: int | str | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.group, str(self.query_id))


def read_keys(path: Path, *, group: str | None = None) -> Iterator[tuple[str, str]]:
    """The (group, query id) of every line of a record file, cheaply; ``group`` as in
    :func:`read_records`. Lines that are not objects are passed over (the full read reports them)."""
    for _, data in read_jsonl_numbered(path):
        if isinstance(data, dict):
            found = RecordKey.model_validate(data)
            yield (found.group or group or "", str(found.query_id))


def query_files(run_dir: Path) -> list[Path]:
    """The run's query files: ``queries/G*.jsonl``."""
    return sorted((Path(run_dir) / QUERIES_DIR).glob("G*.jsonl"))


def read_query_file(path: Path, *, on_error: Callable[[RecordError], None] | None = None) -> Iterator[QueryRecord]:
    """The queries of one file: ours (``queries/G1.jsonl``) or ToolBench's, a JSON list
    (``G1_query.json``) or JSONL. A query without ``group`` gets the file's stem; one without
    ``query_id`` gets ``<stem>-<n>`` (``n`` counts the file's queries from 1).

    A query that is not a valid record raises :class:`RecordError`, unless ``on_error`` is given:
    then it is handed the error and the file goes on (one bad query in a foreign file must not
    cost the others). A file that is not a list of queries at all always raises.
    """
    path = Path(path)
    if _starts_a_json_list(path):
        items = loads(path.read_bytes())
        if not isinstance(items, list):
            raise RecordError(f"{path}: not a list of query objects")
        numbered: Iterable[tuple[str, Any]] = ((f"{path}: item {n}", item) for n, item in enumerate(items, start=1))
    else:
        numbered = ((f"{path}:{line}", item) for line, item in read_jsonl_numbered(path))
    for count, (where, data) in enumerate(numbered, start=1):
        try:
            if not isinstance(data, dict):
                raise RecordError(f"{where}: not a query object")
            if not data.get("group"):
                data["group"] = path.stem
            data.setdefault("query_id", f"{path.stem}-{count}")
            yield parse_record(QueryRecord, data, where)
        except RecordError as error:
            if on_error is None:
                raise
            on_error(error)


def _starts_a_json_list(path: Path) -> bool:
    with path.open("rb") as handle:
        while block := handle.read(1 << 12):
            if stripped := block.lstrip():
                return stripped.startswith(b"[")
    return False


def iter_queries(source: Path | Iterable[Path]) -> Iterator[QueryRecord]:
    """The queries of a run folder (``queries/G*.jsonl``) or of the given query files, streamed."""
    if isinstance(source, (str, Path)) and Path(source).is_dir():
        files = query_files(Path(source))
    else:
        files = [Path(source)] if isinstance(source, (str, Path)) else [Path(f) for f in source]
    for path in files:
        yield from read_query_file(path)


def trajectory_files(run_dir: Path) -> list[Path]:
    folder = Path(run_dir) / TRAJECTORIES_DIR
    return sorted(folder.glob("*.jsonl")) if folder.is_dir() else []


class Keyed(Protocol):
    @property
    def key(self) -> tuple[str, str]: ...


K = TypeVar("K", bound=Keyed)


def first_of_each_key(records: Iterable[K], seen: set[int] | None = None) -> Iterator[K]:
    """``records`` without the repeats of a (group, query id) already seen, the first kept.

    Every reader of stage outputs goes through this: two writers on one folder (before the run
    folder had a lock) appended the same searches and verdicts twice, and a folder damaged so
    must read right, so the next run heals it instead of carrying the repeats on. Keys are kept
    as 64-bit digests (about 60 bytes each, not the 150+ of two strings in a tuple), so readers
    of a million records stay streamed; two distinct keys share a digest with odds near 1e-8.
    """
    seen = set() if seen is None else seen
    for record in records:
        group, query_id = record.key
        digest = int.from_bytes(hashlib.blake2b(f"{group}\0{query_id}".encode(), digest_size=8).digest(), "big")
        if digest not in seen:
            seen.add(digest)
            yield record


def iter_trajectory_file(
    path: Path, *, on_error: Callable[[RecordError], None] | None = None
) -> Iterator[TrajectoryRecord]:
    """The trajectories of one file, streamed, each (group, query id) once; a line without
    ``group`` gets the file's stem, as the annotate stage named the file after the group.
    ``on_error`` as in :func:`read_records`."""
    return first_of_each_key(read_records(Path(path), TrajectoryRecord, group=Path(path).stem, on_error=on_error))


def iter_trajectories(run_dir: Path) -> Iterator[TrajectoryRecord]:
    """Every finished trajectory of the run, file by file, streamed (100k trees never need to be
    in memory at once), each (group, query id) once; see :func:`iter_trajectory_file`."""
    seen: set[int] = set()
    for path in trajectory_files(run_dir):
        yield from first_of_each_key(iter_trajectory_file(path), seen)


def accepted_path(run_dir: Path) -> Path:
    return Path(run_dir) / VERIFIED_DIR / ACCEPTED_FILE


def rejected_path(run_dir: Path) -> Path:
    return Path(run_dir) / VERIFIED_DIR / REJECTED_FILE


def iter_accepted(
    run_dir: Path, *, on_error: Callable[[RecordError], None] | None = None
) -> Iterator[AcceptedSample]:
    """The run's accepted samples, streamed, each (group, query id) once; none when the verify
    stage has not written any. ``on_error`` as in :func:`read_records`."""
    path = accepted_path(run_dir)
    if path.is_file():
        yield from first_of_each_key(read_records(path, AcceptedSample, on_error=on_error))


def iter_rejected(run_dir: Path) -> Iterator[RejectedSample]:
    """The run's rejected samples, streamed, each (group, query id) once; none when the verify
    stage has not written any."""
    path = rejected_path(run_dir)
    if path.is_file():
        yield from first_of_each_key(read_records(path, RejectedSample))


# --- writing ------------------------------------------------------------------------------------


class RecordAppender(Generic[R]):
    """Append records to a JSONL file, one flushed line each (over :class:`~pipeline.io.JsonlAppender`:
    a torn last line is cut first, so a resumed stage appends to clean lines)."""

    def __init__(self, path: Path, *, fsync: bool = False) -> None:
        self._out = JsonlAppender(path, fsync=fsync)
        self.path = self._out.path

    def write(self, record: R) -> None:
        self._out.write_json_line(record.dump_line())

    def write_line(self, line: bytes) -> None:
        """Append a line :meth:`Record.dump_line` made (serialise first, then write: a record
        that cannot be serialised leaves the file untouched)."""
        self._out.write_json_line(line)

    def close(self) -> None:
        self._out.close()

    def __enter__(self) -> RecordAppender[R]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_records(path: Path, records: Iterable[Record]) -> int:
    """Write ``records`` as a whole new file, atomically; returns how many were written."""
    return write_jsonl(path, (record.dump() for record in records))
