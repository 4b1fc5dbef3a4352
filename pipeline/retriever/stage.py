"""The retriever stage: build or update ``<run>/retriever/index/``, then evaluate it.

Runs after export and before report in ``toolgen run``; ``toolgen retriever build`` runs it
without the evaluation, ``toolgen retriever eval`` with it (and with any ``--queries`` files).
Its manifest section holds what the build did (documents, encoded, reused, index kind, the
recall HNSW loses) and the metrics table; the evaluation's full figures are in
``<run>/retriever/eval.json``. Skipped, with a note, when ``retriever.enabled`` is false or the
catalog has no API.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from pydantic import Field

from pipeline.errors import NothingToDo, UsageError
from pipeline.retriever.documents import catalog_documents
from pipeline.retriever.expansion import expand_documents
from pipeline.retriever.index import (
    BuildReport,
    LazyEncoder,
    build_index,
    effective_model,
    set_default_ranking,
)
from pipeline.retriever.labels import run_records
from pipeline.stages import Artifact, Stage, StageContext, StageOptions, StageReport, TableArtifact

log = logging.getLogger(__name__)

METRIC_COLUMNS = ("ndcg_at_1", "ndcg_at_3", "ndcg_at_5", "recall_at_5", "recall_at_10")


class RetrieverOptions(StageOptions):
    rebuild: bool | None = None  # write the index from scratch (cached embeddings still reused)
    evaluate: bool | None = None  # default: evaluate
    queries: list[str] | None = None  # ToolBench-format query files to evaluate on too


class RetrieverReport(StageReport):
    """The stage's manifest section."""

    skipped: str | None = None  # why nothing was done
    training: dict[str, Any] | None = None  # retriever.train.in_run: what the training did (training.json)
    training_skipped: str | None = None
    build: BuildReport | None = None
    expanded_documents: int = 0
    default_ranking: str | None = None
    default_reason: str | None = None
    metrics: list[dict[str, Any]] = Field(default_factory=list)  # set, ranking, group, figures


class RetrieverStage(Stage[RetrieverOptions, RetrieverReport]):
    """``retriever/``: the dense index of the catalog's APIs, and how well each ranking finds them."""

    name = "retriever"
    title = "indexing APIs"
    inputs = ("catalog/", "queries/")
    outputs = ("retriever/index/", "retriever/embeddings/", "retriever/eval.json")
    options_type = RetrieverOptions

    async def execute(self, context: StageContext, options: RetrieverOptions) -> RetrieverReport:
        return await asyncio.to_thread(self._execute, context, options)

    def _execute(self, context: StageContext, options: RetrieverOptions) -> RetrieverReport:
        from pipeline.retriever.evaluation import evaluate

        settings = context.settings
        files = [Path(f) for f in options.queries or []]
        for path in files:
            if not path.is_file():
                raise UsageError(f"--queries {path}: no such file")
        if not settings.retriever.enabled:
            return RetrieverReport(skipped="retriever.enabled is false")
        documents = catalog_documents(context.run_dir)
        if not documents:
            return RetrieverReport(skipped="the catalog has no API to index")
        context.set_total(2 if options.evaluate is not False else 1)
        training, training_skipped = self._train_in_run(context)
        records = run_records(context.run_dir)
        indexed, expanded = documents, 0
        if settings.retriever.expand_documents:
            indexed, expanded = expand_documents(documents, records, settings.export,
                                                 per_api=settings.retriever.expansion_per_api)
        encoder = LazyEncoder(effective_model(context.run_dir, settings.retriever), settings.retriever)
        index, build = build_index(context.run_dir, indexed, settings.retriever, rebuild=bool(options.rebuild),
                                   expanded=settings.retriever.expand_documents, encoder=encoder,
                                   probe_queries=[r.query for r in records if r.query.strip()])
        context.advance()
        report = RetrieverReport(build=build, expanded_documents=expanded, training=training,
                                 training_skipped=training_skipped, default_ranking=index.meta.default_ranking)
        if options.evaluate is False:
            return report
        result = evaluate(context.run_dir, settings, index.documents, records, query_files=files,
                          expanded=settings.retriever.expand_documents, encoder=encoder)
        set_default_ranking(context.run_dir, result.default_ranking)
        report.default_ranking, report.default_reason = result.default_ranking, result.default_reason
        report.metrics = result.table()
        context.advance()
        return report

    @staticmethod
    def _train_in_run(context: StageContext) -> tuple[dict[str, Any] | None, str | None]:
        """``retriever.train.in_run``: fine-tune first, once (a run folder with a trained model
        keeps it; ``toolgen retriever train`` trains again on purpose)."""
        if not context.settings.retriever.train.in_run:
            return None, None
        from pipeline.retriever.index import trained_model_dir
        from pipeline.retriever.training import train_retriever

        if trained_model_dir(context.run_dir).is_dir():
            return None, "a trained model is already in retriever/model/"
        try:
            return train_retriever(context.settings).model_dump(mode="json"), None
        except NothingToDo as nothing:
            return None, str(nothing)

    def summary(self, report: RetrieverReport) -> dict[str, Any]:
        if report.skipped:
            return {"skipped": report.skipped}
        figures: dict[str, Any] = {}
        if report.build is not None:
            build = report.build
            figures["documents"] = f"{build.documents} ({build.encoded} encoded, {build.reused} reused)"
            figures["changes"] = (f"+{build.added} -{build.removed} ~{build.changed} "
                                  f"({'rebuilt' if build.rebuilt else 'updated in place'})")
            figures["index"] = build.kind + (f" (recall@10 vs exact {build.recall_at_10:.4f})"
                                             if build.recall_at_10 is not None else "")
        if report.default_ranking:
            figures["default ranking"] = report.default_ranking
        for row in report.metrics:
            if row["group"] == "all":
                figures[f"{row['set']} {row['ranking']}"] = (
                    f"NDCG@1/3/5 {row['ndcg_at_1']:.3f}/{row['ndcg_at_3']:.3f}/{row['ndcg_at_5']:.3f} "
                    f"R@5/10 {row['recall_at_5']:.3f}/{row['recall_at_10']:.3f} ({row['queries']} queries)")
        return figures

    def artifacts(self, report: RetrieverReport) -> list[Artifact]:
        if not report.metrics:
            return []
        return [TableArtifact(key="retriever-metrics", rows=report.metrics,
                              description="NDCG and recall per query set, ranking and group")]

    def describe(self, report: RetrieverReport) -> str:
        if report.skipped:
            return f"retriever skipped: {report.skipped}"
        build = report.build or BuildReport()
        return f"retriever: {build.documents} APIs indexed ({build.kind}), default ranking {report.default_ranking}"
