"""Which Slack messages show a deploy, and asking them to re-render (rule 3)."""

from __future__ import annotations

from sqlmodel import Session, col, select

from workflows.clock import Clock
from workflows.deploys.models import SHIPBOT_SOURCE, Deploy, DeployState
from workflows.external.views import external_deploy_view
from workflows.home.refresh import deploy_scope, homes_changed
from workflows.incidents import watch
from workflows.store.models import SlackMessage
from workflows.views import RenderTarget, request_render, request_renders

# One prefix per kind of message that shows a deploy; commands/deploys renders each.
DEPLOY_PREFIX = "deploy:"
APPROVAL_PREFIX = "approval:"
OUTPUT_PREFIX = "deploy-output:"
REMINDER_PREFIX = "deploy-reminder:"


def deploy_view(deploy_id: int) -> str:
    return f"{DEPLOY_PREFIX}{deploy_id}"


def approval_view(deploy_id: int) -> str:
    return f"{APPROVAL_PREFIX}{deploy_id}"


def approval_dm_view(deploy_id: int, user: str) -> str:
    return f"{APPROVAL_PREFIX}{deploy_id}:dm:{user}"


def output_view(deploy_id: int) -> str:
    return f"{OUTPUT_PREFIX}{deploy_id}"


def reminder_view(deploy_id: int, number: int) -> str:
    return f"{REMINDER_PREFIX}{deploy_id}:{number}"


def deploy_id_of(view_key: str) -> int | None:
    """The deploy a view key shows (``"approval:7:dm:U0BOB"`` -> 7), None if malformed."""
    _, _, rest = view_key.partition(":")
    number = rest.partition(":")[0]
    return int(number) if number.isdigit() else None


def show(
    *, session: Session, clock: Clock, deploy: Deploy, approvers: frozenset[str] = frozenset()
) -> None:
    """Re-render every message of ``deploy``. ``approvers`` get a DM the first time an
    approval is requested; after that their DMs are updated like the rest."""
    assert deploy.id is not None
    if deploy.source != SHIPBOT_SOURCE:  # an outside deploy has its own message, no card
        if deploy.channel:
            request_render(
                session=session,
                clock=clock,
                view_key=external_deploy_view(deploy.id),
                channel=deploy.channel,
            )
        return
    targets = [RenderTarget(view_key=deploy_view(deploy.id), channel=deploy.channel)]
    if deploy.approvals_required:
        targets.append(
            RenderTarget(view_key=approval_view(deploy.id), channel=deploy.approvals_channel)
        )
        # A user id as the channel: Slack posts it in the bot's DM with them.
        targets += [
            RenderTarget(view_key=approval_dm_view(deploy.id, user), channel=user)
            for user in sorted(approvers)
        ]
    request_renders(session=session, clock=clock, targets=targets)
    watch.deploy_changed(session=session, clock=clock, deploy=deploy)  # incident channels
    homes_changed(session=session, clock=clock, scope=deploy_scope(deploy.id))


def dm_recipients(*, session: Session, deploy_id: int) -> list[str]:
    """The approvers who were sent a DM about this deploy."""
    prefix = f"{approval_view(deploy_id)}:dm:"
    rows = session.exec(
        select(SlackMessage.view_key).where(col(SlackMessage.view_key).startswith(prefix))
    )
    return sorted(key[len(prefix) :] for key in rows)


def show_all(*, session: Session, clock: Clock, deploy: Deploy) -> None:
    """Re-render the deploy and every approval message it already has (DMs included)."""
    assert deploy.id is not None
    dms = (
        frozenset(dm_recipients(session=session, deploy_id=deploy.id))
        if deploy.approvals_required
        else frozenset()
    )
    show(session=session, clock=clock, deploy=deploy, approvers=dms)


FINISHED_LABELS = {
    DeployState.succeeded: "succeeded",
    DeployState.failed: "failed",
    DeployState.cancelled: "cancelled",
    DeployState.rejected: "rejected",
    DeployState.expired: "expired",
    DeployState.rolled_back: "rolled back",
}
