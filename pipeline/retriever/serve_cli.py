"""``toolgen retriever serve``: the run's retriever over HTTP (see :mod:`pipeline.retriever.service`).

The command is registered on the ``retriever`` sub-app by :func:`register_serve_command`, so the
sub-app's module stays the one place that lists the retriever's commands.
"""

from __future__ import annotations

import asyncio
import logging
import os
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


def thread_policy(threads: int, batch_threads_from: int, cores: int | None = None) -> Callable[[int], int]:
    """How many threads a batch of ``size`` queries is searched with: ``threads`` for small
    batches, every core from ``batch_threads_from`` queries on.

    Measured on 2 shared cores at 100k APIs: one thread gave one query 17 ms (two: 25 ms, and
    330 ms of CPU when the machine was busy); two threads gave 16 clients 161 queries/s (one: 88).
    """
    every = max(threads, cores or os.cpu_count() or 1)
    return lambda size: every if size >= batch_threads_from else threads


def _set_threads(count: int) -> None:
    """torch's intra-op threads and faiss's OpenMP threads, in the calling thread (the search
    thread: OpenMP's setting is per thread)."""
    import faiss

    faiss.omp_set_num_threads(count)
    try:
        import torch
    except ImportError:  # a backend without torch (BM25 only)
        return
    if torch.get_num_threads() != count:
        torch.set_num_threads(count)


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
        before_batch: Callable[[int], None] | None = None
        if cfg.threads is not None:
            policy = thread_policy(cfg.threads, cfg.batch_threads_from)
            _set_threads(cfg.threads)  # the model loads and warms up with it

            def before_batch(size: int) -> None:
                _set_threads(policy(size))
        with _user_errors():
            backend = (open_backend or _open_run_retriever)(settings, ranking)
        facts = describe(backend)
        web_app = create_app(backend, cfg, default_k=settings.retriever.top_k, facts=facts,
                             before_batch=before_batch)

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
