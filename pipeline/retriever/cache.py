"""Document embeddings cached by (model fingerprint, document text hash) under the run folder.

A rebuild after a catalog change asks the cache first and encodes only the documents whose text
(or the model) changed. One file per model fingerprint: ``<run>/retriever/embeddings/<fp>.npz``
holding the text hashes and their unit vectors, row for row.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from pipeline.io import atomic_write_bytes

log = logging.getLogger(__name__)

RETRIEVER_DIR = "retriever"
EMBEDDINGS_DIR = "embeddings"

Vectors = npt.NDArray[np.float32]
Encoder = Callable[[Sequence[str]], Vectors]


@dataclass
class CacheUse:
    """How many texts one lookup encoded and how many it found cached."""

    encoded: int = 0
    reused: int = 0


class EmbeddingCache:
    """Text-hash → unit vector for one model; loaded whole, saved whole (atomically)."""

    def __init__(self, folder: Path, fingerprint: str) -> None:
        self.path = Path(folder) / f"{fingerprint}.npz"
        self.fingerprint = fingerprint
        self._vectors: dict[str, Vectors] = {}
        if self.path.is_file():
            try:
                with np.load(self.path, allow_pickle=False) as data:
                    hashes = [str(h) for h in data["hashes"]]
                    vectors = np.asarray(data["vectors"], dtype=np.float32)
                self._vectors = {h: vectors[row] for row, h in enumerate(hashes)}
            except (OSError, KeyError, ValueError) as error:
                # a damaged cache only costs re-encoding; never a failed build
                log.warning("embedding cache %s unreadable (%s); starting empty", self.path, error)

    @classmethod
    def of_run(cls, run_dir: Path, fingerprint: str) -> EmbeddingCache:
        return cls(Path(run_dir) / RETRIEVER_DIR / EMBEDDINGS_DIR, fingerprint)

    def __len__(self) -> int:
        return len(self._vectors)

    def __contains__(self, text_hash: object) -> bool:
        return text_hash in self._vectors

    def vectors_for(
        self, hashes: Sequence[str], texts: Sequence[str], encoder: Encoder, use: CacheUse | None = None
    ) -> Vectors:
        """One vector per text, in order: cached ones reused, the others encoded in one call."""
        missing = [row for row, h in enumerate(hashes) if h not in self._vectors]
        unique: dict[str, int] = {}
        for row in missing:
            unique.setdefault(hashes[row], row)
        if unique:
            fresh = encoder([texts[row] for row in unique.values()])
            for row_of_fresh, text_hash in enumerate(unique):
                self._vectors[text_hash] = fresh[row_of_fresh]
        if use is not None:
            use.encoded += len(unique)
            use.reused += len(hashes) - len(missing)
        if not hashes:
            return np.zeros((0, self.dimension or 0), dtype=np.float32)
        return np.stack([self._vectors[h] for h in hashes]).astype(np.float32, copy=False)

    @property
    def dimension(self) -> int | None:
        for vector in self._vectors.values():
            return int(vector.shape[0])
        return None

    def save(self, keep: Sequence[str] | None = None) -> None:
        """Write the cache; with ``keep``, only those hashes (the current corpus), so it does not
        grow with every catalog version."""
        hashes = [h for h in (keep if keep is not None else list(self._vectors)) if h in self._vectors]
        hashes = list(dict.fromkeys(hashes))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        vectors = (np.stack([self._vectors[h] for h in hashes]) if hashes
                   else np.zeros((0, self.dimension or 0), dtype=np.float32))
        buffer = io.BytesIO()
        np.savez(buffer, hashes=np.asarray(hashes, dtype=str), vectors=vectors.astype(np.float32))
        atomic_write_bytes(self.path, buffer.getvalue())
