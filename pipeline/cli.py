"""The ``toolgen`` command.

Exit codes: 0 success, 1 a stage failed, 2 bad usage or configuration. Stages run as Prefect
flows by default (``--engine prefect``); ``--engine local`` runs the same library functions
directly, which is faster to start and needs no Prefect server.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from pipeline.settings import ConfigError, Settings, load_settings

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


def _settings(config: Path | None, out: Path | None, **overrides: Any) -> Settings:
    try:
        return load_settings(config, run_dir=out, **overrides)
    except ConfigError as error:
        console.print(f"[red]configuration error:[/red] {error}")
        raise typer.Exit(2) from error


def _fail(message: str) -> typer.Exit:
    console.print(f"[red]error:[/red] {message}")
    return typer.Exit(1)


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
    engine: EngineOption = Engine.prefect,
) -> None:
    """Collect API specs into the run's catalog (catalog/tools.jsonl, errors.jsonl, graph.json)."""
    from pipeline.specs.collect import NothingCollected, collect_summary

    settings = _settings(config, out, collect=_drop_none({"workers": workers}))
    _check_sources(sources or settings.collect.sources)
    try:
        if engine is Engine.prefect:
            from flows.collect import collect_flow

            report = asyncio.run(collect_flow(sources=sources, settings=settings))
        else:
            from pipeline.specs.collect import collect_catalog

            report = asyncio.run(_with_progress("reading specs", collect_catalog, sources, settings))
    except NothingCollected as error:
        _show_errors(settings.run_dir)
        raise _fail(str(error)) from error
    _print_table("collect", collect_summary(report), settings.run_dir)


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
    engine: EngineOption = Engine.prefect,
) -> None:
    """Run every stage end to end (collect, probe every API, generate instructions, annotate solution paths, verify, export datasets, report) on the bundled specs, offline by default."""
    from pipeline.generate.stage import NothingGenerated, generate_summary
    from pipeline.search.stage import NothingAnnotated, annotate_summary
    from pipeline.specs.collect import NothingCollected, collect_summary
    from pipeline.verify.stage import NothingToVerify, verify_summary

    settings = _settings(config, out)
    _check_sources(specs or settings.collect.sources)
    try:
        if engine is Engine.prefect:
            from flows.pipeline import pipeline_flow

            results = asyncio.run(pipeline_flow(specs=specs, settings=settings))
        else:
            from pipeline.run import run_pipeline

            results = asyncio.run(run_pipeline(settings, specs=specs))
    except NothingCollected as error:
        _show_errors(settings.run_dir)
        raise _fail(str(error)) from error
    except (NothingGenerated, NothingAnnotated, NothingToVerify) as error:
        raise _fail(str(error)) from error
    _print_table("collect", collect_summary(results["collect"]), settings.run_dir)
    _print_table("probe", probe_summary(results["probe"]), settings.run_dir)
    _print_table("generate", generate_summary(results["generate"]), settings.run_dir)
    _print_table("annotate", annotate_summary(results["annotate"]), settings.run_dir)
    _print_table("verify", verify_summary(results["verify"]), settings.run_dir)
    _print_table("export", export_summary(results["export"]), settings.run_dir)
    console.print(f"[green]report[/green]: {results['report'].markdown_path}")
    console.print(f"[green]done[/green]: {settings.run_dir}/manifest.json")


@app.command()
def generate(
    config: ConfigOption = None,
    out: OutOption = None,
    groups: Annotated[str | None, typer.Option("--groups", help="comma-separated groups, e.g. G1,G2,G3")] = None,
    per_group: Annotated[int | None, typer.Option("--per-group", min=1, help="API sets per group")] = None,
    engine: EngineOption = Engine.prefect,
) -> None:
    """Sample API sets (G1/G2/G3) and write instructions for them into queries/<group>.jsonl."""
    from pipeline.generate.stage import NothingGenerated, generate_summary
    from pipeline.specs.catalog import CatalogMissing

    settings = _settings(config, out)
    chosen = None
    if groups is not None:
        chosen = [g.strip().upper() for g in groups.split(",") if g.strip()]
        bad = [g for g in chosen if g not in ("G1", "G2", "G3")]
        if bad or not chosen:
            console.print(f"[red]usage error:[/red] --groups {groups!r}: use a comma-separated subset of G1,G2,G3")
            raise typer.Exit(2)
    try:
        if engine is Engine.prefect:
            from flows.generate import generate_flow

            report = asyncio.run(generate_flow(settings=settings, groups=chosen, per_group=per_group))
        else:
            from pipeline.generate.stage import generate_queries

            report = asyncio.run(generate_queries(settings, groups=chosen, per_group=per_group))
    except (CatalogMissing, NothingGenerated) as error:
        raise _fail(str(error)) from error
    _print_table("generate", generate_summary(report), settings.run_dir)


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
    engine: EngineOption = Engine.prefect,
) -> None:
    """Search a solution path for every query (DFSDT or ReACT, calling the APIs); writes trajectories/<group>.jsonl."""
    from pipeline.search.stage import NothingAnnotated, annotate_summary
    from pipeline.specs.catalog import CatalogMissing

    settings = _settings(config, out)
    chosen = algorithm.value if algorithm is not None else None
    files = list(queries) if queries else None
    try:
        if engine is Engine.prefect:
            from flows.annotate import annotate_flow

            report = asyncio.run(annotate_flow(settings=settings, query_files=[str(f) for f in files] if files else None,
                                               algorithm=chosen, width=width))
        else:
            from pipeline.search.stage import annotate_queries

            report = asyncio.run(_with_progress("searching", annotate_queries, settings, query_files=files,
                                                algorithm=chosen, width=width))
    except (CatalogMissing, NothingAnnotated) as error:
        raise _fail(str(error)) from error
    except ValueError as error:  # an unreadable query file
        raise _fail(str(error)) from error
    _print_table("annotate", annotate_summary(report), settings.run_dir)
    if export_toolbench is not None:
        from pipeline.search.stage import iter_trajectories
        from pipeline.search.toolbench_export import export_toolbench_answers

        count = export_toolbench_answers(iter_trajectories(settings.run_dir), export_toolbench)
        console.print(f"wrote {count} ToolBench answer files to {export_toolbench}")


@app.command()
def verify(config: ConfigOption = None, out: OutOption = None, engine: EngineOption = Engine.prefect) -> None:
    """Check every trajectory (format, execution, semantic judge); writes verified/accepted.jsonl and rejected.jsonl."""
    from pipeline.verify.stage import NothingToVerify, verify_summary

    settings = _settings(config, out)
    try:
        if engine is Engine.prefect:
            from flows.verify import verify_flow

            report = asyncio.run(verify_flow(settings=settings))
        else:
            from pipeline.verify.stage import verify_trajectories

            report = asyncio.run(_with_progress("verifying", verify_trajectories, settings))
    except NothingToVerify as error:
        raise _fail(str(error)) from error
    except ValueError as error:  # verify.judge = "llm" without a model
        raise _fail(str(error)) from error
    _print_table("verify", verify_summary(report), settings.run_dir)


@app.command()
def export(
    config: ConfigOption = None,
    out: OutOption = None,
    formats: Annotated[
        list[str] | None,
        typer.Option("--format", help="toolllama, openai, sharegpt, rl or retriever (repeatable; default: export.formats)"),
    ] = None,
    engine: EngineOption = Engine.prefect,
) -> None:
    """Write the verified samples as training datasets into datasets/<format>/ (train/eval split, card, checksums)."""
    from pipeline.export.stage import NothingToExport
    from pipeline.settings import EXPORT_FORMATS

    settings = _settings(config, out)
    chosen: list[str] = [f.strip().lower() for f in formats] if formats else list(settings.export.formats)
    unknown = [f for f in chosen if f not in EXPORT_FORMATS]
    if unknown:
        console.print(f"[red]usage error:[/red] --format {', '.join(unknown)}: choose from {', '.join(EXPORT_FORMATS)}")
        raise typer.Exit(2)
    try:
        if engine is Engine.prefect:
            from flows.export import export_flow

            reports = asyncio.run(export_flow(settings=settings, formats=chosen))
        else:
            from pipeline.export.stage import export_datasets

            reports = export_datasets(settings, chosen)
    except NothingToExport as error:
        raise _fail(str(error)) from error
    _print_table("export", export_summary(reports), settings.run_dir)


def export_summary(reports: dict[str, Any]) -> dict[str, Any]:
    return {fmt: " / ".join(f"{split} {n}" for split, n in r.rows.items()) + f"  ({r.directory})"
            for fmt, r in reports.items()}


@app.command()
def report(config: ConfigOption = None, out: OutOption = None, engine: EngineOption = Engine.prefect) -> None:
    """Write report/report.md with plots (catalog, instructions, funnel, search trees, cost, caches) for the run."""
    settings = _settings(config, out)
    if not (settings.run_dir / "manifest.json").is_file():
        raise _fail(f"{settings.run_dir / 'manifest.json'} does not exist: run a stage first (toolgen run)")
    if engine is Engine.prefect:
        from flows.report import report_flow

        built = asyncio.run(report_flow(settings=settings))
    else:
        from pipeline.report.build import build_report

        built = build_report(settings.run_dir)
    console.print(f"[green]report[/green]: {built.markdown_path} ({len(built.figures)} figures, {len(built.tables)} tables)")


@app.command()
def serve(config: ConfigOption = None) -> None:
    """Run the flows listed as schedules in the configuration on their cron or interval (needs a Prefect server)."""
    settings = _settings(config, None)
    if not settings.schedules:
        console.print("[red]usage error:[/red] no \\[\\[schedules]] in the configuration; see toolgen.example.toml")
        raise typer.Exit(2)
    from flows.serve import serve_schedules

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
    from pipeline.specs.catalog import CatalogMissing

    settings = _settings(config, out)
    try:
        if engine is Engine.prefect:
            from flows.env import probe_flow

            report = asyncio.run(probe_flow(settings=settings))
        else:
            from pipeline.env.probe import probe_catalog

            report = asyncio.run(probe_catalog(settings))
    except CatalogMissing as error:
        raise _fail(str(error)) from error
    _print_table("probe", probe_summary(report), settings.run_dir)


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
    from pipeline.specs.catalog import CatalogMissing, iter_tools

    settings = _settings(config, out)
    try:
        parsed = orjson.loads(arguments)
    except orjson.JSONDecodeError as error:
        console.print(f"[red]usage error:[/red] --args is not JSON: {error}")
        raise typer.Exit(2) from error
    if not isinstance(parsed, dict):
        console.print(f"[red]usage error:[/red] --args must be a JSON object, got {arguments!r}")
        raise typer.Exit(2)

    async def call() -> Any:
        tools = list(iter_tools(settings.run_dir))
        async with open_environment(tools, settings, run_dir=settings.run_dir) as environment:
            return await environment.call(tool, api, parsed)

    try:
        observation = asyncio.run(call())
    except CatalogMissing as error:
        raise _fail(str(error)) from error
    typer.echo(orjson.dumps(observation.model_dump(mode="json"), option=orjson.OPT_INDENT_2).decode())
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
    from pipeline.specs.catalog import CatalogMissing, iter_tools
    from pipeline.specs.toolbench import export_toolbench

    settings = _settings(config, out)
    try:
        count = export_toolbench(iter_tools(settings.run_dir), directory)
    except CatalogMissing as error:
        raise _fail(str(error)) from error
    console.print(f"wrote {count} tool documents to {directory}")


@catalog_app.command("show")
def catalog_show(config: ConfigOption = None, out: OutOption = None) -> None:
    """Summarise the run's catalog: tools and APIs per category, collections, errors."""
    from pipeline.manifest import read_manifest

    settings = _settings(config, out)
    section = read_manifest(settings.run_dir).get("stages", {}).get("collect")
    if not section:
        raise _fail(f"{settings.run_dir} has no collected catalog: run `toolgen collect` first")
    _print_table("categories", section["categories"], settings.run_dir)
    _print_table("collections", section["collections"] or {"(none)": 0}, settings.run_dir)
    _print_table("filtered", section["filtered"] or {"(none)": 0}, settings.run_dir)
    _print_table("errors by stage", section["errors_by_stage"] or {"(none)": 0}, settings.run_dir)


def probe_summary(report: Any) -> dict[str, Any]:
    return {
        "APIs probed": report.apis,
        "answered": report.ok,
        "failed": report.failed,
        "skipped (no documented value)": report.skipped,
        "modes": report.modes,
        "seconds": report.seconds,
    }


def _check_sources(sources: list[str]) -> None:
    if not sources:
        console.print("[red]usage error:[/red] no sources given and collect.sources is empty")
        raise typer.Exit(2)


def _drop_none(values: dict[str, Any]) -> dict[str, Any] | None:
    kept = {key: value for key, value in values.items() if value is not None}
    return kept or None


async def _with_progress(label: str, stage: Callable[..., Awaitable[Any]], *args: Any, **kwargs: Any) -> Any:
    """Await ``stage(*args, **kwargs, progress=...)`` with a progress bar fed by its callback."""
    with _progress() as progress:
        task = progress.add_task(label, total=None)
        return await stage(*args, **kwargs,
                           progress=lambda done, total: progress.update(task, completed=done, total=total))


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


def main() -> None:
    app()
