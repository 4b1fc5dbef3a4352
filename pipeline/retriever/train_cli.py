"""``toolgen retriever train``: the command, registered on the retriever's typer sub-app.

The sub-app lives in :mod:`pipeline.retriever.cli`; :func:`register_train_command` adds this
command to it (or to any typer app), so the command's code stays beside the training code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from pipeline.errors import UsageError


def _figures(report: Any) -> dict[str, Any]:
    """The table printed after training: data, loss, and the held-out scores before → after."""
    figures: dict[str, Any] = {
        "base model": report.base_model,
        "instructions train / held out": f"{report.queries.get('train', 0)} / {report.queries.get('eval', 0)}",
        "pairs train / held out": f"{report.pairs.get('train', 0)} / {report.pairs.get('eval', 0)}",
        "documents": report.documents,
        "hard negatives per pair": report.negatives_per_pair,
        "loss": report.loss,
        "epochs / steps": f"{report.epochs} / {report.steps}",
    }
    if report.training_loss:
        figures["training loss first → last"] = (
            f"{report.training_loss[0].loss:.3f} → {report.training_loss[-1].loss:.3f}")
    if report.metrics_before is not None and report.metrics_after is not None:
        for field in ("ndcg_at_1", "ndcg_at_3", "ndcg_at_5", "recall_at_5", "recall_at_10"):
            before, after = getattr(report.metrics_before, field), getattr(report.metrics_after, field)
            figures[f"held-out {field.replace('_at_', '@')}"] = f"{100 * before:.1f} → {100 * after:.1f}"
    else:
        figures["held-out metrics"] = "none (no held-out instruction)"
    if report.skipped:
        figures["queries skipped"] = report.skipped
    figures["train seconds"] = report.train_seconds
    figures["model"] = report.model_dir
    return figures


def register_train_command(app: typer.Typer) -> None:
    """Add ``train`` to ``app`` (the ``toolgen retriever`` sub-app)."""

    @app.command("train")
    def train(
        queries: Annotated[
            list[Path] | None,
            typer.Option("--queries", help="query file in ToolBench's format (G1_query.json ...) to train on as "
                         "well as the run's queries; repeat for several"),
        ] = None,
        epochs: Annotated[
            int | None, typer.Option("--epochs", help="passes over the pairs (default: retriever.train.epochs)")
        ] = None,
        config: Annotated[
            Path | None,
            typer.Option("--config", "-c", help="toolgen.toml to read (default: ./toolgen.toml if present)"),
        ] = None,
        out: Annotated[
            Path | None, typer.Option("--out", "-o", help="run folder (default: outputs/<run_name>)")
        ] = None,
    ) -> None:
        """Fine-tune the retriever's embedding model on the run's instructions (saved to <run>/retriever/model)."""
        # pipeline.cli imports the retriever's sub-app, so its helpers are imported when called
        from pipeline.cli import _print_table, _settings, _user_errors
        from pipeline.retriever.training import train_retriever
        from pipeline.settings import RetrieverTrainSettings

        settings = _settings(config, out)
        with _user_errors():
            if epochs is not None:
                try:
                    settings.retriever.train = RetrieverTrainSettings.model_validate(
                        {**settings.retriever.train.model_dump(), "epochs": epochs})
                except ValidationError as error:
                    raise UsageError(f"--epochs {epochs}: {error.errors()[0]['msg']}") from error
            report = train_retriever(settings, queries=list(queries or []))
        _print_table("retriever train", _figures(report), settings.run_dir)
