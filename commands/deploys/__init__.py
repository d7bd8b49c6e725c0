"""The Slack side of deploys: ``/deploy``, its buttons and forms, and its messages."""

from __future__ import annotations

import functools

import httpx

from commands.common.seams import Registry
from commands.deploys import actions, handlers, messages
from commands.deploys.modals import REJECT_CALLBACK, REQUEST_CALLBACK
from workflows.backends.base import BackendPorts, DeployBackend
from workflows.changes.github_deployments import STATUS_JOB, handle_status
from workflows.changes.job import CHANGES_JOB, ChangesPorts, handle_changes
from workflows.deploys import followups
from workflows.deploys.canary import PROMOTE_JOB, handle_promote
from workflows.deploys.requests import EXPIRE_JOB, REMIND_JOB, RUN_JOB, Ports
from workflows.deploys.runner import OUTPUT_JOB, DeployRunner, RunnerPorts


def register(registry: Registry) -> None:
    registry.command("/deploy", handlers.handle, deferrable=handlers.deferrable)
    registry.action("deploy.approve", actions.approve, deferrable=True)
    registry.action("deploy.reject", actions.reject_clicked)
    registry.action("deploy.cancel", actions.cancel_clicked)
    registry.action("deploy.promote", actions.promote_clicked)
    registry.action("deploy.rollback", actions.rollback_clicked)
    registry.submission(REJECT_CALLBACK, actions.reject_submitted)
    registry.submission(REQUEST_CALLBACK, actions.request_submitted)
    deps = registry.deps
    if deps.config is None:
        return
    config = deps.config
    for prefix, render in messages.renderers(config=config, directory=deps.directory).items():
        registry.renderer(prefix, render)

    # aws_client=None: one boto3 session per client (the shared default session is not
    # thread-safe); boto3 honours AWS_* variables, AWS_ENDPOINT_URL included.
    backend_ports = BackendPorts(state_dir=registry.state_dir / "runs", clock=deps.clock)

    def backend_for(service: str) -> DeployBackend:
        from workflows.backends.factory import build_backend

        return build_backend(config.services[service].deploy, ports=backend_ports)

    ports = Ports(clock=deps.clock, config=config, directory=deps.directory)
    runner_ports = RunnerPorts(
        ports=ports,
        backend_for=backend_for,
        http=lambda: httpx.Client(timeout=10.0, follow_redirects=False),
    )
    runner = DeployRunner(database=deps.database, runner=runner_ports)
    registry.job(PROMOTE_JOB, functools.partial(handle_promote, runner=runner_ports))
    registry.job(RUN_JOB, runner.handle)
    registry.job(EXPIRE_JOB, functools.partial(followups.handle_expire, ports=ports))
    registry.job(REMIND_JOB, functools.partial(followups.handle_remind, ports=ports))
    registry.job(OUTPUT_JOB, followups.handle_output)
    changes = ChangesPorts(config=config)
    registry.job(CHANGES_JOB, functools.partial(handle_changes, ports=changes))
    registry.job(
        STATUS_JOB,
        functools.partial(handle_status, config=config, http=lambda: httpx.Client(timeout=5.0)),
    )
