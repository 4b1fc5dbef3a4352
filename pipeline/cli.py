"""The ``toolgen`` command.

Exit codes: 0 success, 1 a stage failed, 2 bad usage or configuration. Stages run as Prefect
flows by default (``--engine prefect``); ``--engine local`` runs the same library functions
directly, which is faster to start and needs no Prefect server.
"""

from __future__ import annotations

import asyncio
import errno
import itertools
import logging
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from pipeline.errors import ConfigError, StageError, ToolgenError, UsageError
from pipeline.settings import Settings, load_settings

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="toolgen: REST API specs → tool-use training data (catalog, instructions, solution paths).",
)
catalog_app = typer.Typer(no_args_is_help=True, help="Inspect and export a run's catalog.")
app.add_typer(catalog_app, name="catalog")
sandbox_app = typer.Typer(no_args_is_help=True, help="The bundled sandbox of working REST APIs.")
app.add_typer(sandbox_app, name="sandbox")
env_app = typer.Typer(no_args_is_help=True, help="Call the catalog's APIs: real, simulated, cached.")
app.add_typer(env_app, name="env")

console = Console(stderr=True, soft_wrap=True)  # never break a path across lines


class Engine(str, Enum):
    prefect = "prefect"
    local = "local"


class ExportFormat(str, Enum):
    toolbench = "toolbench"


ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="toolgen.toml to read (default: ./toolgen.toml if present)"),
]
OutOption = Annotated[
    Path | None, typer.Option("--out", "-o", help="run folder (default: outputs/<run_name>)")
]
EngineOption = Annotated[
    Engine, typer.Option("--engine", help="run as Prefect flows, or call the library directly")
]
TrustHostOption = Annotated[
    list[str] | None,
    typer.Option("--trust-host", help="host or host:port pattern that URLs found in fetched indexes and "
                 "redirects may reach even at loopback/private addresses (adds to collect.fetch.trusted_hosts)"),
]


LogRequestsOption = Annotated[
    Path | None,
    typer.Option("--log-requests", help="append every model request and response to this JSONL file (key masked)"),
]


BatchOption = Annotated[
    bool, typer.Option("--batch", help="writer and judge requests through OpenAI's Batch API (half price, within 24 h)"),
]


def _llm_overrides(log_requests: Path | None, batch: bool = False) -> dict[str, Any]:
    llm: dict[str, Any] = {}
    if log_requests is not None:
        llm["log_requests"] = str(log_requests)
    if batch:
        llm["batch"] = True
    return {"llm": llm} if llm else {}


# Libraries that log one line per HTTP request at INFO; -v is for the stages' own events
_CHATTY_LOGGERS = ("httpx", "httpcore", "openai", "aiohttp.access", "urllib3", "filelock",
                   "sentence_transformers", "faiss")


@app.callback()
def _main_options(
    verbose: Annotated[int, typer.Option("--verbose", "-v", count=True, help="more logging")] = 0,
) -> None:
    level = logging.DEBUG if verbose > 1 else logging.INFO if verbose == 1 else logging.WARNING
    logging.basicConfig(
        level=level,
        format="%(message)s",
        handlers=[RichHandler(console=console, show_path=False, rich_tracebacks=False)],
        force=True,
    )
    if verbose == 0:
        logging.getLogger("pipeline").setLevel(logging.INFO)
    for name in _CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG if verbose > 1 else logging.WARNING)


def _settings(config: Path | None, out: Path | None, **overrides: Any) -> Settings:
    with _user_errors():
        return load_settings(config, run_dir=out, **overrides)


@contextmanager
def _user_errors() -> Iterator[None]:
    """Turn the errors a user can act on into one message and their exit code (2 for
    configuration and usage, 1 for a stage that failed). Anything else is a bug and keeps its
    traceback."""
    try:
        yield
    except ToolgenError as error:
        label = "configuration error" if isinstance(error, ConfigError) else (
            "usage error" if isinstance(error, UsageError) else "error")
        console.print(f"[red]{label}:[/red] {escape(str(error))}", highlight=False)
        raise typer.Exit(error.exit_code) from error
    except OSError as error:
        # A folder the user named that cannot be written (read-only, full, a file in the way)
        # is the user's to fix, not a bug: one line naming the path.
        if error.errno not in _UNWRITABLE or error.filename is None:
            raise
        console.print(f"[red]configuration error:[/red] cannot write {escape(str(error.filename))}: "
                      f"{escape(error.strerror or str(error))}", highlight=False)
        raise typer.Exit(2) from error


_UNWRITABLE = frozenset({errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT, errno.ENOTDIR,
                         errno.EISDIR, errno.EEXIST})


def _usage_error(message: str) -> typer.Exit:
    console.print(f"[red]usage error:[/red] {message}")
    return typer.Exit(2)


def _stage_command(name: str, settings: Settings, engine: Engine, options: dict[str, Any]) -> Any:
    """What every stage command does: options, the stage (as a Prefect flow or directly, with a
    progress bar), its figures. Returns the stage's report."""
    from pipeline.stages import stage_named

    with _user_errors(), ExitStack() as held:
        stage = stage_named(name)
        chosen = stage.options(options)
        # Before Prefect starts: an unwritable or busy --out is one line, not a failed flow.
        held.enter_context(_writable_run_folder(settings.run_dir, stage.writes_run_folder, f"toolgen {name}"))
        try:
            if engine is Engine.prefect:
                from flows.stage_flows import flow_for

                report = asyncio.run(flow_for(name)(settings=settings, options=chosen.model_dump(mode="json")))
            else:
                report = asyncio.run(_run_with_progress(stage, settings, chosen))
        except StageError:
            if name == "collect":
                _show_errors(settings.run_dir)
            raise
    _print_table(name, stage.summary(report), settings.run_dir)
    return report


@contextmanager
def _writable_run_folder(run_dir: Path, locked: bool, purpose: str) -> Iterator[None]:
    """Hold the run folder's writer lock (a writer), or check the folder can be written (a
    reader that writes its own sub-folder, such as the report)."""
    from pipeline.runlock import check_writable, run_folder_lock

    if locked:
        with run_folder_lock(run_dir, purpose=purpose):
            yield
    else:
        if Path(run_dir).exists():  # a missing run folder is the stage's own error (run a stage first)
            check_writable(run_dir)
        yield


async def _run_with_progress(stage: Any, settings: Settings, options: Any) -> Any:
    from pipeline.stages import StageContext, run_stage

    with _progress() as progress:
        task = progress.add_task(stage.title, total=None)
        context = StageContext.of(settings, progress=lambda done, total: progress.update(task, completed=done,
                                                                                        total=total))
        return await run_stage(stage, context, options)


@app.command()
def collect(
    sources: Annotated[
        list[str] | None,
        typer.Argument(help="spec files, folders, spec URLs or APIs.guru-style index URLs "
                       "(default: collect.sources from the configuration)"),
    ] = None,
    config: ConfigOption = None,
    out: OutOption = None,
    workers: Annotated[int | None, typer.Option(help="reader processes")] = None,
    trust_host: TrustHostOption = None,
    engine: EngineOption = Engine.prefect,
) -> None:
    """Collect API specs into the run's catalog (catalog/tools.jsonl, errors.jsonl, graph.json)."""
    settings = _settings(config, out, collect=_drop_none({"workers": workers}))
    if trust_host:
        settings = _settings(config, out, collect=_drop_none({"workers": workers, **_trusting(settings, trust_host)}))
    _check_sources(sources or settings.collect.sources)
    _stage_command("collect", settings, engine, {"sources": sources})


def _trusting(settings: Settings, hosts: list[str] | None) -> dict[str, Any]:
    """The collect override that adds ``hosts`` to the configured ``collect.fetch.trusted_hosts``."""
    if not hosts:
        return {}
    return {"fetch": {"trusted_hosts": [*settings.collect.fetch.trusted_hosts, *hosts]}}


def _show_errors(run_dir: Path, limit: int = 5) -> None:
    from pipeline.io import read_jsonl
    from pipeline.specs.catalog import CatalogPaths

    path = CatalogPaths(run_dir).errors
    if not path.is_file():
        return
    for number, error in enumerate(read_jsonl(path)):
        if number == limit:
            console.print("  ...")
            break
        console.print(f"  {error['source']}: {error['reason']}")


@app.command()
def run(
    config: ConfigOption = None,
    out: OutOption = None,
    specs: Annotated[
        list[str] | None, typer.Option("--specs", help="spec sources instead of collect.sources")
    ] = None,
    trust_host: TrustHostOption = None,
    log_requests: LogRequestsOption = None,
    batch: BatchOption = False,
    engine: EngineOption = Engine.prefect,
) -> None:
    """Run every stage end to end (collect, probe every API, generate instructions, annotate solution paths, verify, export datasets, report) on the bundled specs, offline by default."""
    from pipeline.stages import registry

    settings = _settings(config, out, **_llm_overrides(log_requests, batch))
    if trust_host:
        settings = _settings(config, out, collect=_trusting(settings, trust_host), **_llm_overrides(log_requests, batch))
    _check_sources(specs or settings.collect.sources)
    options: dict[str, dict[str, Any] | None] = {"collect": {"sources": specs}}
    with _user_errors(), ExitStack() as held:
        held.enter_context(_writable_run_folder(settings.run_dir, True, "toolgen run"))
        try:
            if engine is Engine.prefect:
                from flows.end_to_end import pipeline_flow

                reports = asyncio.run(pipeline_flow(settings=settings, options=options))
            else:
                from pipeline.run import run_pipeline

                reports = asyncio.run(run_pipeline(settings, options=options))
        except StageError:
            _show_errors(settings.run_dir)
            raise
    for stage in registry():
        _print_table(stage.name, stage.summary(reports[stage.name]), settings.run_dir)
    console.print(f"[green]done[/green]: {settings.run_dir}/manifest.json")


@app.command()
def generate(
    config: ConfigOption = None,
    out: OutOption = None,
    groups: Annotated[str | None, typer.Option("--groups", help="comma-separated groups, e.g. G1,G2,G3")] = None,
    per_group: Annotated[int | None, typer.Option("--per-group", min=1, help="API sets per group")] = None,
    log_requests: LogRequestsOption = None,
    batch: BatchOption = False,
    engine: EngineOption = Engine.prefect,
) -> None:
    """Sample API sets (G1/G2/G3) and write instructions for them into queries/<group>.jsonl."""
    chosen = None
    if groups is not None:
        chosen = [g.strip().upper() for g in groups.split(",") if g.strip()]
        if not chosen or any(g not in ("G1", "G2", "G3") for g in chosen):
            raise _usage_error(f"--groups {groups!r}: use a comma-separated subset of G1,G2,G3")
    _stage_command("generate", _settings(config, out, **_llm_overrides(log_requests, batch)), engine,
                   {"groups": chosen, "per_group": per_group})


class Algorithm(str, Enum):
    dfsdt = "dfsdt"
    react = "react"


@app.command()
def annotate(
    config: ConfigOption = None,
    out: OutOption = None,
    algorithm: Annotated[
        Algorithm | None, typer.Option("--algorithm", help="DFSDT tree search or the ReACT chain (default: annotate.algorithm)")
    ] = None,
    width: Annotated[int | None, typer.Option("--width", min=1, help="DFSDT children per node")] = None,
    queries: Annotated[
        list[Path] | None,
        typer.Option("--queries", help="ToolBench-format query files (JSON list or JSONL) instead of queries/G*.jsonl"),
    ] = None,
    export_toolbench: Annotated[
        Path | None,
        typer.Option("--export-toolbench", help="afterwards, write the trajectories as ToolBench answer files into DIR"),
    ] = None,
    open_domain: Annotated[
        bool | None,
        typer.Option("--open-domain/--closed-domain", help="offer each query the retriever's top APIs for its "
                     "instruction instead of its api_list (default: annotate.open_domain; needs "
                     "`toolgen retriever build`)"),
    ] = None,
    retrieve_k: Annotated[
        int | None, typer.Option("--retrieve-k", min=1, max=100, help="open domain: APIs per query (default: annotate.retrieve_k)")
    ] = None,
    log_requests: LogRequestsOption = None,
    engine: EngineOption = Engine.prefect,
) -> None:
    """Search a solution path for every query (DFSDT or ReACT, calling the APIs); writes trajectories/<group>.jsonl."""
    options = {"algorithm": algorithm.value if algorithm is not None else None, "width": width,
               "query_files": [str(f) for f in queries] if queries else None,
               "open_domain": open_domain, "retrieve_k": retrieve_k}
    settings = _settings(config, out, **_llm_overrides(log_requests))
    _stage_command("annotate", settings, engine, options)
    if export_toolbench is not None:
        from pipeline.records import iter_trajectories
        from pipeline.runlock import check_writable
        from pipeline.toolbench.answers import export_toolbench_answers

        with _user_errors():
            check_writable(export_toolbench, what="--export-toolbench folder")
            count = export_toolbench_answers(iter_trajectories(settings.run_dir), export_toolbench)
        console.print(f"wrote {count} ToolBench answer files to {export_toolbench}")


@app.command()
def verify(
    config: ConfigOption = None, out: OutOption = None, log_requests: LogRequestsOption = None,
    batch: BatchOption = False, engine: EngineOption = Engine.prefect,
) -> None:
    """Check every trajectory (format, execution, semantic judge); writes verified/accepted.jsonl and rejected.jsonl."""
    _stage_command("verify", _settings(config, out, **_llm_overrides(log_requests, batch)), engine, {})


@app.command()
def export(
    config: ConfigOption = None,
    out: OutOption = None,
    formats: Annotated[
        list[str] | None,
        typer.Option("--format", help="toolllama, openai, hf, sharegpt, rl or retriever (repeatable; default: export.formats)"),
    ] = None,
    engine: EngineOption = Engine.prefect,
) -> None:
    """Write the verified samples as training datasets into datasets/<format>/ (train/eval split, card, checksums)."""
    chosen = [f.strip().lower() for f in formats] if formats else None
    _stage_command("export", _settings(config, out), engine, {"formats": chosen})


@app.command()
def report(config: ConfigOption = None, out: OutOption = None, engine: EngineOption = Engine.prefect) -> None:
    """Write report/report.md with plots (catalog, instructions, funnel, search trees, cost, caches) for the run."""
    _stage_command("report", _settings(config, out), engine, {})


@app.command()
def serve(config: ConfigOption = None) -> None:
    """Run the flows listed as schedules in the configuration on their cron or interval (needs a Prefect server)."""
    settings = _settings(config, None)
    if not settings.schedules:
        console.print("[red]usage error:[/red] no \\[\\[schedules]] in the configuration; see toolgen.example.toml")
        raise typer.Exit(2)
    from flows.serve import serve_schedules

    with _user_errors():
        serve_schedules(settings, config)


@sandbox_app.command("serve")
def sandbox_serve(
    port: Annotated[int | None, typer.Option(help="port (default: 8750, the port the sandbox specs name)")] = None,
    host: Annotated[str | None, typer.Option(help="address to listen on")] = None,
    seed: Annotated[int | None, typer.Option(help="seed of the generated data")] = None,
    latency_ms: Annotated[float | None, typer.Option(help="injected latency per request")] = None,
    rate_limit: Annotated[int | None, typer.Option(help="requests per minute per client and tool")] = None,
    config: ConfigOption = None,
) -> None:
    """Serve the sandbox APIs (api_specs/sandbox) until interrupted."""
    from urllib.parse import urlsplit

    from pipeline.env.sandbox import run_sandbox

    sandbox = _settings(config, None).env.sandbox
    default_port = urlsplit(sandbox.spec_base_url).port or 8750
    run_sandbox(
        host=host or sandbox.host,
        port=port if port is not None else (sandbox.port or default_port),
        seed=seed if seed is not None else sandbox.seed,
        latency_ms=latency_ms if latency_ms is not None else sandbox.latency_ms,
        rate_limit_per_minute=rate_limit if rate_limit is not None else sandbox.rate_limit_per_minute,
    )


@env_app.command("probe")
def env_probe(config: ConfigOption = None, out: OutOption = None, engine: EngineOption = Engine.prefect) -> None:
    """Call every API once with its documented values; writes env/probe.jsonl."""
    _stage_command("probe", _settings(config, out), engine, {})


@env_app.command("call")
def env_call(
    tool: Annotated[str, typer.Argument(help="tool id (see catalog/tools.jsonl)")],
    api: Annotated[str, typer.Argument(help="API id within the tool")],
    arguments: Annotated[str, typer.Option("--args", help="arguments as a JSON object")] = "{}",
    config: ConfigOption = None,
    out: OutOption = None,
) -> None:
    """Make one call through the environment and print the observation as JSON."""
    import orjson

    from pipeline.env.environment import open_environment
    from pipeline.io import dumps as json_dumps
    from pipeline.io import loads as json_loads
    from pipeline.specs.catalog import iter_tools

    settings = _settings(config, out)
    try:
        parsed = json_loads(arguments)
    except orjson.JSONDecodeError as error:
        raise _usage_error(f"--args is not JSON: {error}") from error
    if not isinstance(parsed, dict):
        raise _usage_error(f"--args must be a JSON object, got {arguments!r}")

    async def call() -> Any:
        tools = list(iter_tools(settings.run_dir))
        if settings.env.cache:  # the response cache is written into the run folder
            from pipeline.runlock import check_writable

            check_writable(settings.run_dir / "env", what="response cache folder")
        async with open_environment(tools, settings, run_dir=settings.run_dir) as environment:
            return await environment.call(tool, api, parsed)

    with _user_errors():
        observation = asyncio.run(call())
    typer.echo(json_dumps(observation.model_dump(mode="json"), indent=True).decode())
    if observation.error:
        raise typer.Exit(1)


@catalog_app.command("export")
def catalog_export(
    directory: Annotated[Path, typer.Argument(help="folder to write <Category>/<tool>.json into")],
    fmt: Annotated[ExportFormat, typer.Option("--format", help="layout to write")] = ExportFormat.toolbench,
    config: ConfigOption = None,
    out: OutOption = None,
) -> None:
    """Export the run's catalog in ToolBench's tool-document layout."""
    from pipeline.runlock import check_writable
    from pipeline.specs.catalog import iter_tools
    from pipeline.toolbench.documents import export_toolbench

    settings = _settings(config, out)
    with _user_errors():
        tools = iter_tools(settings.run_dir)
        first = next(tools, None)  # a missing catalog is named before the folder is made
        check_writable(directory, what="export folder")
        count = export_toolbench(itertools.chain([first] if first else [], tools), directory)
    console.print(f"wrote {count} tool documents to {directory}")


@catalog_app.command("show")
def catalog_show(config: ConfigOption = None, out: OutOption = None) -> None:
    """Summarise the run's catalog: tools and APIs per category, collections, errors."""
    from pipeline.manifest import read_manifest

    settings = _settings(config, out)
    section = read_manifest(settings.run_dir).get("stages", {}).get("collect")
    if not section:
        console.print(f"[red]error:[/red] {settings.run_dir} has no collected catalog: run `toolgen collect` first")
        raise typer.Exit(1)
    _print_table("categories", section["categories"], settings.run_dir)
    _print_table("collections", section["collections"] or {"(none)": 0}, settings.run_dir)
    _print_table("filtered", section["filtered"] or {"(none)": 0}, settings.run_dir)
    _print_table("errors by stage", section["errors_by_stage"] or {"(none)": 0}, settings.run_dir)


def _check_sources(sources: list[str]) -> None:
    if not sources:
        raise _usage_error("no sources given and collect.sources is empty")


def _drop_none(values: dict[str, Any]) -> dict[str, Any] | None:
    kept = {key: value for key, value in values.items() if value is not None}
    return kept or None


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


def _print_table(title: str, figures: dict[str, Any], run_dir: Path) -> None:
    table = Table(title=f"{title} ({run_dir})", show_header=False)
    for key, value in figures.items():
        table.add_row(str(key), str(value))
    Console().print(table)


from pipeline.retriever.cli import retriever_app  # noqa: E402 - it reads this module's helpers when run

app.add_typer(retriever_app, name="retriever")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
