"""Plugs the deploy flow into a shipbot process (see ``bot.wiring``)."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import httpx
from sqlmodel import Session

from bot.listeners import on_action, on_submission
from bot.sender import RenderedMessage
from bot.slack_client import make_client
from bot.wiring import Wiring
from commands.common.directory import SlackDirectory
from commands.deploys import actions as deploy_actions
from commands.deploys import views as deploy_views
from commands.deploys.modals import REJECT_CALLBACK, REQUEST_CALLBACK
from workflows.backends.base import BackendPorts, DeployBackend
from workflows.clock import Clock
from workflows.config import ShipbotConfig
from workflows.deploys import followups, queries
from workflows.deploys.policy import approvers_for
from workflows.deploys.requests import EXPIRE_JOB, REMIND_JOB, RUN_JOB, Ports
from workflows.deploys.runner import OUTPUT_JOB, DeployRunner, RunnerPorts
from workflows.deploys.views import parse_view


def backend_factory(config: ShipbotConfig, state_dir: Path, clock: Clock) -> Any:
    # aws_client=None: one boto3 session per client (the shared default session is not
    # thread-safe); boto3 honours AWS_* variables, AWS_ENDPOINT_URL included.
    ports = BackendPorts(state_dir=state_dir / "runs", clock=clock)

    def backend_for(service: str) -> DeployBackend:
        from workflows.backends.factory import build_backend

        return build_backend(config.services[service].deploy, ports=ports)

    return backend_for


def make_renderer(config: ShipbotConfig | None, directory: Any) -> Any:
    def render(session: Session, view_key: str) -> RenderedMessage | None:
        if config is None:
            return None
        kind, deploy_id, _ = parse_view(view_key)
        deploy = queries.get_deploy(session=session, deploy_id=deploy_id)
        if deploy is None:
            return None
        approvals = queries.approvals_of(session=session, deploy_id=deploy_id)
        if kind == "deploy":
            text, blocks = deploy_views.deploy_message(deploy, approvals, config)
        elif kind == "approval":
            text, blocks = deploy_views.approval_message(deploy, approvals, config)
        elif kind == "deploy-reminder":
            approvers = approvers_for(
                config=config, directory=directory, environment=deploy.environment
            )
            text, blocks = deploy_views.reminder_message(deploy, approvals, approvers)
        elif kind == "deploy-output":
            text, blocks = deploy_views.output_message(deploy)
        else:
            return None
        return RenderedMessage(text=text, blocks=blocks)

    return render


def wire(wiring: Wiring) -> None:
    deps = wiring.deps
    # Its own client with a 2 s timeout: a user-group lookup happens on the ack path,
    # and Slack wants the ack within 3 s.
    directory_client = make_client(
        token=deps.client.token or "",
        base_url=deps.client.base_url,
        metrics=deps.metrics,
        timeout=2,
    )
    deps.directory = SlackDirectory(directory_client, clock=deps.clock)
    render = make_renderer(deps.config, deps.directory)
    for prefix in ("deploy:", "approval:", "deploy-output:", "deploy-reminder:"):
        wiring.renderers.register(prefix, render)

    def register(app: Any, deps_: Any) -> None:
        on_action(app, deps_, "deploy.approve", deploy_actions.approve)
        on_action(app, deps_, "deploy.reject", deploy_actions.reject_clicked)
        on_action(app, deps_, "deploy.cancel", deploy_actions.cancel_clicked)
        on_action(app, deps_, "deploy.rollback", deploy_actions.rollback_clicked)
        on_submission(app, deps_, REJECT_CALLBACK, deploy_actions.reject_submitted)
        on_submission(app, deps_, REQUEST_CALLBACK, deploy_actions.request_submitted)

    wiring.registrars.append(register)
    if deps.config is None:
        return
    ports = Ports(clock=deps.clock, config=deps.config, directory=deps.directory)
    runner = DeployRunner(
        database=deps.database,
        runner=RunnerPorts(
            ports=ports,
            backend_for=backend_factory(deps.config, wiring.state_dir, deps.clock),
            http=lambda: httpx.Client(timeout=10.0, follow_redirects=False),
        ),
    )
    wiring.handle_jobs(RUN_JOB, runner.handle)
    wiring.handle_jobs(EXPIRE_JOB, functools.partial(followups.handle_expire, ports=ports))
    wiring.handle_jobs(REMIND_JOB, functools.partial(followups.handle_remind, ports=ports))
    wiring.handle_jobs(OUTPUT_JOB, followups.handle_output)
