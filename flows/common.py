"""What every flow needs: settings from an object, a config path, or defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

from prefect import Flow

from pipeline.redact import redact_value
from pipeline.settings import Settings, load_settings

FlowT = TypeVar("FlowT", bound=Flow[Any, Any])


def masked_parameters(flow_object: FlowT) -> FlowT:
    """``flow_object``, whose runs' parameters are stored by Prefect (its database, its UI) with
    secrets masked: URLs' userinfo (a source, ``llm.base_url``) and values under secret-looking
    keys. The flow itself still receives the real values (they are passed in-process)."""
    serialize = flow_object.serialize_parameters

    def serialize_masked(parameters: dict[str, Any]) -> dict[str, Any]:
        masked: dict[str, Any] = redact_value(serialize(parameters))
        return masked

    flow_object.serialize_parameters = serialize_masked  # type: ignore[method-assign]
    return flow_object


def resolve_settings(settings: Settings | None, config: str | None, run_name: str | None = None) -> Settings:
    """The settings a flow run uses.

    Interactive runs hand over a ready :class:`Settings`; scheduled runs carry only JSON
    parameters, so they name the config file (and run name) and load it when they start.
    """
    if settings is not None:
        return settings
    return load_settings(Path(config) if config else None, run_name=run_name)
