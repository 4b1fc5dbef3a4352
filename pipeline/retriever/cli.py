"""``toolgen retriever``: build, train, eval, query and serve a run's API retriever.

``build`` and ``eval`` run the retriever stage through the stage contract (run lock, manifest,
progress); ``query`` only reads the index. The sub-app lives here so retriever commands are
added without touching :mod:`pipeline.cli`, which mounts it. :mod:`pipeline.cli` is imported
inside the commands: it imports this module while it is being imported itself.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

retriever_app = typer.Typer(no_args_is_help=True, help="The API retriever: index, evaluate and query a run's APIs.")

_Config = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="toolgen.toml to read (default: ./toolgen.toml if present)"),
]
_Out = Annotated[Path | None, typer.Option("--out", "-o", help="run folder (default: outputs/<run_name>)")]


class _Engine(str, Enum):  # pipeline.cli.Engine's values (it cannot be imported here at load time)
    prefect = "prefect"
    local = "local"


_EngineOption = Annotated[_Engine, typer.Option("--engine", help="run as a Prefect flow, or call the library directly")]


@retriever_app.command("build")
def build(
    config: _Config = None,
    out: _Out = None,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="write the index from scratch")] = False,
    engine: _EngineOption = _Engine.prefect,
) -> None:
    """Build or update retriever/index/ from the catalog (only new or changed APIs are encoded)."""
    from pipeline import cli

    cli._stage_command("retriever", cli._settings(config, out), cli.Engine(engine.value), {"rebuild": rebuild, "evaluate": False})


@retriever_app.command("eval")
def evaluate(
    config: _Config = None,
    out: _Out = None,
    queries: Annotated[
        list[Path] | None,
        typer.Option("--queries", help="ToolBench-format query files to evaluate on too (repeatable)"),
    ] = None,
    engine: _EngineOption = _Engine.prefect,
) -> None:
    """NDCG@1/3/5 and recall@5/10 of BM25, dense and hybrid per group; writes retriever/eval.json."""
    from pipeline import cli

    options = {"evaluate": True, "queries": [str(q) for q in queries] if queries else None}
    cli._stage_command("retriever", cli._settings(config, out), cli.Engine(engine.value), options)


@retriever_app.command("query")
def query(
    text: Annotated[str, typer.Argument(help="the instruction to find APIs for")],
    k: Annotated[int, typer.Option("-k", "--top-k", min=1, max=1000, help="results")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help='print {"results": [...]} instead of a table')] = False,
    ranking: Annotated[
        str | None, typer.Option("--ranking", help="dense, bm25 or hybrid (default: retriever.ranking)")
    ] = None,
    config: _Config = None,
    out: _Out = None,
) -> None:
    """The best APIs for an instruction, best first."""
    from rich.console import Console
    from rich.table import Table

    from pipeline import cli
    from pipeline.retriever.hits import SearchResults
    from pipeline.retriever.search import Retriever

    settings = cli._settings(config, out)
    if not text.strip():
        raise cli._usage_error("the query is empty")
    with cli._user_errors():
        hits = Retriever.open(settings.run_dir, settings.retriever, ranking=ranking).search_one(text, k)
    if as_json:
        typer.echo(SearchResults(results=hits).model_dump_json())
        return
    table = Table(title=f"{text!r}")
    for column in ("#", "score", "tool", "API", "category", "tool id / API id"):
        table.add_column(column)
    for rank, hit in enumerate(hits, start=1):
        table.add_row(str(rank), f"{hit.score:.4f}", hit.tool_name, hit.api_name, hit.category,
                      f"{hit.tool_id} / {hit.api_id}")
    Console().print(table)


def _register_more_commands() -> None:
    from pipeline.retriever.serve_cli import register_serve_command
    from pipeline.retriever.train_cli import register_train_command

    register_train_command(retriever_app)
    register_serve_command(retriever_app)


_register_more_commands()
