"""``$ref`` resolution for specs: local JSON pointers and relative files in the spec's folder.

Every lookup is bounded: a chain of refs longer than ``max_hops`` or one that returns to a ref
it already followed is an error, not a hang. External files are read only from the folder of
the spec being read (never above it, never over the network, never a hidden file or folder,
which discovery skips too, never anything but a regular file), and each is parsed once.

A ``$ref`` refused by that policy raises :class:`RefRefused` and is also noted in the
resolver's ``refused`` list, so the collector records it against the source even where the
reader only counts a warning.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from pipeline.specs.document import DocumentError, parse_document, read_bytes


class RefError(Exception):
    """A ``$ref`` that cannot be followed; the message names the reference."""


class RefRefused(RefError):
    """A ``$ref`` toolgen will not follow (remote, outside the spec's folder, hidden ...)."""


@dataclass(frozen=True, eq=False)
class Doc:
    """A parsed document and the file it came from (``None`` for fetched specs)."""

    root: Any
    path: Path | None


class RefResolver:
    def __init__(
        self,
        root: Any,
        *,
        path: Path | None,
        max_hops: int = 64,
        max_file_bytes: int = 50 * 1024 * 1024,
        refused: list[str] | None = None,
    ) -> None:
        self.main = Doc(root, path.resolve() if path is not None else None)
        self._folder = self.main.path.parent if self.main.path is not None else None
        self._max_hops = max_hops
        self._max_file_bytes = max_file_bytes
        self._external: dict[Path, Doc] = {}
        # one line per refused $ref (the caller's list, so it survives a failing read)
        self.refused: list[str] = refused if refused is not None else []
        self._refused_seen: set[str] = set()

    def deref(self, node: Any, doc: Doc) -> tuple[Any, Doc, str | None]:
        """Follow ``$ref`` from ``node`` until a node that is not a reference.

        Returns the node, the document it lives in (refs inside it are relative to that
        document) and the last path segment of the final ref (a schema's name), if any.
        """
        name: str | None = None
        followed: set[tuple[int, str]] = set()
        for _ in range(self._max_hops + 1):  # max_hops refs followed, then the node they reach
            if not isinstance(node, dict) or "$ref" not in node:
                return node, doc, name
            ref = node["$ref"]
            if not isinstance(ref, str):
                raise RefError(f"$ref is not a string: {ref!r:.80}")
            key = (id(doc), ref)
            if key in followed:
                raise RefError(f"$ref cycle through {ref!r}")
            followed.add(key)
            node, doc = self._target(ref, doc)
            name = ref.rsplit("/", 1)[-1] or name
        raise RefError(f"$ref chain longer than {self._max_hops} hops")

    def _target(self, ref: str, doc: Doc) -> tuple[Any, Doc]:
        file_part, _, pointer = ref.partition("#")
        if file_part:
            doc = self._external_doc(file_part, doc, ref)
        return _walk_pointer(doc.root, pointer, ref), doc

    def _external_doc(self, file_part: str, doc: Doc, ref: str) -> Doc:
        if "://" in file_part:
            raise self._refuse(ref, f"remote $ref {ref!r:.200} is not followed")
        if doc.path is None or self._folder is None:
            raise self._refuse(ref, f"relative $ref {ref!r:.200} in a fetched spec cannot be followed")
        name = unquote(file_part)
        try:
            target = (doc.path.parent / name).resolve()
        except (OSError, ValueError, RuntimeError) as error:  # a NUL byte, a symlink loop
            raise self._refuse(ref, f"$ref {ref!r:.200}: not a usable file name ({error})") from error
        if not target.is_relative_to(self._folder):
            raise self._refuse(ref, f"$ref {ref!r:.200} points outside the spec's folder")
        if _hidden(Path(name).parts) or _hidden(target.relative_to(self._folder).parts):
            raise self._refuse(ref, f"$ref {ref!r:.200} points to a hidden file or folder")
        if target == self.main.path:
            return self.main
        if target not in self._external:
            try:
                data = read_bytes(target, self._max_file_bytes)
            except FileNotFoundError as error:
                raise RefError(f"$ref {ref!r:.200}: file {target.name} does not exist") from error
            except (OSError, DocumentError) as error:
                raise RefError(f"$ref {ref!r:.200}: cannot read {target.name}: {error}") from error
            try:
                self._external[target] = Doc(parse_document(data, target.name), target)
            except DocumentError as error:
                raise RefError(f"$ref {ref!r:.200}: cannot read {target.name}: {error}") from error
        return self._external[target]

    def _refuse(self, ref: str, reason: str) -> RefRefused:
        if ref not in self._refused_seen:
            self._refused_seen.add(ref)
            self.refused.append(reason)
        return RefRefused(reason)


def _hidden(parts: tuple[str, ...]) -> bool:
    return any(part.startswith(".") and part not in (".", "..") for part in parts)


def _walk_pointer(root: Any, pointer: str, ref: str) -> Any:
    node = root
    if not pointer or pointer == "/":
        return node
    if not pointer.startswith("/"):
        raise RefError(f"$ref {ref!r}: fragment is not a JSON pointer")
    for raw in pointer[1:].split("/"):
        token = unquote(raw).replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict):
            if token in node:
                node = node[token]
                continue
            # YAML turns keys such as 200 into ints, so the pointer's text may not match.
            as_int = _int_or_none(token)
            if as_int is not None and as_int in node:
                node = node[as_int]
                continue
            raise RefError(f"$ref {ref!r}: {token!r} not found")
        if isinstance(node, list):
            index = _int_or_none(token)
            if index is None or not 0 <= index < len(node):
                raise RefError(f"$ref {ref!r}: index {token!r} out of range")
            node = node[index]
            continue
        raise RefError(f"$ref {ref!r}: cannot descend into a {type(node).__name__}")
    return node


def _int_or_none(token: str) -> int | None:
    try:
        return int(token)
    except ValueError:
        return None
