"""The deploy.run job with the real `command` backend (examples/rollout.sh): it runs to
the end, survives a restart mid-deploy, and never starts a deploy twice."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.workflows.deploys.conftest import ask
from workflows.backends.base import BackendPorts, DeployBackend, DeployTarget, Progress, Started
from workflows.backends.command import CommandDeployBackend
from workflows.deploys.models import Deploy
from workflows.deploys.requests import Ports
from workflows.deploys.runner import DeployRunner, RunnerPorts
from workflows.jobs import JobContext, RetryLater
from workflows.store.db import Database
from workflows.store.models import Job

ROOT = Path(__file__).resolve().parents[3]


class CountingBackend:
    """The real command backend, with its starts counted."""

    def __init__(self, inner: DeployBackend) -> None:
        self.inner = inner
        self.name = inner.name
        self.starts = 0
        self.lock = threading.Lock()

    def start(self, target: DeployTarget) -> Started:
        with self.lock:
            self.starts += 1
        return self.inner.start(target)

    def poll(self, target: DeployTarget, state: Mapping[str, Any]) -> Progress:
        return self.inner.poll(target, state)

    def cancel(self, target: DeployTarget, state: Mapping[str, Any]) -> bool:
        return self.inner.cancel(target, state)


@pytest.fixture(autouse=True)
def fast_rollout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHIPBOT_ROLLOUT_SECONDS", "0.05")
    monkeypatch.chdir(ROOT)  # the example's argv is relative to the repository


class FindingBackend(CountingBackend):
    """A counting backend that also passes ``find_run`` on (``FindsRuns``)."""

    def find_run(self, target: DeployTarget) -> Started | None:
        inner = self.inner
        assert isinstance(inner, CommandDeployBackend)
        return inner.find_run(target)


def _runner(
    database: Database, ports: Ports, state_dir: Path, *, finds_runs: bool = False
) -> tuple[DeployRunner, CountingBackend]:
    command = CommandDeployBackend(
        ports.config.services["web"].deploy,  # type: ignore[arg-type]
        ports=BackendPorts(state_dir=state_dir),
    )
    backend = FindingBackend(command) if finds_runs else CountingBackend(command)
    runner = DeployRunner(
        database=database,
        runner=RunnerPorts(ports=ports, backend_for=lambda _: backend, http=httpx.Client),
    )
    return runner, backend


def _context(database: Database, ports: Ports, deploy_id: int) -> JobContext:
    job = Job(id=1, kind="deploy.run", payload={"deploy_id": deploy_id}, idempotency_key="k")
    return JobContext(job=job, database=database, clock=ports.clock)


def _state(database: Database, deploy_id: int) -> Deploy:
    with database.read_session() as session:
        deploy = session.get(Deploy, deploy_id)
        assert deploy is not None
        return deploy


def _run_until_finished(runner: DeployRunner, context: JobContext, deploy_id: int) -> Deploy:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            runner.handle(context)
        except RetryLater:
            time.sleep(0.05)
            continue
        return _state(context.database, deploy_id)
    raise TimeoutError("deploy did not finish")


def test_a_restart_mid_deploy_resumes_polling_and_never_starts_twice(
    database: Database, ports: Ports, tmp_path: Path
) -> None:
    deploy = ask(database, ports, "web 1.2.3 staging")
    first, first_backend = _runner(database, ports, tmp_path)
    with pytest.raises(RetryLater):
        first.handle(_context(database, ports, deploy.id or 0))  # started; now polling
    running = _state(database, deploy.id or 0)
    assert running.state == "running" and running.backend_state["phase"] == "polling"

    # "Restart": a new runner and backend object, the same database and state directory.
    second, second_backend = _runner(database, ports, tmp_path)
    finished = _run_until_finished(
        second, _context(database, ports, deploy.id or 0), deploy.id or 0
    )
    assert finished.state == "succeeded" and finished.in_flight_key is None
    assert "web 1.2.3 is live in staging" in (finished.output_tail or "")
    assert (first_backend.starts, second_backend.starts) == (1, 0)


def test_two_workers_racing_on_one_approved_deploy_start_it_once(
    database: Database, ports: Ports, tmp_path: Path
) -> None:
    deploy = ask(database, ports, "web 1.2.3 staging")
    runner, backend = _runner(database, ports, tmp_path)
    barrier = threading.Barrier(2)

    def work() -> None:
        barrier.wait()
        with contextlib.suppress(RetryLater):
            runner.handle(_context(database, ports, deploy.id or 0))

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert backend.starts == 1


@pytest.mark.parametrize(
    ("finds_runs", "said"),
    [(False, "the backend cannot tell"), (True, "nothing ran")],
)
def test_a_crash_between_marking_running_and_the_backends_answer_fails_safe(
    database: Database, ports: Ports, tmp_path: Path, finds_runs: bool, said: str
) -> None:
    """No run was started: a backend that can look runs up says nothing ran; one that
    cannot leaves it to a person. Neither starts the deploy again."""
    deploy = ask(database, ports, "web 1.2.3 staging")
    with database.transaction() as session:
        row = session.get(Deploy, deploy.id)
        assert row is not None
        row.state, row.backend_state = "running", {"phase": "starting"}
        session.add(row)
    runner, backend = _runner(database, ports, tmp_path, finds_runs=finds_runs)
    runner.handle(_context(database, ports, deploy.id or 0))
    failed = _state(database, deploy.id or 0)
    assert failed.state == "failed" and said in (failed.error or "")
    assert backend.starts == 0


def test_a_failing_rollout_fails_the_deploy_with_its_output(
    database: Database, ports: Ports, tmp_path: Path
) -> None:
    deploy = ask(database, ports, "web 0.0.0-fail staging")
    runner, _ = _runner(database, ports, tmp_path)
    finished = _run_until_finished(
        runner, _context(database, ports, deploy.id or 0), deploy.id or 0
    )
    assert finished.state == "failed"
    assert "failed its readiness check" in (finished.output_tail or "")
