"""Ask before giving up (issue 11): a worker SIGKILLed right after the `command` backend
started a deploy, before the answer was stored, leaves the deploy in phase ``starting``.
The next worker asks the backend (its run directory) and the deploy ends as the rollout
did, never started twice. Twenty kills per database."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.workflows.deploys.conftest import ask
from tests.workflows.deploys.test_runner import (  # fast_rollout: an autouse fixture
    ROOT,
    _context,
    _run_until_finished,
    _runner,
    fast_rollout,  # noqa: F401
)
from workflows.deploys.requests import Ports
from workflows.store.db import Database

RUNS = 20


@pytest.mark.timeout(600)
def test_a_deploy_killed_right_after_start_ends_as_its_rollout_did(
    database: Database, ports: Ports, tmp_path: Path
) -> None:
    state_dir = tmp_path / "runs"
    outcomes: list[str] = []
    for run in range(RUNS):
        version = f"1.0.{run}" if run % 5 else "0.0.0-fail"  # every fifth rollout fails
        deploy = ask(database, ports, f"web {version} staging")
        child = subprocess.run(
            [sys.executable, "-m", "tests.workflows.deploys.crash_child", database.url,
             str(state_dir), str(deploy.id)],
            cwd=ROOT, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert child.returncode == -signal.SIGKILL, child.stderr
        runner, backend = _runner(database, ports, state_dir, finds_runs=True)
        finished = _run_until_finished(
            runner, _context(database, ports, deploy.id or 0), deploy.id or 0
        )
        output = (state_dir / str(deploy.id) / "output.log").read_text()
        assert output.count("rolling out") == 1, output  # the command ran exactly once
        assert backend.starts == 0  # the second worker never called start
        expected = "failed" if version == "0.0.0-fail" else "succeeded"
        assert finished.state == expected, (run, finished.state, finished.error)
        outcomes.append(finished.state)
    assert outcomes.count("succeeded") == 16 and outcomes.count("failed") == 4
