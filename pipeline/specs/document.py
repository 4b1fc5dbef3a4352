"""Turn the bytes of a spec file into Python data: decoding, JSON or YAML, and guards.

Real-world specs come in every encoding and many are hostile by accident. What is guarded here:

* odd encodings: BOMs (UTF-8/16/32), UTF-16 without BOM, Windows-1252, else Latin-1;
* what is read: only regular files (a named pipe would block, a device never ends), and files
  over the configured cap are refused before they are read, and the read itself is bounded;
* deep nesting: libyaml's composer recurses in C and crashes the process somewhere past ~20k
  levels, and since libyaml 0.2.6 (PyYAML 6.0.4's wheels) the scanner refuses more than 1,000
  levels itself. YAML whose bracket nesting, or chain of ``- `` / ``? `` on one line, passes
  :func:`nesting_limit` (a little below whatever the installed parser accepts, and never above
  :data:`MAX_NESTING`) is refused up front with a message naming that limit (the process pool
  that runs readers is the backstop for anything that still crashes);
* values the safe loader cannot build (a date such as 2021-02-30 stays a string; an integer
  over Python's digit limit makes the file unreadable, not the reader crash);
* alias bombs and recursive aliases load as small shared graphs; everything that walks the
  result later is bounded (see :mod:`pipeline.specs.schemas`).
"""

from __future__ import annotations

import codecs
import functools
import os
import re
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import yaml

from pipeline.specs.isolation import SourceRejected

try:  # the C loader is ~10x faster; fall back so a build without libyaml still works
    from yaml import CSafeLoader as _YamlLoader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _YamlLoader  # type: ignore[assignment]

MAX_NESTING = 2000
"""toolgen's own cap on nesting, whatever the parser would accept: libyaml's C composer
recurses once per level and crashes the process somewhere past ~20k levels."""

NESTING_MARGIN = 32
"""How far below the parser's measured limit the guard refuses. The guard counts brackets and
``- ``/``? `` chains; the parser also counts the block levels around them (a deep value sits
under ``paths: /a: get: ...``), so refusing right at its limit would let some through."""


class _Loader(_YamlLoader):
    """The safe loader, except that a date-like scalar that is no real date stays a string."""


def _timestamp_or_text(loader: Any, node: yaml.ScalarNode) -> Any:
    try:
        return loader.construct_yaml_timestamp(node)
    except ValueError:  # "example: 2021-02-30" must not cost the whole spec
        return loader.construct_scalar(node)


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_or_text)
# Block sequence entries and explicit keys nested on one line ("- - - x", "? ? x", "- ? - x"):
# each indicator opens a level, like a bracket.
_INDICATOR_PAIR = re.compile(rb"[-?] +[-?] ")  # cheap to search for; chains start with one
_INDICATOR_CHAIN = re.compile(rb"(?:[-?] +)+")

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


_READ_CHUNK = 64 * 1024


class DocumentError(SourceRejected):
    """The bytes are not a readable JSON or YAML document; the message says why."""


def read_bytes(path: Path, max_bytes: int) -> bytes:
    """The content of the regular file at ``path`` (symlinks followed), if it has at most
    ``max_bytes`` bytes.

    Anything else is refused before it is read: a named pipe would block the reader forever and
    a device (a symlink to ``/dev/zero``) never ends. Type and size are checked before the file
    is opened, so no device is ever opened, and again on the opened file, which may have been
    replaced meanwhile; the read itself stops one byte past the cap, so a file that grows while
    it is read costs no more than that.
    """
    _check_readable(os.stat(path), max_bytes)
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    descriptor = os.open(path, flags)
    try:
        info = os.fstat(descriptor)
        _check_readable(info, max_bytes)
        chunks: list[bytes] = []
        read = 0
        while read <= max_bytes:  # one byte past the cap is enough to know it is over
            # the whole file in one call, then small calls until the end (or the cap) is seen
            wanted = max(info.st_size + 1 - read, _READ_CHUNK)
            chunk = os.read(descriptor, min(wanted, max_bytes + 1 - read))
            if not chunk:
                break
            chunks.append(chunk)
            read += len(chunk)
    finally:
        os.close(descriptor)
    if read > max_bytes:
        raise DocumentError(f"file grew past the cap of {max_bytes} bytes while it was read")
    return b"".join(chunks)


def _check_readable(info: os.stat_result, max_bytes: int) -> None:
    if not stat.S_ISREG(info.st_mode):
        raise DocumentError(f"not a regular file ({_file_kind(info.st_mode)}); only regular files are read")
    if info.st_size > max_bytes:
        raise DocumentError(f"file is {info.st_size} bytes, over the cap of {max_bytes} bytes")


def _file_kind(mode: int) -> str:
    kinds = (
        (stat.S_ISFIFO, "a named pipe"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISDIR, "a folder"),
    )
    return next((name for test, name in kinds if test(mode)), "not a plain file")


def decode_text(data: bytes) -> str:
    """Decode spec bytes to text, trying the encodings specs are actually written in."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data[len(bom) :].decode(encoding, errors="replace")
    if len(data) >= 2 and data[0] == 0 and data[1] != 0:
        return data.decode("utf-16-be", errors="replace")
    if len(data) >= 2 and data[0] != 0 and data[1] == 0:
        return data.decode("utf-16-le", errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def parse_document(data: bytes, name: str) -> Any:
    """Parse JSON or YAML from ``data``; ``name`` (file name or URL) picks which to try first."""
    if not data.strip():
        raise DocumentError("file is empty")
    text = decode_text(data)
    looks_json = name.lower().endswith(".json") or text.lstrip()[:1] in ("{", "[")
    json_error: Exception | None = None
    if looks_json:
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError as error:
            json_error = error  # YAML accepts much almost-JSON (comments, trailing commas)
    # The decoded text, as UTF-8: in UTF-16 bytes "- - -" has NULs between the indicators.
    check_nesting(text.encode("utf-8", errors="replace"))
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as error:
        if json_error is not None:
            raise DocumentError(f"not valid JSON: {json_error}") from error
        raise DocumentError(f"not valid YAML: {_short(error)}") from error
    except ValueError as error:  # constructors raise it, e.g. for integers over 4300 digits
        raise DocumentError(f"not valid YAML: {_short(error)}") from error
    except RecursionError as error:  # the pure-Python loader, when C is missing
        raise DocumentError("nesting too deep to parse") from error


@dataclass(frozen=True)
class NestingLimit:
    """The deepest nesting the reader lets through, and which limit set it."""

    levels: int
    source: str  # said in the error, so a user knows whether toolgen or the parser refused


@functools.cache
def nesting_limit() -> NestingLimit:
    """The guard's limit for the YAML parser installed here, measured once per process.

    Parsers change their own limits between releases (libyaml 0.2.6 started refusing flow and
    block nesting past 1,000 levels), so the limit is probed, not assumed: the deepest flow
    sequence and the deepest ``- `` chain the loader accepts, up to :data:`MAX_NESTING`. Probing
    that deep is safe: the crash is an order of magnitude further down.
    """
    accepted = min(
        _deepest_accepted(lambda depth: "[" * depth + "]" * depth),
        _deepest_accepted(lambda depth: "- " * depth + "x\n"),
    )
    if accepted >= MAX_NESTING:
        return NestingLimit(MAX_NESTING, f"toolgen's cap of {MAX_NESTING} levels")
    return NestingLimit(
        max(1, accepted - NESTING_MARGIN), f"the YAML parser ({_parser_name()}) stops at {accepted + 1} levels"
    )


def _deepest_accepted(document: Callable[[int], str]) -> int:
    """The largest depth in ``[0, MAX_NESTING]`` whose ``document(depth)`` the loader parses."""
    low, high = 0, MAX_NESTING
    while low < high:
        middle = (low + high + 1) // 2
        try:
            yaml.load(document(middle), Loader=_Loader)
        except (yaml.YAMLError, RecursionError):
            high = middle - 1
        else:
            low = middle
    return low


def _parser_name() -> str:
    if issubclass(_Loader, yaml.SafeLoader):
        return f"PyYAML {yaml.__version__}, pure Python"
    return f"PyYAML {yaml.__version__}, libyaml {yaml._yaml.get_version_string()}"


def check_nesting(data: bytes, limit: NestingLimit | None = None) -> None:
    """Refuse nesting deeper than ``limit`` (default :func:`nesting_limit`) before YAML parses it.

    Brackets inside quoted strings are counted too, which only over-estimates depth when a
    string holds thousands of unclosed brackets; the cheap total count skips the scan for
    almost every real file.
    """
    limit = limit or nesting_limit()
    if data.count(b"[") + data.count(b"{") + data.count(b"- ") + data.count(b"? ") <= limit.levels:
        return
    codes = np.frombuffer(data, dtype=np.uint8)
    opening = (codes == ord("[")) | (codes == ord("{"))
    closing = (codes == ord("]")) | (codes == ord("}"))
    depth = np.cumsum(opening.astype(np.int32) - closing.astype(np.int32))
    if depth.size and int(depth.max()) > limit.levels:
        raise DocumentError(f"nesting deeper than {limit.levels} levels ({limit.source})")
    chain = _longest_indicator_chain(data)
    if chain > limit.levels:
        raise DocumentError(
            f"nesting deeper than {limit.levels} levels ('- ' / '? ' chain of {chain}; {limit.source})"
        )


def _longest_indicator_chain(data: bytes) -> int:
    """Longest run of ``- - - ...`` / ``? ? ...`` (nested block collections on one line)."""
    longest = covered = 0
    for pair in _INDICATOR_PAIR.finditer(data):
        if pair.start() < covered:
            continue
        run = _INDICATOR_CHAIN.match(data, pair.start())
        if run is not None:
            covered = run.end()
            longest = max(longest, run.group().count(b"-") + run.group().count(b"?"))
    return longest


def _short(error: Exception) -> str:
    return " ".join(str(error).split())[:300]
