"""A run folder has one writer: a second one is refused at once, naming the first; a dead
holder's lock is no obstacle; readers count each sample once even in a folder damaged before."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.io import read_jsonl
from pipeline.runlock import LOCK_NAME, RunFolderBusy, lock_holder, run_folder_lock

REPO = Path(__file__).resolve().parents[1]
HOLD = "import sys, time; from pipeline.runlock import run_folder_lock\n" \
       "with run_folder_lock(sys.argv[1], purpose='test holder'):\n" \
       "    print('held', flush=True); time.sleep(120)\n"


def hold_in_another_process(run_dir: Path) -> subprocess.Popen[str]:
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(run_dir)], stdout=subprocess.PIPE, text=True,
                              cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    return holder


def test_a_second_writer_is_refused_at_once_naming_the_holder(tmp_path: Path, spec_folder: Path) -> None:
    run_dir = tmp_path / "run"
    holder = hold_in_another_process(run_dir)
    try:
        started = time.monotonic()
        result = CliRunner().invoke(app, ["collect", str(spec_folder), "--out", str(run_dir), "--engine", "local"])
        assert result.exit_code == 2, result.output
        assert f"process {holder.pid}" in result.output and "test holder" in result.output
        assert time.monotonic() - started < 30  # refused, not queued behind the holder
        assert not (run_dir / "catalog").exists()
    finally:
        holder.kill()
        holder.wait()


def test_the_lock_of_a_killed_holder_is_no_obstacle(tmp_path: Path, spec_folder: Path) -> None:
    run_dir = tmp_path / "run"
    holder = hold_in_another_process(run_dir)
    assert lock_holder(run_dir) is not None
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()

    assert (run_dir / LOCK_NAME).is_file() and lock_holder(run_dir) is None
    result = CliRunner().invoke(app, ["collect", str(spec_folder), "--out", str(run_dir), "--engine", "local"])
    assert result.exit_code == 0, result.output


def test_one_process_may_take_its_own_lock_again(tmp_path: Path) -> None:
    with run_folder_lock(tmp_path), run_folder_lock(tmp_path):
        assert lock_holder(tmp_path) is not None
    assert lock_holder(tmp_path) is None


def test_a_run_folder_that_cannot_be_written_is_a_configuration_error(tmp_path: Path) -> None:
    a_file = tmp_path / "not-a-folder"
    a_file.write_text("x")
    with pytest.raises(Exception) as caught, run_folder_lock(a_file / "run"):
        pass
    assert not isinstance(caught.value, RunFolderBusy) and "cannot be written" in str(caught.value)
    result = CliRunner().invoke(app, ["collect", str(tmp_path), "--out", str(a_file / "run"), "--engine", "local"])
    assert result.exit_code == 2 and "cannot be written" in result.output and "Traceback" not in result.output


@pytest.mark.timeout(600)
def test_two_concurrent_runs_give_one_clean_result_and_one_refusal(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    config = tmp_path / "toolgen.toml"
    config.write_text('[generate.per_group]\nG1 = 4\nG2 = 2\nG3 = 2\n')
    command = [sys.executable, "-m", "pipeline.cli", "run", "--engine", "local", "--config", str(config),
               "--out", str(run_dir)]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    first = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 120
    while lock_holder(run_dir) is None and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    second = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)
    output, _ = first.communicate(timeout=500)

    assert first.returncode == 0, output
    assert second.returncode == 2, second.stdout + second.stderr
    assert f"process {first.pid}" in second.stdout + second.stderr
    keys = [(line["group"], line["query_id"]) for path in (run_dir / "trajectories").glob("*.jsonl")
            for line in read_jsonl(path)]
    assert keys and len(keys) == len(set(keys))
