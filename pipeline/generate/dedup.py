"""Dropping generated queries that repeat one already kept.

A query is an *exact* duplicate when its normalised text (case folded, punctuation dropped,
whitespace collapsed) equals a kept one, and a *near* duplicate when the cosine similarity of
its embedding to a kept one reaches the threshold. Kept embeddings live in a faiss
``IndexFlatIP`` over L2-normalised vectors (inner product = cosine), grown one query at a time,
so each query is compared with everything kept before it, including earlier ones of the same
batch.

The embedding is injected (:class:`Embedder`). :class:`SentenceTransformerEmbedder` is the real
one (a sentence-transformers model from a local path or the hub, loaded on first use).
:class:`HashingEmbedder` needs no model: hashed word and character n-gram counts. It catches
rewordings that share most words (reordered clauses, a word added or changed) and nothing
more: two paraphrases with different words look unrelated to it.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache
from typing import Any, Protocol

import faiss
import numpy as np

DEFAULT_THRESHOLD = 0.92
_WORD = re.compile(r"\w+")


class Embedder(Protocol):
    def embed(self, texts: list[str]) -> np.ndarray:
        """One row per text (any scale; the deduplicator normalises)."""
        ...


def normalise_text(text: str) -> str:
    """The text exact-duplicate detection compares: case folded, NFKC, punctuation dropped,
    whitespace collapsed."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(_WORD.findall(text.replace("_", " ")))


class Deduplicator:
    """Remembers the texts it kept and says of each new one whether it repeats one of them.

    ``#i`` in a reason is the position of the kept text among all texts offered to this
    deduplicator, counting from 0 (so after one :meth:`filter` call on a fresh deduplicator it
    is the index into that batch).
    """

    def __init__(self, embedder: Embedder, threshold: float = DEFAULT_THRESHOLD) -> None:
        if not -1.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must be a cosine in [-1, 1], got {threshold}")
        self.embedder = embedder
        self.threshold = threshold
        self._index: faiss.IndexFlatIP | None = None
        self._row_to_seen: list[int] = []  # faiss row -> position among offered texts
        self._exact: dict[str, int] = {}  # normalised kept text -> position among offered texts
        self._seen = 0

    @property
    def kept_count(self) -> int:
        return len(self._row_to_seen)

    def add(self, text: str) -> str | None:
        """``None`` if ``text`` was kept, else why it was dropped."""
        return self.filter([text])[0]

    def filter(self, texts: Iterable[str]) -> list[str | None]:
        """For each text in order: ``None`` if kept, else why it was dropped. Texts are embedded
        in one batch, then compared one by one against everything kept before them."""
        texts = list(texts)
        keys = [normalise_text(text) for text in texts]
        # Embed only what the exact check cannot settle on its own, each once, as written.
        pending: dict[str, int] = {}
        to_embed: list[str] = []
        for text, key in zip(texts, keys):
            if key and key not in self._exact and key not in pending:
                pending[key] = len(to_embed)
                to_embed.append(text)
        vectors = self._embed(to_embed) if to_embed else None
        reasons: list[str | None] = []
        for key in keys:
            position = self._seen
            self._seen += 1
            if not key:
                reasons.append("empty text")
                continue
            if key in self._exact:
                reasons.append(f"exact duplicate of #{self._exact[key]}")
                continue
            assert vectors is not None
            vector = vectors[pending[key] : pending[key] + 1]
            reason = self._near_duplicate(vector)
            if reason is None:
                self._keep(key, vector, position)
            reasons.append(reason)
        return reasons

    def _embed(self, texts: list[str]) -> np.ndarray:
        vectors = np.ascontiguousarray(self.embedder.embed(texts), dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[0] != len(texts):
            raise ValueError(f"embedder returned shape {vectors.shape} for {len(texts)} texts")
        faiss.normalize_L2(vectors)
        return vectors

    def _near_duplicate(self, vector: np.ndarray) -> str | None:
        if self._index is None or self._index.ntotal == 0:
            return None
        scores, rows = self._index.search(vector, 1)
        score, row = float(scores[0, 0]), int(rows[0, 0])
        if row >= 0 and score >= self.threshold:
            return f"near duplicate of #{self._row_to_seen[row]} (cosine {score:.2f})"
        return None

    def _keep(self, key: str, vector: np.ndarray, position: int) -> None:
        if self._index is None:
            self._index = faiss.IndexFlatIP(vector.shape[1])
        elif self._index.d != vector.shape[1]:
            raise ValueError(f"embedding width changed from {self._index.d} to {vector.shape[1]}")
        self._index.add(vector)
        self._row_to_seen.append(position)
        self._exact[key] = position


class HashingEmbedder:
    """Bag of hashed features: words, word pairs, and character 3–5-grams of each word, with
    log-scaled counts and a hash-chosen sign. Deterministic across runs and machines (blake2b,
    not Python's salted ``hash``). Catches shared-word rewordings, not paraphrases."""

    def __init__(self, dim: int = 512, char_ngrams: tuple[int, ...] = (3, 4, 5)) -> None:
        if dim <= 0:
            raise ValueError("dim must be positive")
        self.dim = dim
        self.char_ngrams = char_ngrams

    def embed(self, texts: list[str]) -> np.ndarray:
        matrix = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            counts: dict[str, int] = {}
            for feature in self._features(text):
                counts[feature] = counts.get(feature, 0) + 1
            if not counts:
                continue
            # one unbuffered add in feature order: the same sums as adding one by one, far faster
            hashed = [_hashed(feature, self.dim) for feature in counts]
            slots = np.fromiter((slot for slot, _ in hashed), dtype=np.intp, count=len(hashed))
            signs = np.fromiter((sign for _, sign in hashed), dtype=np.float64, count=len(hashed))
            weights = signs * (1.0 + np.log(np.fromiter(counts.values(), dtype=np.float64, count=len(counts))))
            np.add.at(matrix[row], slots, weights.astype(np.float32))
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        return matrix / np.where(norms == 0, 1.0, norms)

    def _features(self, text: str) -> Iterable[str]:
        words = normalise_text(text).split()
        for word in words:
            yield "w:" + word
            padded = f"<{word}>"
            for n in self.char_ngrams:
                for start in range(max(len(padded) - n + 1, 0)):
                    yield "c:" + padded[start : start + n]
        for first, second in itertools.pairwise(words):
            yield f"b:{first} {second}"


@lru_cache(maxsize=1 << 16)
def _hashed(feature: str, dim: int) -> tuple[int, float]:
    digest = int.from_bytes(hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest(), "big")
    return digest % dim, 1.0 if (digest >> 63) & 1 else -1.0


class SentenceTransformerEmbedder:
    """Embeddings from a sentence-transformers model, loaded on the first :meth:`embed` (so a
    pipeline that never deduplicates never pays for torch). ``model_name_or_path`` is a local
    model folder or a hub name; with no network, set ``HF_HUB_OFFLINE=1`` and pass a path."""

    def __init__(self, model_name_or_path: str, *, device: str | None = "cpu", batch_size: int = 64) -> None:
        self.model_name_or_path = model_name_or_path
        self.device = device
        self.batch_size = batch_size
        self._model: Any = None

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def embed(self, texts: list[str]) -> np.ndarray:
        if self._model is None:
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(self.model_name_or_path, device=self.device)
        vectors = self._model.encode(
            texts,
            batch_size=self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)
