"""``toolgen retriever serve``: the run's retriever over HTTP (see :mod:`pipeline.retriever.service`).

The command is registered on the ``retriever`` sub-app by :func:`register_serve_command`, so the
sub-app's module stays the one place that lists the retriever's commands.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from pipeline.retriever.hits import SearchBackend
from pipeline.retriever.open_domain import open_run_retriever
from pipeline.retriever.service import backend_facts, create_app, serve
from pipeline.settings import Settings

log = logging.getLogger(__name__)

# pipeline.cli's --config/--out, spelt again: pipeline.cli imports the retriever sub-app (and so this
# module) while it is being imported, so its names are imported inside the command instead.
_Config = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="toolgen.toml to read (default: ./toolgen.toml if present)"),
]
_Out = Annotated[Path | None, typer.Option("--out", "-o", help="run folder (default: outputs/<run_name>)")]

BackendOpener = Callable[[Settings, str | None], SearchBackend]


def _open_run_retriever(settings: Settings, ranking: str | None) -> SearchBackend:
    return open_run_retriever(Path(settings.run_dir), settings.retriever, ranking)


def _limit_threads(threads: int) -> None:
    """One query gains nothing from more intra-op threads, and OpenMP's spin-waiting on a shared
    2-core machine made one query cost 330 ms of CPU to encode with two torch threads against 20
    ms with one, and 48 ms against 7 ms for an exact faiss search of 100k APIs."""
    import faiss

    faiss.omp_set_num_threads(threads)
    try:
        import torch
    except ImportError:  # a backend without torch (BM25 only) needs no limit
        return
    torch.set_num_threads(threads)


def describe(backend: object) -> dict[str, Any]:
    """What ``/health`` reports: documents, model and ranking, as far as the backend tells."""
    facts = backend_facts(backend)
    index = getattr(backend, "index", None)
    label = getattr(getattr(index, "meta", None), "model_label", None)
    if isinstance(label, str):
        facts["model"] = label
    return facts


def register_serve_command(app: typer.Typer, *, open_backend: BackendOpener | None = None) -> None:
    """Add ``serve`` to ``app``; ``open_backend`` replaces the run's index (tests serve a fake)."""

    @app.command("serve")
    def serve_command(
        config: _Config = None,
        out: _Out = None,
        host: Annotated[
            str | None, typer.Option("--host", help="address to bind (default: retriever.serve.host, 127.0.0.1)")
        ] = None,
        port: Annotated[
            int | None,
            typer.Option("--port", min=0, max=65535, help="port (default: retriever.serve.port; 0 = a free one)"),
        ] = None,
        ranking: Annotated[
            str | None, typer.Option("--ranking", help="dense, bm25 or hybrid (default: retriever.ranking)")
        ] = None,
    ) -> None:
        """Serve the run's retriever over HTTP: POST /search {"query": "...", "k": 5}, GET /health."""
        from pipeline.cli import _settings, _user_errors, console

        settings = _settings(config, out)
        cfg = settings.retriever.serve
        if cfg.threads is not None:
            _limit_threads(cfg.threads)
        with _user_errors():
            backend = (open_backend or _open_run_retriever)(settings, ranking)
        facts = describe(backend)
        web_app = create_app(backend, cfg, default_k=settings.retriever.top_k, facts=facts)

        def started(url: str) -> None:
            console.print(f"retriever of {escape(str(settings.run_dir))} ({facts.get('documents', '?')} APIs, "
                          f"{escape(str(facts.get('ranking', '?')))}) serving on [bold]{url}[/bold]: "
                          f"POST {url}/search, GET {url}/health; Ctrl-C stops it", highlight=False)

        with _user_errors():
            try:
                asyncio.run(serve(web_app, cfg, host=host, port=port, on_started=started))
            except OSError as error:  # the address is taken or cannot be bound: the user's to change
                console.print(f"[red]error:[/red] cannot listen on {host or cfg.host}:"
                              f"{port if port is not None else cfg.port}: {escape(str(error))}", highlight=False)
                raise typer.Exit(1) from error
        console.print("retriever service stopped")
