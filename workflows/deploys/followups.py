"""Rollbacks people ask for, and the deploy flow's smaller jobs: expiring requests,
reminding approvers, and posting a finished deploy's output in its thread."""

from __future__ import annotations

from sqlmodel import Session

from workflows.deploys import queries
from workflows.deploys import views as deploy_views
from workflows.deploys.decisions import expire
from workflows.deploys.models import Deploy, DeployKind, DeployState
from workflows.deploys.policy import resolve_target
from workflows.deploys.requests import REMIND_JOB, DeployAsk, Ports, request_deploy
from workflows.errors import Conflict, NotFound, UserError
from workflows.jobs import JobContext, RetryLater, enqueue
from workflows.store.db import Database
from workflows.views import get_message, request_render


class Superseded(Conflict):
    """A Roll back button on the card of a deploy that no longer runs there."""

    def __init__(self, *, of_deploy: int, current: Deploy) -> None:
        super().__init__(
            f"Deploy #{of_deploy} no longer runs in {current.environment}: deploy "
            f"#{current.id} ({current.version}) replaced it, so this card's Roll back does "
            "nothing.",
            hint="Roll back the current deploy from its own card.",
        )
        self.of_deploy = of_deploy
        self.current_id = current.id


class NothingEarlier(NotFound):
    """No earlier version succeeded there: a rollback needs one named."""

    def __init__(self, message: str, *, service: str, environment: str) -> None:
        super().__init__(message)
        self.service = service
        self.environment = environment


def rollback(
    *,
    session: Session,
    ports: Ports,
    service: str,
    environment: str,
    user: str,
    version: str | None = None,
    of_deploy: int | None = None,
    channel: str = "",
    delivery_key: str = "",
) -> Deploy:
    """Deploy the version that ran before the current one (or ``version``), through the
    same policy and approvals as any deploy. ``of_deploy`` (a Roll back button) must be
    the deploy that runs there now, or the request is refused as ``Superseded``."""
    service, environment = resolve_target(
        config=ports.config, service=service, environment=environment
    )
    current = queries.current_release(session=session, service=service, environment=environment)
    if current is None:
        raise NotFound(f"Nothing has been deployed to {service} in {environment} yet.")
    if of_deploy is not None and of_deploy != current.id:
        raise Superseded(of_deploy=of_deploy, current=current)
    if version is None:
        version = queries.previous_good_version(
            session=session, service=service, environment=environment, before=current
        )
        if version is None:
            raise NothingEarlier(
                f"{service} {current.version} is the only version that succeeded in "
                f"{environment}; there is nothing earlier to roll back to.",
                service=service,
                environment=environment,
            )
    elif version == current.version:
        raise UserError(f"{service} {version} is what runs in {environment} now.")
    return request_deploy(
        session=session,
        ports=ports,
        ask=DeployAsk(
            service=service,
            environment=environment,
            version=version,
            user=user,
            reason=f"rollback of #{current.id} ({current.version})",
            kind=DeployKind.rollback,
            rollback_of=current.id,
            channel=channel,
            delivery_key=delivery_key,
        ),
    )


def handle_expire(context: JobContext, *, ports: Ports) -> None:
    deploy_id = int(context.job.payload["deploy_id"])
    with context.database.transaction() as session:
        deploy = queries.get_deploy(session=session, deploy_id=deploy_id)
        if deploy is None or deploy.state != DeployState.awaiting_approval:
            return
        if deploy.expires_at and ports.clock.now() < deploy.expires_at:
            raise RetryLater(deploy.expires_at, reason="not expired yet")
        expire(session=session, ports=ports, deploy_id=deploy_id)


def handle_remind(context: JobContext, *, ports: Ports) -> None:
    """Nudge in the approval request's thread; the renderer names who is still missing."""
    deploy_id = int(context.job.payload["deploy_id"])
    number = int(context.job.payload.get("number", 1))
    with context.database.transaction() as session:
        deploy = queries.get_deploy(session=session, deploy_id=deploy_id)
        if deploy is None or deploy.state != DeployState.awaiting_approval:
            return
        request = get_message(session=session, view_key=deploy_views.approval_view(deploy_id))
        if request is None or request.ts is None:
            raise RetryLater(30, reason="approval request not posted yet")
        request_render(
            session=session,
            clock=ports.clock,
            view_key=deploy_views.reminder_view(deploy_id, number),
            channel=request.channel,
            thread_ts=request.ts,
        )
        every = ports.config.environments[deploy.environment].approval.remind_every
        if every is not None:
            enqueue(
                session=session,
                clock=ports.clock,
                kind=REMIND_JOB,
                payload={"deploy_id": deploy_id, "number": number + 1},
                idempotency_key=f"deploy:{deploy_id}:remind:{number + 1}",
                run_after=ports.clock.now() + every,
            )


def handle_output(context: JobContext) -> None:
    """Post the output tail under the deploy's message once that message exists."""
    deploy_id = int(context.job.payload["deploy_id"])
    database: Database = context.database
    with database.transaction() as session:
        message = get_message(session=session, view_key=deploy_views.deploy_view(deploy_id))
        if message is None or message.ts is None:
            raise RetryLater(5, reason="deploy message not posted yet")
        request_render(
            session=session,
            clock=context.clock,
            view_key=deploy_views.output_view(deploy_id),
            channel=message.channel,
            thread_ts=message.ts,
        )
