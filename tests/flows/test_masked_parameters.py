"""Prefect stores every flow run's parameters (database, UI): with secrets masked."""

from __future__ import annotations

import orjson
import pytest

from pipeline.settings import load_settings

KEY = "sk-live-4f9b2c7d1e8a6f3b"
URL_KEY = "hunter2-pa55w0rd"


@pytest.mark.parametrize("flow_name", ["pipeline", "collect", "annotate"])
def test_flow_parameters_are_stored_without_secrets(flow_name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from flows.end_to_end import pipeline_flow
    from flows.stage_flows import flow_for

    monkeypatch.setenv("OPENAI_BASE_URL", f"https://{KEY}@llm.example.com/v1")
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    source = f"https://me:{URL_KEY}@specs.example.com/openapi.json"
    settings = load_settings(collect={"sources": [source]})
    chosen = pipeline_flow if flow_name == "pipeline" else flow_for(flow_name)
    options = {"collect": {"sources": [source]}} if flow_name == "pipeline" else {"sources": [source]}
    stored = chosen.serialize_parameters({"settings": settings, "options": options})
    text = orjson.dumps(stored).decode()
    assert KEY not in text and URL_KEY not in text
    assert "https://***@specs.example.com/openapi.json" in text and "https://***@llm.example.com/v1" in text
    # the flow itself still gets the real values: only what Prefect stores is masked
    assert settings.collect.sources == [source]
