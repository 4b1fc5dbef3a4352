"""Fine-tuning the retriever's embedding model on the run's instructions.

:func:`train_retriever` is the whole job: the training pairs (:mod:`~pipeline.retriever.pairs`),
hard negatives (:mod:`~pipeline.retriever.negatives`), sentence-transformers' own
``SentenceTransformerTrainer`` with MultipleNegativesRankingLoss (or its cached variant), scored
before, during and after training by ``InformationRetrievalEvaluator`` on the held-out split
against every document. It writes:

* ``<run>/retriever/model/``: the fine-tuned model (``SentenceTransformer.save``, with its model
  card, to which a "toolgen training" section is added, and a copy of the training record);
* ``<run>/retriever/training.json``: the :class:`TrainingReport`.

The model folder is replaced atomically: training writes ``retriever/.model.partial-<pid>`` and
renames it into place only when it is complete (the previous model parked as
``.model.old-<pid>`` for the instant between the renames). A run killed before that leaves the
previous model as it was, and the next start removes the leftovers (:mod:`pipeline.leftovers`).

Everything runs on the CPU with no hub access and no experiment tracker.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from pipeline.errors import ConfigError, NothingToDo
from pipeline.export.common import EVAL, TRAIN
from pipeline.io import write_json
from pipeline.leftovers import clean_leftovers, staging_name
from pipeline.models import Tool
from pipeline.retriever.embedder import DEFAULT_MODEL, DEFAULT_MODEL_LABEL, load_embedder
from pipeline.retriever.negatives import MinedNegatives, mine_negatives
from pipeline.retriever.pairs import TrainingData, TrainingQuery, load_training_data
from pipeline.runlock import run_folder_lock
from pipeline.settings import RetrieverTrainSettings, Settings
from pipeline.specs.catalog import CatalogMissing, iter_tools

if TYPE_CHECKING:
    from datasets import Dataset
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.evaluation import InformationRetrievalEvaluator

from pipeline.retriever.cache import RETRIEVER_DIR
from pipeline.retriever.index import MODEL_DIR, retriever_dir, trained_model_dir

log = logging.getLogger(__name__)

TRAINING_FILE = "training.json"
EVALUATOR_NAME = "heldout"
LOSS_NAMES = {"mnrl": "MultipleNegativesRankingLoss", "cached_mnrl": "CachedMultipleNegativesRankingLoss"}
# the evaluator's metric per field of RetrievalMetrics (binary relevance, over the whole corpus)
_METRIC_KEYS = {
    "ndcg_at_1": "cosine_ndcg@1", "ndcg_at_3": "cosine_ndcg@3", "ndcg_at_5": "cosine_ndcg@5",
    "recall_at_5": "cosine_recall@5", "recall_at_10": "cosine_recall@10", "mrr_at_10": "cosine_mrr@10",
}


class RetrievalMetrics(BaseModel):
    """InformationRetrievalEvaluator's scores on the held-out instructions (0..1)."""

    model_config = ConfigDict(extra="forbid")

    ndcg_at_1: float
    ndcg_at_3: float
    ndcg_at_5: float
    recall_at_5: float
    recall_at_10: float
    mrr_at_10: float

    @classmethod
    def from_evaluator(cls, scores: dict[str, Any], prefix: str = "") -> RetrievalMetrics:
        """From the evaluator's dict (keys ``heldout_cosine_ndcg@1``, ``eval_`` prefixed in trainer logs)."""
        return cls(**{field: float(scores[f"{prefix}{EVALUATOR_NAME}_{key}"]) for field, key in _METRIC_KEYS.items()})


class LossPoint(BaseModel):
    """The mean training loss since the previous point."""

    model_config = ConfigDict(extra="forbid")

    step: int
    epoch: float
    loss: float


class EpochMetrics(BaseModel):
    model_config = ConfigDict(extra="forbid")

    epoch: float
    step: int
    metrics: RetrievalMetrics


class TrainingReport(BaseModel):
    """``<run>/retriever/training.json``: what one fine-tuning read, did and scored."""

    model_config = ConfigDict(extra="forbid")

    schema_version: int = 1
    base_model: str = Field(description="the model training started from, as configured")
    model_dir: str = Field(description="where the fine-tuned model was saved")
    loss: str
    epochs: int
    batch_size: int
    learning_rate: float
    steps: int = 0
    seed: int
    max_seq_length: int
    query_sources: list[str] = Field(default_factory=list, description="query files read")
    queries: dict[str, int] = Field(default_factory=dict, description="instructions per split")
    pairs: dict[str, int] = Field(default_factory=dict, description="(instruction, relevant API) pairs per split")
    pairs_by_group: dict[str, dict[str, int]] = Field(default_factory=dict)
    documents: int = Field(default=0, description="the corpus: catalog APIs plus APIs only in query files")
    documents_from_query_files: int = 0
    negatives_per_pair: int = 0
    negatives_by_source: dict[str, int] = Field(default_factory=dict, description="over the train instructions")
    skipped: dict[str, int] = Field(default_factory=dict, description="queries left out, by reason")
    unresolved_apis: int = 0
    training_loss: list[LossPoint] = Field(default_factory=list, description="per logging step")
    final_training_loss: float | None = None
    eval_per_epoch: list[EpochMetrics] = Field(default_factory=list)
    metrics_before: RetrievalMetrics | None = Field(default=None, description="None: no held-out instruction")
    metrics_after: RetrievalMetrics | None = None
    train_seconds: float = 0.0
    seconds: float = 0.0


def model_dir(run_dir: Path) -> Path:
    """Where the fine-tuned model is saved (and what search loads when it is configured to)."""
    return trained_model_dir(run_dir)


def _check(options: RetrieverTrainSettings) -> None:
    if sum((options.bm25_negatives, options.dense_negatives, options.sibling_negatives)) > 64:
        raise ConfigError("retriever.train: bm25_negatives + dense_negatives + sibling_negatives must be at most 64 "
                          "(each negative is one more text per pair and step)")
    if options.loss == "cached_mnrl" and options.mini_batch_size > options.batch_size:
        raise ConfigError(f"retriever.train.mini_batch_size {options.mini_batch_size} is larger than "
                          f"retriever.train.batch_size {options.batch_size}: the cached loss splits a batch into "
                          "mini-batches")


def _catalog(run_dir: Path, has_files: bool) -> list[Tool]:
    try:
        return list(iter_tools(run_dir))
    except CatalogMissing:
        if not has_files:
            raise
        log.info("%s has no catalog: the query files' api_list records make the corpus", run_dir)
        return []


def _dataset(queries: Sequence[TrainingQuery], data: TrainingData, negatives: MinedNegatives) -> Dataset:
    """One row per (instruction, relevant API): anchor, positive, negative_1..n."""
    from datasets import Dataset

    documents = data.corpus.documents
    columns: dict[str, list[str]] = {"anchor": [], "positive": []}
    for number in range(1, negatives.per_pair + 1):
        columns[f"negative_{number}"] = []
    for query in queries:
        for position in query.relevant:
            columns["anchor"].append(query.text)
            columns["positive"].append(documents[position].text)
            for number, negative in enumerate(negatives.by_query[query.qid], start=1):
                columns[f"negative_{number}"].append(documents[negative].text)
    return Dataset.from_dict(columns)


def _evaluator(queries: Sequence[TrainingQuery], data: TrainingData, batch_size: int) -> InformationRetrievalEvaluator:
    from sentence_transformers.sentence_transformer.evaluation import InformationRetrievalEvaluator
    from sentence_transformers.util import cos_sim

    return InformationRetrievalEvaluator(
        queries={query.qid: query.text for query in queries},
        corpus={str(position): document.text for position, document in enumerate(data.corpus.documents)},
        relevant_docs={query.qid: {str(position) for position in query.relevant} for query in queries},
        ndcg_at_k=[1, 3, 5], precision_recall_at_k=[5, 10], accuracy_at_k=[1, 5], mrr_at_k=[10], map_at_k=[10],
        name=EVALUATOR_NAME, score_functions={"cosine": cos_sim}, main_score_function="cosine",
        batch_size=batch_size, write_csv=False, show_progress_bar=False,
    )


def _loss(model: SentenceTransformer, options: RetrieverTrainSettings) -> Any:
    from sentence_transformers.sentence_transformer.losses import (
        CachedMultipleNegativesRankingLoss,
        MultipleNegativesRankingLoss,
    )

    if options.loss == "cached_mnrl":
        return CachedMultipleNegativesRankingLoss(model, mini_batch_size=options.mini_batch_size)
    return MultipleNegativesRankingLoss(model)


def _fit(
    model: SentenceTransformer, dataset: Dataset, evaluator: InformationRetrievalEvaluator | None,
    options: RetrieverTrainSettings, seed: int, scratch: Path,
) -> list[dict[str, Any]]:
    """Train in place; returns the trainer's log history (losses and per-epoch metrics)."""
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentence_transformers.base.sampler import BatchSamplers
    from transformers import PrinterCallback, TrainerCallback

    class _LogToLogger(TrainerCallback):
        # The trainer prints its logs to stdout with tqdm off; the library logs instead.
        def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None,
                   **kwargs: Any) -> None:
            if logs:
                log.info("retriever training, step %s/%s: %s", state.global_step, state.max_steps,
                         {key: float(f"{value:.4g}") if isinstance(value, float) else value for key, value in logs.items()})

    args = SentenceTransformerTrainingArguments(
        output_dir=str(scratch),
        num_train_epochs=options.epochs,
        per_device_train_batch_size=options.batch_size,
        per_device_eval_batch_size=options.batch_size,
        learning_rate=options.learning_rate,
        warmup_steps=options.warmup_ratio,  # a float under 1 is a share of the steps (transformers >= 5)
        batch_sampler=BatchSamplers.NO_DUPLICATES,  # a repeated text in a batch would be a false negative
        eval_strategy="epoch" if evaluator is not None else "no",
        save_strategy="no",
        logging_steps=options.logging_steps,
        logging_first_step=True,
        report_to="none",
        use_cpu=True,
        seed=seed,
        data_seed=seed,
        disable_tqdm=True,
        dataloader_num_workers=0,
        dataloader_pin_memory=False,
    )
    trainer = SentenceTransformerTrainer(
        model=model, args=args, train_dataset=dataset, loss=_loss(model, options), evaluator=evaluator,
    )
    trainer.remove_callback(PrinterCallback)
    trainer.add_callback(_LogToLogger())
    trainer.train()
    history: list[dict[str, Any]] = trainer.state.log_history
    return history


def _losses(history: list[dict[str, Any]]) -> list[LossPoint]:
    return [LossPoint(step=int(entry["step"]), epoch=float(entry.get("epoch", 0.0)), loss=float(entry["loss"]))
            for entry in history if "loss" in entry and "step" in entry]


def _epoch_metrics(history: list[dict[str, Any]]) -> list[EpochMetrics]:
    key = f"eval_{EVALUATOR_NAME}_{_METRIC_KEYS['ndcg_at_1']}"
    return [EpochMetrics(epoch=float(entry.get("epoch", 0.0)), step=int(entry.get("step", 0)),
                         metrics=RetrievalMetrics.from_evaluator(entry, prefix="eval_"))
            for entry in history if key in entry]


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def _card_section(report: TrainingReport) -> str:
    """The model card's own section: what toolgen trained this model on, and how it scored."""
    rows = []
    for field in _METRIC_KEYS:
        before = getattr(report.metrics_before, field) if report.metrics_before else None
        after = getattr(report.metrics_after, field) if report.metrics_after else None
        rows.append(f"| {field.replace('_at_', '@')} | {_percent(before)} | {_percent(after)} |")
    groups = ", ".join(f"{group}: {counts[TRAIN]} train / {counts[EVAL]} held out"
                       for group, counts in report.pairs_by_group.items())
    return "\n".join([
        "", "## toolgen training", "",
        "Fine-tuned by `toolgen retriever train` to map an instruction to the APIs that serve it. "
        "Documents are ToolBench's retriever text of an API (category, tool, API, description, "
        "parameters, response schema).", "",
        f"- base model: `{report.base_model}`",
        f"- loss: {report.loss}, {report.negatives_per_pair} hard negative(s) per pair "
        f"(BM25, the base model's ranks, sibling APIs of the same tool)",
        f"- epochs: {report.epochs}, batch size {report.batch_size}, learning rate {report.learning_rate}, "
        f"{report.steps} steps, seed {report.seed}, max_seq_length {report.max_seq_length}",
        f"- instructions: {report.queries.get(TRAIN, 0)} train, {report.queries.get(EVAL, 0)} held out; "
        f"pairs: {report.pairs.get(TRAIN, 0)} train, {report.pairs.get(EVAL, 0)} held out ({groups})",
        f"- corpus: {report.documents} API documents",
        "", "Held-out retrieval over the whole corpus (InformationRetrievalEvaluator, %):", "",
        "| metric | before | after |", "| --- | --- | --- |", *rows, "",
    ])


def _swap_in(staged: Path, target: Path) -> None:
    """Put the complete ``staged`` folder at ``target``, replacing the previous model."""
    old = target.parent / staging_name(target.name, "old")
    if target.exists():
        os.replace(target, old)
    os.replace(staged, target)
    shutil.rmtree(old, ignore_errors=True)


def train_retriever(settings: Settings, *, queries: Sequence[Path] = ()) -> TrainingReport:
    """Fine-tune the retriever's embedding model on the run's instructions (and ``queries`` files).

    Pairs are (instruction, relevant API document) from the train side of the exports' split,
    G1+G2+G3 mixed, each with ``retriever.train`` hard negatives; the held-out side scores the
    model before, per epoch and after. The model is saved to ``<run>/retriever/model/`` (replaced
    only once complete) and the report to ``<run>/retriever/training.json``, and returned.

    Raises :class:`~pipeline.errors.NothingToDo` when there is no instruction to train on (no
    queries with relevant APIs in the train split) and :class:`~pipeline.errors.ConfigError`
    for settings that cannot be used (a model that does not load, contradictory sizes).
    """
    started = time.monotonic()
    options = settings.retriever.train
    _check(options)
    run_dir = Path(settings.run_dir)
    query_paths = [Path(path) for path in queries]
    for path in query_paths:
        if not path.is_file():
            raise ConfigError(f"--queries {path}: no such file")
    data = load_training_data(settings, _catalog(run_dir, bool(query_paths)), queries=query_paths)
    train, held_out = data.split(TRAIN), data.split(EVAL)
    if not train:
        where = ", ".join(data.sources) or f"{run_dir}/queries/G*.jsonl (none found)"
        skipped = f" (skipped: {dict(data.skipped)})" if data.skipped else ""
        raise NothingToDo(f"no instruction with a relevant API to train the retriever on in {where}{skipped}; "
                          f"run `toolgen generate` first or give --queries FILE"
                          + (f"; all {len(held_out)} fell in the held-out split" if held_out else ""))
    base = options.base_model or settings.retriever.model
    log.info("retriever training: %d instructions (%d pairs) to train on, %d held out, %d documents, from %s",
             len(train), data.pair_count(TRAIN), len(held_out), len(data.corpus), base)
    model = load_embedder(base, max_seq_length=settings.retriever.max_seq_length)
    # the model card looks base models and datasets up on the hub unless told not to
    model.model_card_data.local_files_only = True
    model.model_card_data.model_name = "toolgen API retriever"
    negatives = mine_negatives(
        train, data.corpus, model=model, seed=settings.seed, encode_batch_size=settings.retriever.encode_batch_size,
        quotas={"bm25": options.bm25_negatives, "dense": options.dense_negatives,
                "siblings": options.sibling_negatives},
    )
    dataset = _dataset(train, data, negatives)
    evaluator = _evaluator(held_out, data, settings.retriever.encode_batch_size) if held_out and options.evaluate \
        else None
    report = TrainingReport(
        base_model=DEFAULT_MODEL_LABEL if base == DEFAULT_MODEL else base,
        model_dir=str(model_dir(run_dir)), loss=LOSS_NAMES[options.loss], epochs=options.epochs,
        batch_size=options.batch_size, learning_rate=options.learning_rate, seed=settings.seed,
        max_seq_length=settings.retriever.max_seq_length, query_sources=data.sources,
        queries={TRAIN: len(train), EVAL: len(held_out)},
        pairs={TRAIN: data.pair_count(TRAIN), EVAL: data.pair_count(EVAL)}, pairs_by_group=data.pairs_by_group(),
        documents=len(data.corpus), documents_from_query_files=data.corpus.from_records,
        negatives_per_pair=negatives.per_pair, negatives_by_source=negatives.by_source,
        skipped=dict(data.skipped), unresolved_apis=data.unresolved_apis,
    )
    if evaluator is not None:
        report.metrics_before = RetrievalMetrics.from_evaluator(evaluator(model))
        log.info("retriever before training: %s", report.metrics_before)

    folder = retriever_dir(run_dir)
    folder.mkdir(parents=True, exist_ok=True)
    with run_folder_lock(run_dir, purpose="toolgen retriever train"):
        clean_leftovers(run_dir, [f"{RETRIEVER_DIR}/"], exclusive=False)
        staged = folder / staging_name(MODEL_DIR, "partial")
        try:
            with tempfile.TemporaryDirectory(prefix="toolgen-train-") as scratch:
                fit_started = time.monotonic()
                history = _fit(model, dataset, evaluator, options, settings.seed, Path(scratch))
                report.train_seconds = round(time.monotonic() - fit_started, 2)
            report.training_loss = _losses(history)
            report.final_training_loss = next((float(entry["train_loss"]) for entry in reversed(history)
                                               if "train_loss" in entry), None)
            report.steps = max((int(entry.get("step", 0)) for entry in history), default=0)
            report.eval_per_epoch = _epoch_metrics(history)
            if evaluator is not None:
                last = report.eval_per_epoch[-1].metrics if report.eval_per_epoch else None
                report.metrics_after = last or RetrievalMetrics.from_evaluator(evaluator(model))
                log.info("retriever after training: %s", report.metrics_after)
            report.seconds = round(time.monotonic() - started, 2)
            model.save(str(staged))
            with (staged / "README.md").open("a", encoding="utf-8") as card:
                card.write(_card_section(report))
            write_json(staged / TRAINING_FILE, report.model_dump(mode="json"))
            _swap_in(staged, model_dir(run_dir))
        finally:
            shutil.rmtree(staged, ignore_errors=True)
        write_json(folder / TRAINING_FILE, report.model_dump(mode="json"))
    log.info("retriever model saved to %s (%.0f s)", model_dir(run_dir), report.seconds)
    return report


def read_training_report(run_dir: Path) -> TrainingReport:
    """``<run>/retriever/training.json``, validated."""
    path = retriever_dir(run_dir) / TRAINING_FILE
    return TrainingReport.model_validate_json(path.read_bytes())
