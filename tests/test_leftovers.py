"""What a killed run leaves (temporary files of atomic writes, export staging folders) is removed
when the owning stage starts again, and never while its writer may be alive."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.leftovers import clean_leftovers

REPO = Path(__file__).resolve().parents[1]
KILLED_MID_WRITE = (
    "import sys, time; from pathlib import Path; from pipeline.io import AtomicFile\n"
    "target = AtomicFile(Path(sys.argv[1]))\n"
    "target.handle.write(b'half of it'); target.handle.flush()\n"
    "print('writing', flush=True); time.sleep(120)\n"
)


def a_dead_pid() -> int:
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True, check=True)
    return int(finished.stdout)


def killed_mid_write(target: Path) -> Path:
    """The temporary file a writer killed by SIGKILL in the middle of an atomic write leaves."""
    writer = subprocess.Popen([sys.executable, "-c", KILLED_MID_WRITE, str(target)], stdout=subprocess.PIPE,
                              text=True, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert writer.stdout is not None and writer.stdout.readline().strip() == "writing"
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    writer.stdout.close()
    (leftover,) = target.parent.glob(f".{target.name}.*.tmp")
    assert not target.exists()
    return leftover


def test_a_killed_writers_temporary_file_is_removed_by_the_next_run(tmp_path: Path) -> None:
    leftover = killed_mid_write(tmp_path / "catalog" / "tools.jsonl")
    assert clean_leftovers(tmp_path, ["catalog/"], exclusive=False) == 1
    assert not leftover.exists()


def test_a_live_writers_temporary_file_is_kept_unless_the_folder_is_ours(tmp_path: Path) -> None:
    (tmp_path / "catalog").mkdir()
    live = tmp_path / "catalog" / f".tools.jsonl.{os.getppid()}.abcd1234.tmp"  # a live process's
    legacy = tmp_path / "catalog" / ".graph.json.k2j4h6g8.tmp"  # written before names had the pid
    mine = tmp_path / "catalog" / f".errors.jsonl.{os.getpid()}.abcd1234.tmp"  # maybe in flight here
    for path in (live, legacy, mine):
        path.write_text("x")
    assert clean_leftovers(tmp_path, ["catalog/"], exclusive=False) == 0
    assert clean_leftovers(tmp_path, ["catalog/"], exclusive=True) == 2  # the writer lock is held
    assert not live.exists() and not legacy.exists() and mine.exists()


def test_only_the_stages_outputs_and_dead_owners_at_the_top_are_cleaned(tmp_path: Path) -> None:
    dead = a_dead_pid()
    other_stage = tmp_path / "queries" / f".G1.jsonl.{dead}.abcd1234.tmp"
    other_stage.parent.mkdir()
    manifest_live = tmp_path / f".manifest.json.{os.getppid()}.abcd1234.tmp"
    manifest_dead = tmp_path / f".manifest.json.{dead}.abcd1234.tmp"
    probe_other = tmp_path / "env" / f".responses.json.{dead}.abcd1234.tmp"
    probe_own = tmp_path / "env" / f".probe.jsonl.{dead}.abcd1234.tmp"
    probe_own.parent.mkdir()
    for path in (other_stage, manifest_live, manifest_dead, probe_other, probe_own):
        path.write_text("x")
    assert clean_leftovers(tmp_path, ["env/probe.jsonl"], exclusive=True) == 2
    assert other_stage.exists() and manifest_live.exists() and probe_other.exists()
    assert not manifest_dead.exists() and not probe_own.exists()


def test_export_staging_folders_are_removed_and_an_orphaned_old_export_is_put_back(tmp_path: Path) -> None:
    dead = a_dead_pid()
    datasets = tmp_path / "datasets"
    partial = datasets / f".openai.partial-{dead}"
    old_replaced = datasets / f".openai.old-{dead}"  # the new folder arrived: the old one is garbage
    old_orphan = datasets / f".rl.old-{dead}"  # killed between the two renames: the only rl export
    for folder in (partial, old_replaced, old_orphan, datasets / "openai"):
        folder.mkdir(parents=True)
        (folder / "train.jsonl").write_text(folder.name)
    assert clean_leftovers(tmp_path, ["datasets/"], exclusive=True) == 3
    assert sorted(p.name for p in datasets.iterdir()) == ["openai", "rl"]
    assert (datasets / "rl" / "train.jsonl").read_text() == f".rl.old-{dead}"
    assert (datasets / "openai" / "train.jsonl").read_text() == "openai"


def test_the_collect_stage_cleans_its_catalog_when_it_starts(tmp_path: Path) -> None:
    run = tmp_path / "run"
    leftover = killed_mid_write(run / "catalog" / "tools.jsonl")
    legacy = run / "catalog" / ".filtered.jsonl.abcdefgh.tmp"
    legacy.write_text("x")
    result = CliRunner().invoke(app, ["collect", "--out", str(run), "--engine", "local"])
    assert result.exit_code == 0, result.output
    assert not leftover.exists() and not legacy.exists()
    assert not list(run.rglob("*.tmp"))
