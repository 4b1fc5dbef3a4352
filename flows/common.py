"""What every flow needs: settings from an object, a config path, or defaults."""

from __future__ import annotations

from pathlib import Path

from pipeline.settings import Settings, load_settings


def resolve_settings(settings: Settings | None, config: str | None, run_name: str | None = None) -> Settings:
    """The settings a flow run uses.

    Interactive runs hand over a ready :class:`Settings`; scheduled runs carry only JSON
    parameters, so they name the config file (and run name) and load it when they start.
    """
    if settings is not None:
        return settings
    return load_settings(Path(config) if config else None, run_name=run_name)
