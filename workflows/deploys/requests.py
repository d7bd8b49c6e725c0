"""Asking for a deploy, deciding on it, cancelling it: each one short transaction that
claims its Slack delivery, checks policy, writes the change, its audit entry, its
renders and its jobs together (rules 1, 2 and 4)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from workflows import audit
from workflows.clock import Clock
from workflows.config import ShipbotConfig
from workflows.delivery import claim_delivery
from workflows.deploys import queries
from workflows.deploys import views as deploy_views
from workflows.deploys.directory import Directory
from workflows.deploys.models import (
    Deploy,
    DeployKind,
    DeployState,
)
from workflows.deploys.policy import Verdict, evaluate, resolve_target
from workflows.errors import Conflict, PermissionDenied, UserError
from workflows.jobs import enqueue

RUN_JOB = "deploy.run"
EXPIRE_JOB = "deploy.expire"
REMIND_JOB = "deploy.remind"
MAX_REASON = 500


@dataclass(frozen=True)
class DeployAsk:
    """A deploy as someone asked for it, in plain values."""

    service: str
    environment: str
    version: str
    user: str
    reason: str = ""
    break_glass: bool = False
    kind: DeployKind = DeployKind.deploy
    rollback_of: int | None = None
    channel: str = ""  # where it was asked (used when no deploys channel is configured)
    delivery_key: str = ""


@dataclass(frozen=True)
class Ports:
    """What every deploy transaction needs besides the session."""

    clock: Clock
    config: ShipbotConfig
    directory: Directory


def claim(session: Session, ports: Ports, key: str) -> None:
    if key:
        claim_delivery(session=session, clock=ports.clock, key=key, source="slack")


def refusal(verdict: Verdict, *, break_glass: bool) -> UserError | None:
    """Why the verdict stops this request, or None if it may go ahead."""
    blockers = verdict.blockers
    if not blockers or (break_glass and verdict.allowed_with_break_glass):
        return None
    first = blockers[0]
    text = f"Can't deploy {verdict.service} to {verdict.environment}: {first.detail}."
    error_type = PermissionDenied if first.name == "permission" else Conflict
    if verdict.allowed_with_break_glass:
        hint = "You may override with a reason: add `--break-glass <reason>` (it is audited)."
    elif all(b.overridable for b in blockers):
        hint = "Only the environment's break-glass group can override this."
    else:
        hint = f"`/deploy explain {verdict.service} {verdict.environment}` shows every rule."
    return error_type(text, hint=hint)


def request_deploy(*, session: Session, ports: Ports, ask: DeployAsk) -> Deploy:
    """Record a deploy request, or raise a ``UserError`` saying why it may not go ahead."""
    claim(session, ports, ask.delivery_key)
    now = ports.clock.now()
    config = ports.config
    if ask.kind == DeployKind.auto_rollback:
        # shipbot restores the version that ran before; people's rules were applied to it
        # when it was first deployed, and a broken production cannot wait for them.
        service, environment = resolve_target(
            config=config, service=ask.service, environment=ask.environment
        )
        verdict = Verdict(service, environment, ask.user, checks=(), approvals_required=0)
    else:
        verdict = evaluate(
            session=session,
            clock=ports.clock,
            config=config,
            directory=ports.directory,
            user=ask.user,
            service=ask.service,
            environment=ask.environment,
            version=ask.version,
        )
    problem = refusal(verdict, break_glass=ask.break_glass)
    if problem is not None:
        raise problem
    if ask.break_glass and not ask.reason.strip():
        raise UserError("Break-glass needs a reason.", hint="`--break-glass <why it can't wait>`")
    override = ask.break_glass and not verdict.allowed
    deploy_channel = config.channels.get("deploys") or ask.channel
    env = config.environments[verdict.environment]
    approvals = env.approval
    approvers = verdict.approvers
    if not approvals.allow_self_approval:
        approvers = approvers - {ask.user}
    # A rollback after a failed health check restores a version that already passed
    # review; it must not wait hours for approvers while production is broken.
    required = 0 if ask.kind == DeployKind.auto_rollback else approvals.required
    deploy = Deploy(
        service=verdict.service,
        environment=verdict.environment,
        version=ask.version,
        reason=ask.reason[:MAX_REASON],
        kind=ask.kind,
        rollback_of=ask.rollback_of,
        state=DeployState.awaiting_approval if required else DeployState.approved,
        in_flight_key=queries.in_flight_key(verdict.service, verdict.environment),
        requested_by=ask.user,
        requested_at=now,
        channel=deploy_channel,
        approvals_channel=config.channels.get("approvals") or deploy_channel,
        approvals_required=required,
        approved_at=None if required else now,
        expires_at=now + approvals.ttl if required else None,
        updated_at=now,
        override=override,
        override_reason=ask.reason if override else None,
        backend=config.services[verdict.service].deploy.backend,
    )
    try:
        with session.begin_nested():
            session.add(deploy)
            session.flush()
    except IntegrityError:
        # Another replica's request for the same service and environment won the race.
        running = queries.in_flight(
            session=session, service=verdict.service, environment=verdict.environment
        )
        who = f" (#{running.id}, {running.version}, <@{running.requested_by}>)" if running else ""
        raise Conflict(
            f"Another deploy of {verdict.service} to {verdict.environment} is in flight{who}."
        ) from None
    assert deploy.id is not None
    audit.record(
        session=session,
        clock=ports.clock,
        actor=ask.user,
        action="deploy.requested",
        target=f"deploy:{deploy.id}",
        params={
            "service": deploy.service,
            "environment": deploy.environment,
            "version": deploy.version,
            "reason": deploy.reason,
            "kind": deploy.kind,
            "rollback_of": deploy.rollback_of,
            "approvals_required": required,
            "break_glass": override,
            "overridden": [b.name for b in verdict.blockers] if override else [],
        },
        outcome="break_glass" if override else "ok",
        channel=ask.channel or None,
    )
    if required:
        assert deploy.expires_at is not None
        enqueue(
            session=session,
            clock=ports.clock,
            kind=EXPIRE_JOB,
            payload={"deploy_id": deploy.id},
            idempotency_key=f"deploy:{deploy.id}:expire",
            run_after=deploy.expires_at,
        )
        if approvals.remind_every is not None:
            enqueue(
                session=session,
                clock=ports.clock,
                kind=REMIND_JOB,
                payload={"deploy_id": deploy.id, "number": 1},
                idempotency_key=f"deploy:{deploy.id}:remind:1",
                run_after=now + approvals.remind_every,
            )
    else:
        enqueue_run(session, ports, deploy)
    deploy_views.show(session=session, clock=ports.clock, deploy=deploy, approvers=approvers)
    return deploy


def enqueue_run(session: Session, ports: Ports, deploy: Deploy) -> None:
    enqueue(
        session=session,
        clock=ports.clock,
        kind=RUN_JOB,
        payload={"deploy_id": deploy.id},
        idempotency_key=f"deploy:{deploy.id}:run",
        max_attempts=20,
    )
