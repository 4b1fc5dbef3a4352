"""JSON / JSONL reading and writing through orjson, crash-safe.

Whole files (:func:`write_json`, :func:`write_jsonl`) go to a temporary file in the same folder
and are renamed over the target, so a killed process leaves either the old file or the new one,
never half of one. JSONL files are written by one family of writers that share ``write``,
``write_json_line``, ``count`` and the context manager, and differ in what a crash leaves:

* :class:`AtomicJsonlWriter` streams into a temporary file that replaces the target only when
  committed: all the records or the old file;
* :class:`JsonlAppender` adds one finished record per line and flushes it, so a resumed run
  keeps everything written before the kill. A torn last line (the process died mid-write) is
  ignored by :func:`read_jsonl` and cut off by the next appender;
* :class:`JsonlWriter` streams into the target itself, for files in a staging folder that is
  renamed into place as a whole (the exports).

One JSON policy for everything toolgen writes (:func:`dumps`) and reads back (:func:`loads`),
because values come from tool documents, simulated and real API responses and model replies,
and one odd number must not stop a stage:

* integers beyond 64 bits (orjson's limit) are written as exact JSON numbers — JSON numbers have
  no range, Python's ``json``, jq and JavaScript's BigInt-aware readers keep the digits — and
  :func:`loads` reads them back exactly (orjson would make them floats);
* NaN and ±Infinity, which JSON cannot carry, are written as ``null``, as orjson and
  JavaScript's ``JSON.stringify`` do: every strict reader accepts the file and a typed reader sees
  "no value" rather than a string in a numeric field. (Call keys keep them apart:
  :mod:`pipeline.canonical` tags them.) ``-0.0`` is kept;
* strings with lone surrogates (legal in Python and in JSON escapes, not in UTF-8) are written
  with U+FFFD in their place;
* :func:`loads` also reads what other writers put in files: Python's ``NaN``/``Infinity``
  tokens (``json.dump`` writes them; ToolBench's files were made with it) and numbers beyond
  double range such as ``1e309`` (infinity), which orjson refuses.

The fast path is orjson alone; the slower, exact one runs only for documents that need it.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any, Self

import orjson

from pipeline.leftovers import atomic_temp_prefix

_DUMP_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY
_INT64_MIN, _UINT64_END = -(2**63), 2**64
# an integer orjson may read inexactly has at least 19 digits (-2**63 - 1 has 19); a false hit (a
# long digit run inside a string) only costs the slower exact parse
_LONG_DIGITS_BYTES = re.compile(rb"\d{19}")
_LONG_DIGITS_TEXT = re.compile(r"\d{19}")
_NEEDS_REWRITE = ("64-bit", "surrogates")


def dumps(obj: Any, *, indent: bool = False, sort_keys: bool = False, any_object: bool = False) -> bytes:
    """Serialise with orjson under the module's policy (big integers exact, NaN/±Infinity as
    ``null``); pydantic models should be dumped with ``model_dump`` first, though they work.
    Other objects are a :class:`TypeError`, or their ``str()`` with ``any_object`` (for text
    shown to a model or hashed, never for data read back)."""
    options = _DUMP_OPTIONS | (orjson.OPT_INDENT_2 if indent else 0) | (orjson.OPT_SORT_KEYS if sort_keys else 0)
    default = _fallback_str if any_object else _fallback
    try:
        return orjson.dumps(obj, option=options, default=default)
    except orjson.JSONEncodeError as error:
        if not any(marker in str(error) for marker in _NEEDS_REWRITE):
            raise
    return orjson.dumps(_json_safe(obj, 0), option=options, default=default)


def _fallback(obj: Any) -> Any:
    if hasattr(obj, "model_dump"):
        return obj.model_dump(mode="json")
    if isinstance(obj, (set, frozenset)):
        return sorted(obj, key=str)
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot serialise {type(obj).__name__}")


def _fallback_str(obj: Any) -> Any:
    try:
        return _fallback(obj)
    except TypeError:
        return str(obj)


def _json_safe(obj: Any, depth: int) -> Any:
    """``obj`` with what orjson refuses rewritten: integers beyond 64 bits as exact number
    fragments, lone surrogates as U+FFFD. Depth is orjson's to refuse (it stops at 255)."""
    if isinstance(obj, bool) or obj is None or isinstance(obj, float):
        return obj
    if isinstance(obj, int):
        if _INT64_MIN <= obj < _UINT64_END:
            return obj
        try:
            return orjson.Fragment(str(int(obj)))
        except ValueError:  # past Python's int-to-text limit (4,300 digits): no reader takes it
            return None
    if isinstance(obj, str):
        return _clean_text(obj)
    if depth > 300:
        return obj
    if isinstance(obj, dict):
        return {_safe_key(key): _json_safe(value, depth + 1) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(item, depth + 1) for item in obj]
    if isinstance(obj, (set, frozenset)) or hasattr(obj, "model_dump"):
        return _json_safe(_fallback(obj), depth + 1)
    return obj


def _safe_key(key: Any) -> Any:
    if isinstance(key, str):
        return _clean_text(key)
    if isinstance(key, int) and not isinstance(key, bool) and not _INT64_MIN <= key < _UINT64_END:
        return str(key)
    return key


def _clean_text(text: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


def loads(data: bytes | bytearray | memoryview | str) -> Any:
    """Parse one JSON document under the module's policy: exact big integers, and Python's
    ``NaN``/``Infinity`` tokens and out-of-range numbers accepted. Raises
    :class:`orjson.JSONDecodeError` (a ``ValueError``) for text that is not JSON."""
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as error:
        try:
            # what orjson refuses and Python reads: NaN/Infinity tokens, 1e309, lone surrogate
            # escapes (replaced, so no reader hands on text that cannot be written as UTF-8)
            return _without_surrogates(_loads_exact(data))
        except (ValueError, RecursionError):
            raise error from None
    if _may_hold_long_ints(data):
        try:
            return _loads_exact(data)
        except (ValueError, RecursionError):  # an integer past Python's 4,300-digit limit
            return value
    return value


def _may_hold_long_ints(data: bytes | bytearray | memoryview | str) -> bool:
    if isinstance(data, str):
        return _LONG_DIGITS_TEXT.search(data) is not None
    return _LONG_DIGITS_BYTES.search(bytes(data) if isinstance(data, memoryview) else data) is not None


def _without_surrogates(value: Any) -> Any:
    if isinstance(value, str):
        return _clean_text(value)
    if isinstance(value, list):
        return [_without_surrogates(item) for item in value]
    if isinstance(value, dict):
        return {_clean_text(key): _without_surrogates(item) for key, item in value.items()}
    return value


def _loads_exact(data: bytes | bytearray | memoryview | str) -> Any:
    text = data if isinstance(data, str) else bytes(data).decode("utf-8")
    return json.loads(text)


class AtomicFile:
    """A file written under a temporary name beside ``path`` and renamed over it on
    :meth:`commit`, so readers see the old file or the whole new one; :meth:`abort` removes it.

    As a context manager it commits on a clean exit and aborts on an exception.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        folder, name = self.path.parent, self.path.name
        # the pid in the name lets the next run tell a dead writer's leftover (pipeline.leftovers)
        fd, self._tmp_name = tempfile.mkstemp(prefix=atomic_temp_prefix(name), suffix=".tmp", dir=folder)
        self.handle: IO[bytes] = os.fdopen(fd, "wb")

    def commit(self, *, fsync: bool = True) -> None:
        """Replace ``path`` with what was written; with ``fsync`` the bytes are on disk first."""
        try:
            self.handle.flush()
            if fsync:
                os.fsync(self.handle.fileno())
            self.handle.close()
            os.replace(self._tmp_name, self.path)
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        self.handle.close()
        Path(self._tmp_name).unlink(missing_ok=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers never see a partial file."""
    with AtomicFile(path) as target:
        target.handle.write(data)


def write_json(path: Path, obj: Any, *, indent: bool = True) -> None:
    atomic_write_bytes(path, dumps(obj, indent=indent) + b"\n")


def read_json(path: Path) -> Any:
    return loads(Path(path).read_bytes())


class _JsonlLines:
    """What the JSONL writers share: one JSON document per line, counted, in ``path``."""

    def __init__(self, path: Path, handle: IO[bytes]) -> None:
        self.path = Path(path)
        self._handle = handle
        self.count = 0

    def write(self, record: Any) -> None:
        self.write_json_line(dumps(record))

    def write_json_line(self, line: bytes) -> None:
        """Write one already-serialised JSON document (without its newline)."""
        self._handle.write(line + b"\n")
        self.count += 1
        self._line_written()

    def _line_written(self) -> None:
        """Called after every line (an appender flushes it)."""

    def close(self) -> None:
        if not self._handle.closed:
            self._handle.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self.close()


class JsonlWriter(_JsonlLines):
    """Stream records into ``path`` (created or truncated), one per line."""

    def __init__(self, path: Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        super().__init__(path, path.open("wb"))


class AtomicJsonlWriter(_JsonlLines):
    """Stream records into a JSONL file that appears only when the writer is committed.

    Use as a context manager: on a clean exit the temporary file replaces ``path``; on an
    exception it is removed and ``path`` keeps its previous content.
    """

    def __init__(self, path: Path) -> None:
        self._file = AtomicFile(path)
        super().__init__(self._file.path, self._file.handle)

    def commit(self) -> None:
        self._file.commit()

    def abort(self) -> None:
        self._file.abort()

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self._file.__exit__(exc_type, exc, tb)


def write_jsonl(path: Path, records: Iterable[Any]) -> int:
    """Atomically write ``records`` one per line; returns how many were written."""
    with AtomicJsonlWriter(path) as writer:
        for record in records:
            writer.write(record)
    return writer.count


def read_jsonl(path: Path) -> Iterator[Any]:
    """Yield the records of a JSONL file, skipping blank lines and a torn final line.

    A final line without its newline is what a killed writer leaves behind; it is dropped
    rather than trusted. A malformed line elsewhere is a real error and names its line.
    """
    for _, record in read_jsonl_numbered(path):
        yield record


def read_jsonl_numbered(path: Path) -> Iterator[tuple[int, Any]]:
    """:func:`read_jsonl` with each record's 1-based line number, for errors that name the line."""
    path = Path(path)
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            if not line.endswith(b"\n"):
                try:
                    yield number, loads(line)
                except orjson.JSONDecodeError:
                    return  # torn tail from an interrupted append
                continue
            try:
                yield number, loads(line)
            except orjson.JSONDecodeError as error:
                raise ValueError(f"{path}:{number}: not valid JSON ({error})") from error


class JsonlAppender(_JsonlLines):
    """Append finished records to a JSONL file, one flushed line each, for resumable stages.

    ``count`` is the records this appender added, not the lines the file already had.
    """

    def __init__(self, path: Path, *, fsync: bool = False) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        _drop_torn_tail(path)
        super().__init__(path, path.open("ab"))
        self._fsync = fsync

    def _line_written(self) -> None:
        self._handle.flush()
        if self._fsync:
            os.fsync(self._handle.fileno())


def _drop_torn_tail(path: Path) -> None:
    """Cut a final line that lacks its newline so new records start on a clean line."""
    if not path.exists() or path.stat().st_size == 0:
        return
    with path.open("rb+") as handle:
        handle.seek(-1, os.SEEK_END)
        if handle.read(1) == b"\n":
            return
        size = handle.seek(0, os.SEEK_END)
        block = 1 << 16
        position = size
        while position > 0:
            start = max(0, position - block)
            handle.seek(start)
            chunk = handle.read(position - start)
            newline = chunk.rfind(b"\n")
            if newline != -1:
                handle.truncate(start + newline + 1)
                return
            position = start
        handle.truncate(0)
