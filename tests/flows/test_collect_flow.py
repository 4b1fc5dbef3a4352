"""The Prefect flows run the library stage and publish their artifacts."""

from __future__ import annotations

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

    from flows.collect import collect_flow

    settings = load_settings(run_dir=tmp_path / "run", collect={"workers": 1})
    state = await collect_flow(sources=[str(spec_folder)], settings=settings, return_state=True)
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
    assert read_json(out / "manifest.json")["stages"]["collect"]["tools"] == 3
