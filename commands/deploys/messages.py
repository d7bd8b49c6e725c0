"""The renderer of each kind of message that shows a deploy, keyed by its view prefix.

Each is a pure function of stored state: the deploy, its approvals and the config.
Adding a kind of message: a prefix and a view key in ``workflows/deploys/views.py``
(the flow asks for the render), a function in ``commands/deploys/views.py`` and one
line in ``renderers`` below.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlmodel import Session

from commands.common.seams import RenderedMessage, Renderer
from commands.deploys import external_views, views
from workflows.config import ShipbotConfig
from workflows.deploys import queries
from workflows.deploys import views as view_keys
from workflows.deploys.directory import Directory
from workflows.deploys.models import SHIPBOT_SOURCE, Deploy, DeployApproval
from workflows.deploys.policy import approvers_for

Shown = tuple[str, list[dict[str, Any]]]
DeployRenderer = Callable[[Session, Deploy, list[DeployApproval]], Shown]
"""(the render's read session, the deploy, its approvals) -> the message."""


def renderers(*, config: ShipbotConfig, directory: Directory) -> dict[str, Renderer]:
    """``{view prefix: renderer}`` for every message that shows a deploy."""

    def card(session: Session, deploy: Deploy, approvals: list[DeployApproval]) -> Shown:
        # Only the card asks what runs now: its Roll back button depends on it.
        current = queries.current_release(
            session=session, service=deploy.service, environment=deploy.environment
        )
        runs_now = current is not None and current.id == deploy.id
        if deploy.source != SHIPBOT_SOURCE:  # recorded from outside: no buttons
            return external_views.external_deploy_message(deploy)
        return views.deploy_message(deploy, approvals, config, runs_now=runs_now)

    def reminder(session: Session, deploy: Deploy, approvals: list[DeployApproval]) -> Shown:
        approvers = approvers_for(
            config=config, directory=directory, environment=deploy.environment
        )
        return views.reminder_message(deploy, approvals, approvers)

    kinds: dict[str, DeployRenderer] = {
        view_keys.DEPLOY_PREFIX: card,
        view_keys.APPROVAL_PREFIX: lambda _session, deploy, approvals: views.approval_message(
            deploy, approvals, config
        ),
        view_keys.REMINDER_PREFIX: reminder,
        view_keys.OUTPUT_PREFIX: lambda _session, deploy, _approvals: views.output_message(deploy),
    }
    stored = {prefix: _from_store(render) for prefix, render in kinds.items()}
    return {**stored, **external_views.RENDERERS}


def _from_store(render: DeployRenderer) -> Renderer:
    """A view-key renderer that loads the deploy and its approvals, then ``render``s."""

    def renderer(session: Session, view_key: str) -> RenderedMessage | None:
        deploy_id = view_keys.deploy_id_of(view_key)
        deploy = queries.get_deploy(session=session, deploy_id=deploy_id) if deploy_id else None
        if deploy is None or deploy.id is None:
            return None
        approvals = queries.approvals_of(session=session, deploy_id=deploy.id)
        text, blocks = render(session, deploy, approvals)
        return RenderedMessage(text=text, blocks=blocks)

    return renderer
