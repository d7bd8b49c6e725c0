"""Deciding on a deploy request: approve, reject, cancel, expire."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from workflows import audit
from workflows.deploys import queries
from workflows.deploys import views as deploy_views
from workflows.deploys.directory import is_member
from workflows.deploys.models import (
    SHIPBOT_SOURCE,
    ApprovalDecision,
    Deploy,
    DeployApproval,
    DeployState,
)
from workflows.deploys.requests import MAX_REASON, RUN_JOB, Ports, claim, enqueue_run
from workflows.deploys.transitions import locked_deploy, transition
from workflows.errors import Conflict, PermissionDenied
from workflows.jobs import enqueue


def _describe(deploy: Deploy) -> str:
    return f"#{deploy.id} ({deploy.service} {deploy.version} to {deploy.environment})"


def _check_binding(deploy: Deploy, version: str | None) -> None:
    if version is not None and version != deploy.version:
        raise Conflict(
            f"This button was for {deploy.service} {version}, but deploy #{deploy.id} is for "
            f"{deploy.version}. Nothing was approved."
        )


def _check_may_decide(
    *, session: Session, ports: Ports, deploy_id: int, deploy: Deploy, user: str
) -> list[DeployApproval]:
    """Raise unless ``user`` may decide on ``deploy`` now, and has not yet; the
    decisions made so far (the deploy row is locked, so they stay the same until
    commit)."""
    if deploy.state != DeployState.awaiting_approval:
        raise Conflict(
            f"Deploy {_describe(deploy)} is {deploy.state.replace('_', ' ')}; "
            "it is not waiting for approval."
        )
    approval = ports.config.environments[deploy.environment].approval
    if user == deploy.requested_by and not approval.allow_self_approval:
        raise PermissionDenied(
            "You asked for this deploy, so your approval does not count.",
            hint="Someone else from the approvers must decide.",
        )
    if not is_member(
        config=ports.config, directory=ports.directory, user=user, refs=approval.from_groups
    ):
        groups = ", ".join(approval.from_groups)
        raise PermissionDenied(
            f"Only members of {groups} may approve deploys to {deploy.environment}."
        )
    decided = queries.approvals_of(session=session, deploy_id=deploy_id)
    earlier = [a for a in decided if a.approver == user]
    if earlier:
        raise Conflict(f"You already decided on deploy #{deploy_id} ({earlier[0].decision}).")
    return decided


def _record_decision(
    *,
    session: Session,
    deploy: Deploy,
    decided: list[DeployApproval],
    user: str,
    decision: ApprovalDecision,
    reason: str,
    now: datetime,
) -> list[DeployApproval]:
    """Store the decision; the approvals the deploy has now, this one included.
    ``decided`` was read under the deploy's row lock, so no read is needed after."""
    assert deploy.id is not None
    added = DeployApproval(
        deploy_id=deploy.id,
        approver=user,
        decision=decision,
        service=deploy.service,
        environment=deploy.environment,
        version=deploy.version,
        reason=reason[:MAX_REASON] or None,
        decided_at=now,
    )
    session.add(added)
    session.flush()
    return [a for a in (*decided, added) if a.decision == ApprovalDecision.approve]


def _apply_decision(
    *,
    session: Session,
    ports: Ports,
    deploy: Deploy,
    decision: ApprovalDecision,
    approvals: int,
    now: datetime,
) -> None:
    """Reject, approve (and enqueue the run) once enough approved, or wait for more."""
    if decision == ApprovalDecision.reject:
        transition(
            session=session,
            deploy=deploy,
            expected={DeployState.awaiting_approval},
            values={"state": DeployState.rejected, "finished_at": now, "updated_at": now},
        )
    elif approvals >= deploy.approvals_required:
        transition(
            session=session,
            deploy=deploy,
            expected={DeployState.awaiting_approval},
            values={"state": DeployState.approved, "approved_at": now, "updated_at": now},
        )
        enqueue_run(session, ports, deploy)
    else:
        deploy.updated_at = now
        session.add(deploy)


def decide(
    *,
    session: Session,
    ports: Ports,
    deploy_id: int,
    user: str,
    decision: ApprovalDecision,
    version: str | None = None,
    reason: str = "",
    delivery_key: str = "",
) -> Deploy:
    """Approve or reject ``deploy_id`` as ``user``; approval bound to ``version``."""
    claim(session, ports, delivery_key)
    deploy = locked_deploy(session=session, deploy_id=deploy_id)
    _check_binding(deploy, version)
    decided = _check_may_decide(
        session=session, ports=ports, deploy_id=deploy_id, deploy=deploy, user=user
    )
    now = ports.clock.now()
    approvals = _record_decision(
        session=session,
        deploy=deploy,
        decided=decided,
        user=user,
        decision=decision,
        reason=reason,
        now=now,
    )
    _apply_decision(
        session=session,
        ports=ports,
        deploy=deploy,
        decision=decision,
        approvals=len(approvals),
        now=now,
    )
    deploy_views.show_all(session=session, clock=ports.clock, deploy=deploy)
    # Last: on PostgreSQL the entry locks the chain's single head row until commit, so
    # every other write of this transaction happens before, not while others wait.
    audit.record(
        session=session,
        clock=ports.clock,
        actor=user,
        action=f"deploy.{'approved' if decision == ApprovalDecision.approve else 'rejected'}",
        target=f"deploy:{deploy_id}",
        params={
            "environment": deploy.environment,
            "version": deploy.version,
            "approvals": len(approvals),
            "required": deploy.approvals_required,
            "reason": reason,
            "state": deploy.state,
        },
    )
    return deploy


def may_manage(*, ports: Ports, deploy: Deploy, user: str) -> bool:
    """The requester, an approver of its environment, or break-glass may cancel it."""
    env = ports.config.environments[deploy.environment]
    refs = [*env.approval.from_groups, *env.break_glass.groups]
    return user == deploy.requested_by or (
        bool(refs)
        and is_member(config=ports.config, directory=ports.directory, user=user, refs=refs)
    )


def cancel(
    *, session: Session, ports: Ports, deploy_id: int, user: str, delivery_key: str = ""
) -> Deploy:
    """Cancel a deploy that has not started, or ask a running one's backend to stop."""
    claim(session, ports, delivery_key)
    deploy = locked_deploy(session=session, deploy_id=deploy_id)
    if deploy.source != SHIPBOT_SOURCE:
        raise Conflict(
            f"Deploy #{deploy_id} was made by {deploy.source}; shipbot cannot cancel it."
        )
    if not may_manage(ports=ports, deploy=deploy, user=user):
        raise PermissionDenied(
            f"Only whoever asked for deploy #{deploy_id}, its approvers or the "
            f"{deploy.environment} break-glass group may cancel it."
        )
    now = ports.clock.now()
    waiting = {DeployState.requested, DeployState.awaiting_approval, DeployState.approved}
    if deploy.state in waiting:
        transition(
            session=session,
            deploy=deploy,
            expected=waiting,
            values={
                "state": DeployState.cancelled,
                "cancelled_by": user,
                "finished_at": now,
                "updated_at": now,
            },
        )
    elif deploy.state == DeployState.running:
        if deploy.cancel_requested:
            raise Conflict(f"Cancelling deploy #{deploy_id} was already asked for.")
        deploy.cancel_requested = True
        deploy.cancelled_by = user
        deploy.updated_at = now
        session.add(deploy)
        enqueue(  # wake the run job now rather than at its next poll
            session=session,
            clock=ports.clock,
            kind=RUN_JOB,
            payload={"deploy_id": deploy_id},
            idempotency_key=f"deploy:{deploy_id}:cancel",
            max_attempts=20,
        )
    else:
        raise Conflict(f"Deploy {_describe(deploy)} already {deploy.state.replace('_', ' ')}.")
    audit.record(
        session=session,
        clock=ports.clock,
        actor=user,
        action="deploy.cancel_requested"
        if deploy.state == DeployState.running
        else "deploy.cancelled",
        target=f"deploy:{deploy_id}",
        params={"state": deploy.state},
    )
    deploy_views.show_all(session=session, clock=ports.clock, deploy=deploy)
    return deploy


def expire(*, session: Session, ports: Ports, deploy_id: int) -> bool:
    """Expire a request nobody decided on in time; False if it was decided meanwhile."""
    deploy = locked_deploy(session=session, deploy_id=deploy_id)
    now = ports.clock.now()
    if deploy.state != DeployState.awaiting_approval:
        return False
    if deploy.expires_at is not None and now < deploy.expires_at:
        return False
    transition(
        session=session,
        deploy=deploy,
        expected={DeployState.awaiting_approval},
        values={"state": DeployState.expired, "finished_at": now, "updated_at": now},
    )
    audit.record(
        session=session,
        clock=ports.clock,
        actor="shipbot",
        action="deploy.expired",
        target=f"deploy:{deploy_id}",
        params={"version": deploy.version},
    )
    deploy_views.show_all(session=session, clock=ports.clock, deploy=deploy)
    return True
