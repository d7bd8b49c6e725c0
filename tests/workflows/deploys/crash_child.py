"""A worker process that dies by SIGKILL right after the backend started a deploy, before
it could store the backend's answer: exactly the crash issue 11 describes.

``python -m tests.workflows.deploys.crash_child <database url> <state dir> <deploy id>``
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import httpx

from tests.workflows.deploys.conftest import config_from, example_data
from workflows.backends.base import BackendPorts, DeployTarget, Started
from workflows.backends.command import CommandDeployBackend
from workflows.clock import SystemClock
from workflows.deploys.directory import NoDirectory
from workflows.deploys.requests import Ports
from workflows.deploys.runner import DeployRunner, RunnerPorts
from workflows.jobs import JobContext
from workflows.store.db import Database
from workflows.store.models import Job


class DiesAfterStart(CommandDeployBackend):
    def start(self, target: DeployTarget) -> Started:
        started = super().start(target)
        os.kill(os.getpid(), signal.SIGKILL)  # the runner it launched lives on
        return started


def main(url: str, state_dir: str, deploy_id: int) -> None:
    ports = Ports(clock=SystemClock(), config=config_from(example_data()), directory=NoDirectory())
    backend = DiesAfterStart(
        ports.config.services["web"].deploy,  # type: ignore[arg-type]
        ports=BackendPorts(state_dir=Path(state_dir)),
    )
    database = Database(url)
    runner = DeployRunner(
        database=database,
        runner=RunnerPorts(ports=ports, backend_for=lambda _: backend, http=httpx.Client),
    )
    job = Job(id=1, kind="deploy.run", payload={"deploy_id": deploy_id}, idempotency_key="k")
    runner.handle(JobContext(job=job, database=database, clock=ports.clock))
    raise SystemExit("the backend was never called")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
