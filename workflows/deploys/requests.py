"""Asking for a deploy, deciding on it, cancelling it: each one short transaction that
claims its Slack delivery, checks policy, writes the change, its audit entry, its
renders and its jobs together (rules 1, 2 and 4)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlmodel import Session

from workflows import audit
from workflows.changes.github_deployments import enqueue_status
from workflows.changes.job import enqueue_changes
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
from workflows.deploys.policy import InFlight, Verdict, evaluate, resolve_target
from workflows.errors import Conflict, UserError
from workflows.incidents import watch
from workflows.jobs import enqueue
from workflows.store.upsert import insert_or_ignore

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


class DeployRefused(Conflict):
    """The policy stops this request. Carries the whole ``Verdict`` (typed: every blocking
    rule, who, since, until, whether this user's break-glass lifts it) for commands/ to
    render; ``message`` is a plain summary for logs."""

    def __init__(self, verdict: Verdict, *, break_glass: bool) -> None:
        rules = ", ".join(str(check.rule).replace("_", " ") for check in verdict.blockers)
        super().__init__(f"Can't deploy {verdict.service} to {verdict.environment}: {rules}.")
        self.verdict = verdict
        self.break_glass = break_glass


def refusal(verdict: Verdict, *, break_glass: bool) -> DeployRefused | None:
    """Why the verdict stops this request, or None if it may go ahead."""
    if verdict.allowed or (break_glass and verdict.allowed_with_break_glass):
        return None
    return DeployRefused(verdict, break_glass=break_glass)


def request_deploy(*, session: Session, ports: Ports, ask: DeployAsk) -> Deploy:
    """Record a deploy request, or raise a ``UserError`` saying why it may not go ahead
    (``DeployRefused`` when the policy stops it)."""
    claim(session, ports, ask.delivery_key)
    verdict = _verdict(session=session, ports=ports, ask=ask)
    problem = refusal(verdict, break_glass=ask.break_glass)
    if problem is not None:
        raise problem
    if ask.break_glass and not ask.reason.strip():
        raise UserError("Break-glass needs a reason.", hint="`--break-glass <why it can't wait>`")
    deploy = _new_deploy(ports=ports, ask=ask, verdict=verdict)
    deploy = _insert(session=session, deploy=deploy, verdict=verdict, ask=ask)
    assert deploy.id is not None
    enqueue_changes(session=session, clock=ports.clock, config=ports.config, deploy=deploy)
    if deploy.approvals_required:
        _schedule_followups(session=session, ports=ports, deploy=deploy)
    else:
        enqueue_run(session, ports, deploy)
    approvers = verdict.approvers
    if not ports.config.environments[deploy.environment].approval.allow_self_approval:
        approvers = approvers - {ask.user}
    deploy_views.show(session=session, clock=ports.clock, deploy=deploy, approvers=approvers)
    watch.watch_deploy(session=session, clock=ports.clock, config=ports.config, deploy=deploy)
    # Last: on PostgreSQL the audit head row stays locked from here until commit.
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
            "approvals_required": deploy.approvals_required,
            "break_glass": deploy.override,
            "overridden": [str(b.rule) for b in verdict.blockers] if deploy.override else [],
        },
        outcome="break_glass" if deploy.override else "ok",
        channel=ask.channel or None,
    )
    return deploy


def _verdict(*, session: Session, ports: Ports, ask: DeployAsk) -> Verdict:
    if ask.kind == DeployKind.auto_rollback:
        # shipbot restores the version that ran before; people's rules were applied to it
        # when it was first deployed, and a broken production cannot wait for them.
        service, environment = resolve_target(
            config=ports.config, service=ask.service, environment=ask.environment
        )
        return Verdict(
            service=service,
            environment=environment,
            user=ask.user,
            checks=(),
            approvals_required=0,
        )
    return evaluate(
        session=session,
        clock=ports.clock,
        config=ports.config,
        directory=ports.directory,
        user=ask.user,
        service=ask.service,
        environment=ask.environment,
        version=ask.version,
    )


def _new_deploy(*, ports: Ports, ask: DeployAsk, verdict: Verdict) -> Deploy:
    config, now = ports.config, ports.clock.now()
    override = ask.break_glass and not verdict.allowed
    deploy_channel = config.channels.get("deploys") or ask.channel
    approvals = config.environments[verdict.environment].approval
    # A rollback after a failed health check restores a version that already passed
    # review; it must not wait hours for approvers while production is broken.
    required = 0 if ask.kind == DeployKind.auto_rollback else approvals.required
    return Deploy(
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


def _insert(*, session: Session, deploy: Deploy, verdict: Verdict, ask: DeployAsk) -> Deploy:
    """Store ``deploy`` and return the stored row; the unique in-flight key refuses a
    second one across replicas. One statement (``ON CONFLICT (in_flight_key) DO
    NOTHING RETURNING``) where a savepoint around a flush cost three round trips."""
    values = deploy.model_dump(exclude={"id"})
    statement = insert_or_ignore(session, Deploy, key=["in_flight_key"]).values(**values)
    stored = session.scalars(statement.returning(Deploy)).first()
    if stored is None:
        # Another replica's request for the same service and environment won the race.
        running = queries.in_flight(
            session=session, service=verdict.service, environment=verdict.environment
        )
        in_flight = InFlight(
            ok=False,
            deploy_id=running.id if running else None,
            version=running.version if running else None,
            requested_by=running.requested_by if running else None,
            state=str(running.state) if running else None,
        )
        raced = replace(verdict, checks=(*verdict.checks, in_flight))
        raise DeployRefused(raced, break_glass=ask.break_glass)
    return stored


def _schedule_followups(*, session: Session, ports: Ports, deploy: Deploy) -> None:
    """The request's expiry, and its first reminder to approvers if the policy wants one."""
    assert deploy.expires_at is not None
    enqueue(
        session=session,
        clock=ports.clock,
        kind=EXPIRE_JOB,
        payload={"deploy_id": deploy.id},
        idempotency_key=f"deploy:{deploy.id}:expire",
        run_after=deploy.expires_at,
    )
    remind_every = ports.config.environments[deploy.environment].approval.remind_every
    if remind_every is not None:
        enqueue(
            session=session,
            clock=ports.clock,
            kind=REMIND_JOB,
            payload={"deploy_id": deploy.id, "number": 1},
            idempotency_key=f"deploy:{deploy.id}:remind:1",
            run_after=deploy.requested_at + remind_every,
        )


def enqueue_run(session: Session, ports: Ports, deploy: Deploy) -> None:
    enqueue_status(session=session, clock=ports.clock, config=ports.config, deploy=deploy)
    enqueue(
        session=session,
        clock=ports.clock,
        kind=RUN_JOB,
        payload={"deploy_id": deploy.id},
        idempotency_key=f"deploy:{deploy.id}:run",
        max_attempts=20,
    )
