"""`toolgen serve` against a real Prefect server: a scheduled run starts, imports its flow and completes.

The in-process flow tests cannot see how a served deployment loads its flow: Prefect starts each
scheduled run in a new process that imports the deployment's entrypoint. This test does what the
README tells users to do — `prefect server start`, then `toolgen serve --config ...` from the
repository root — and waits for a run of the served schedule to reach COMPLETED, so a run that
crashes while importing its flow fails it.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from pipeline.io import read_json

pytestmark = pytest.mark.flow

REPO_ROOT = Path(__file__).resolve().parents[2]
# bounds for a busy 2-core machine; on an idle one the server is up in ~10 s and a run completes ~10 s later
SERVER_START_TIMEOUT_S = 90
RUN_COMPLETED_TIMEOUT_S = 90
STOP_TIMEOUT_S = 10
FAILED_STATES = {"FAILED", "CRASHED", "CANCELLED"}


@dataclass
class Service:
    """A process started in its own session, with its output captured in a file."""

    process: subprocess.Popen[bytes]
    log: Path

    def output(self, tail: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-tail:]

    def stop(self) -> None:
        """SIGTERM the process group, SIGKILL it when it has not exited in time."""
        if self.process.poll() is None:
            _signal_group(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                pass
        # the group may outlive its leader (a flow-run process, the server's workers)
        _signal_group(self.process.pid, signal.SIGKILL)
        try:
            self.process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            pass


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass


def _start(command: list[str], env: dict[str, str], log: Path) -> Service:
    with log.open("wb") as sink:
        process = subprocess.Popen(
            command, cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Service(process, log)


def _free_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _prefect_env(prefect_home: Path, api_url: str) -> dict[str, str]:
    """This process's environment without the user's Prefect settings, pointed at the test server."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    # the checkout under test wins over whatever toolgen the environment has installed
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
    env.update(
        PREFECT_HOME=str(prefect_home),
        PREFECT_API_URL=api_url,
        DO_NOT_TRACK="1",
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_UI_ENABLED="false",
        # the runner polls for due runs every 10 s by default
        PREFECT_RUNNER_POLL_FREQUENCY="1",
    )
    return env


@pytest.fixture
def prefect_api(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """A `prefect server start` on a free loopback port: its API URL and the environment to reach it."""
    port = _free_loopback_port()
    api_url = f"http://127.0.0.1:{port}/api"
    env = _prefect_env(tmp_path / "prefect-home", api_url)
    prefect = Path(sys.executable).with_name("prefect")
    server = _start([str(prefect), "server", "start", "--host", "127.0.0.1", "--port", str(port)], env,
                    tmp_path / "server.log")
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while True:
            assert server.process.poll() is None, f"prefect server exited:\n{server.output()}"
            assert time.monotonic() < deadline, f"prefect server not healthy in {SERVER_START_TIMEOUT_S} s:\n{server.output()}"
            try:
                if httpx.get(f"{api_url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        yield api_url, env
    finally:
        server.stop()


def _runs_of(api_url: str, deployment: str) -> list[dict[str, Any]]:
    response = httpx.post(
        f"{api_url}/flow_runs/filter", json={"deployments": {"name": {"any_": [deployment]}}}, timeout=10
    )
    response.raise_for_status()
    return response.json()


def test_no_flows_module_is_named_like_a_top_level_module() -> None:
    # flows/ lands first on sys.path whenever one of its files is run or loaded by path
    import flows

    names = {path.stem for path in Path(flows.__file__).parent.glob("*.py")} - {"__init__"}
    shadowing = {name for name in names if name in sys.stdlib_module_names or importlib.util.find_spec(name)}
    assert not shadowing


@pytest.mark.timeout(240)
def test_toolgen_serve_runs_a_scheduled_collect_to_completion(
    prefect_api: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    api_url, env = prefect_api
    run_dir = tmp_path / "run"
    specs = REPO_ROOT / "api_specs" / "sandbox"
    config = tmp_path / "toolgen.toml"
    config.write_text(
        f'run_dir = "{run_dir}"\n'
        f'[collect]\nworkers = 0\nsources = ["{specs}"]\n'
        '[[schedules]]\nname = "every-few-seconds"\nflow = "collect"\ninterval_s = 2\n'
    )
    toolgen = Path(sys.executable).with_name("toolgen")
    serve = _start([str(toolgen), "serve", "--config", str(config)], env, tmp_path / "serve.log")
    try:
        deadline = time.monotonic() + RUN_COMPLETED_TIMEOUT_S
        while True:
            assert serve.process.poll() is None, f"toolgen serve exited:\n{serve.output()}"
            states = {run["state_type"] for run in _runs_of(api_url, "every-few-seconds")}
            # a run whose flow cannot be imported crashes; fail at once with the reason
            assert not states & FAILED_STATES, f"a scheduled run ended {states & FAILED_STATES}:\n{serve.output()}"
            if "COMPLETED" in states:
                break
            assert time.monotonic() < deadline, (
                f"no scheduled run completed in {RUN_COMPLETED_TIMEOUT_S} s (states {states}):\n{serve.output()}"
            )
            time.sleep(0.5)
    finally:
        serve.stop()
    # the run loaded the config the schedule named and collected every bundled sandbox spec
    assert (run_dir / "catalog" / "tools.jsonl").is_file()
    collect = read_json(run_dir / "manifest.json")["stages"]["collect"]
    assert collect["inputs"] == [str(specs)]
    assert collect["files_read"] == len(list(specs.glob("*.yaml"))) and collect["errors"] == 0
