"""The Prefect flows run the library stage and publish their artifacts."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.io import read_json
from pipeline.settings import load_settings

pytestmark = pytest.mark.flow


async def test_collect_flow_writes_the_catalog_and_artifacts(prefect_server: None, tmp_path: Path, spec_folder: Path) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from flows.stage_flows import collect_flow  # type: ignore[attr-defined]

    settings = load_settings(run_dir=tmp_path / "run", collect={"workers": 1})
    state = await collect_flow(options={"sources": [str(spec_folder)]}, settings=settings, return_state=True)
    assert state.is_completed()
    report = await state.result()
    assert report.tools == 3
    assert read_json(tmp_path / "run" / "manifest.json")["stages"]["collect"]["tools"] == 3
    async with get_client() as client:
        artifacts = await client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["collect-categories", "collect-summary"]))
        )
    assert {a.key for a in artifacts} == {"collect-categories", "collect-summary"}


def test_toolgen_run_with_prefect_runs_the_pipeline_flow(prefect_server: None, tmp_path: Path, spec_folder: Path) -> None:
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["run", "--specs", str(spec_folder), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "catalog" / "tools.jsonl").is_file()
    stages = read_json(out / "manifest.json")["stages"]
    assert stages["collect"]["tools"] == 3
    assert {"probe", "generate", "annotate", "verify"} <= set(stages)
    assert stages["verify"]["funnel"]["candidates"] == stages["annotate"]["answered"] + stages["annotate"]["failed"]
    assert "Verification" in (out / "report" / "report.md").read_text()
    assert set(stages["export"]) == {"toolllama", "openai", "hf", "sharegpt", "rl", "retriever"}
    assert (out / "datasets" / "openai" / "SHA256SUMS").is_file()


async def test_a_batched_stage_runs_its_batches_as_prefect_tasks(
    prefect_server: None, tmp_path: Path, spec_folder: Path
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    from flows.stage_flows import flow_for

    settings = load_settings(run_dir=tmp_path / "run", collect={"workers": 0})
    await flow_for("collect")(settings=settings, options={"sources": [str(spec_folder)]})
    await flow_for("generate")(settings=settings, options={"per_group": 2, "batch_size": 1})
    state = await flow_for("annotate")(settings=settings, options={"batch_size": 2}, return_state=True)

    assert state.is_completed()
    report = await state.result()
    batches = -(-report.searched // 2)
    expected = sorted(["annotate-plan", "annotate-finalize", *["annotate-batch"] * batches])
    names: list[str] = []
    async with get_client() as client:
        for _ in range(50):  # task runs reach the server through events, a moment after the flow ends
            runs = await client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[state.state_details.flow_run_id])))
            names = sorted(run.name.rsplit("-", 1)[0] for run in runs)
            if len(names) >= len(expected):
                break
            await asyncio.sleep(0.2)
    assert names == expected
    assert report.answered + report.failed == report.searched > 0


async def test_a_flow_refuses_unknown_options_naming_them(prefect_server: None, tmp_path: Path) -> None:
    from flows.stage_flows import flow_for
    from pipeline.errors import UsageError

    with pytest.raises(UsageError, match="generate options: per_groop"):
        await flow_for("generate")(settings=load_settings(run_dir=tmp_path), options={"per_groop": 2})


def test_schedules_become_deployments_that_load_the_config_at_run_time(tmp_path: Path) -> None:
    from flows.serve import build_deployments

    config = tmp_path / "toolgen.toml"
    config.write_text(
        '[[schedules]]\nname = "nightly"\nflow = "collect"\ncron = "0 3 * * *"\nrun_name = "nightly"\n'
        'timezone = "Europe/Paris"\n'
        '[[schedules]]\nname = "hourly"\ninterval_s = 3600\n'
    )
    settings = load_settings(config)
    nightly, hourly = build_deployments(settings, config)
    assert nightly.name == "nightly" and nightly.flow_name == "collect"
    # imported as modules by the run's process, never loaded by file path (see flows/__init__.py)
    assert nightly.entrypoint == "flows.stage_flows.collect_flow"
    assert hourly.entrypoint == "flows.end_to_end.pipeline_flow"
    assert nightly.schedules[0].schedule.cron == "0 3 * * *"
    assert nightly.schedules[0].schedule.timezone == "Europe/Paris"
    assert nightly.parameters == {"config": str(config.resolve()), "run_name": "nightly"}
    assert hourly.flow_name == "pipeline"
    assert hourly.schedules[0].schedule.interval.total_seconds() == 3600


def test_a_schedule_needs_exactly_one_trigger(tmp_path: Path) -> None:
    from pipeline.settings import ConfigError

    config = tmp_path / "toolgen.toml"
    config.write_text('[[schedules]]\nname = "both"\ncron = "* * * * *"\ninterval_s = 5\n')
    with pytest.raises(ConfigError, match="exactly one of cron or interval_s"):
        load_settings(config)


@pytest.mark.parametrize(
    ("schedule", "reason"),
    [
        ('name = "x"\ncron = "not a cron"', "Invalid cron string"),
        ('name = "x"\ncron = "0 3 * * *"\ntimezone = "Mars/Olympus"', "Mars/Olympus"),
        ('name = "a/b"\ninterval_s = 60', "invalid character"),
    ],
)
def test_serve_reports_a_schedule_prefect_refuses_as_a_configuration_error(
    tmp_path: Path, schedule: str, reason: str
) -> None:
    config = tmp_path / "toolgen.toml"
    config.write_text(f"[[schedules]]\n{schedule}\n")
    result = CliRunner().invoke(app, ["serve", "--config", str(config)])
    assert result.exit_code == 2, result.output
    assert "schedules.0" in result.output and reason in result.output


@pytest.mark.timeout(60)  # serving against Prefect's temporary server would wait for ever
@pytest.mark.parametrize("server", ["not configured", "not listening"])
def test_serve_without_a_prefect_server_exits_two_instead_of_serving_nothing(tmp_path: Path, server: str) -> None:
    import socket

    from prefect.settings import PREFECT_API_URL, temporary_settings

    if server == "not configured":
        settings = temporary_settings(restore_defaults={PREFECT_API_URL})
    else:
        with socket.socket() as probe:  # a free loopback port: nothing listens there
            probe.bind(("127.0.0.1", 0))
            settings = temporary_settings({PREFECT_API_URL: f"http://127.0.0.1:{probe.getsockname()[1]}/api"})
    config = tmp_path / "toolgen.toml"
    config.write_text('[[schedules]]\nname = "hourly"\ninterval_s = 3600\n')
    with settings:
        result = CliRunner().invoke(app, ["serve", "--config", str(config)])
    assert result.exit_code == 2, result.output
    assert "PREFECT_API_URL" in result.output


async def test_a_scheduled_run_loads_its_settings_from_the_config_path(
    prefect_server: None, tmp_path: Path, spec_folder: Path
) -> None:
    from flows.stage_flows import flow_for

    collect_flow = flow_for("collect")
    config = tmp_path / "toolgen.toml"
    config.write_text(f'run_dir = "{tmp_path / "scheduled"}"\n[collect]\nworkers = 0\nsources = ["{spec_folder}"]\n')
    report = await collect_flow(config=str(config))
    assert report.tools == 3 and (tmp_path / "scheduled" / "catalog" / "tools.jsonl").is_file()
