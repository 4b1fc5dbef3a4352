"""The manifest's stage sections: replaced by default, merged key by key when asked."""

from __future__ import annotations

from pathlib import Path

from pipeline.manifest import read_manifest, record_stage
from pipeline.settings import load_settings


def test_a_stage_section_is_replaced_unless_merged(tmp_path: Path) -> None:
    settings = load_settings(run_dir=tmp_path)
    record_stage(tmp_path, "export", {"openai": {"rows": 1}}, settings)
    record_stage(tmp_path, "export", {"rl": {"rows": 2}}, settings, merge=True)
    assert read_manifest(tmp_path)["stages"]["export"] == {"openai": {"rows": 1}, "rl": {"rows": 2}}
    record_stage(tmp_path, "export", {"rl": {"rows": 3}}, settings)
    assert read_manifest(tmp_path)["stages"]["export"] == {"rl": {"rows": 3}}
