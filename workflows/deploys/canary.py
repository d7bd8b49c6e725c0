"""Promoting a canary (Argo Rollouts) from Slack: the click is an approval like any other.

A click on Promote is checked against the environment's ``promotion`` rules (promoting to
a weight above ``above_weight`` needs ``required`` people from ``from_groups``); without a
rule that applies, whoever may manage the deploy (the requester, its approvers,
break-glass) may promote. Each person counts once per step (a unique row), the click
must be for the step the canary is paused at now (a stale card promotes nothing), and
once enough people agreed one ``deploy.promote`` job (idempotency key = the step) asks
the backend to promote. Abort is the deploy's Cancel, which for Argo Rollouts aborts and
rolls back. Everything is audited in the click's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from workflows import audit
from workflows.backends.base import BackendError, TransientBackendError
from workflows.backends.progressive import PromotableBackend
from workflows.backends.settings import ArgoRolloutsBackend, PromotionRule
from workflows.deploys import views as deploy_views
from workflows.deploys.decisions import may_manage
from workflows.deploys.directory import is_member
from workflows.deploys.models import Deploy, DeployPromotion, DeployState
from workflows.deploys.requests import Ports, claim
from workflows.deploys.runner import RunnerPorts, target_of
from workflows.deploys.transitions import locked_deploy
from workflows.errors import Conflict, PermissionDenied
from workflows.jobs import JobContext, PermanentJobError, RetryLater, backoff, enqueue

PROMOTE_JOB = "deploy.promote"


@dataclass(frozen=True)
class PromotionVerdict:
    """What a click did: how many agreed, how many are needed, whether it promotes now."""

    step: int
    weight: int
    votes: int
    needed: int
    promoting: bool


def rule_for(*, ports: Ports, deploy: Deploy, next_weight: int) -> PromotionRule | None:
    """The strictest rule whose threshold the promotion crosses, if any."""
    backend = ports.config.services[deploy.service].deploy
    if not isinstance(backend, ArgoRolloutsBackend):
        return None
    crossed = [
        r for r in backend.promotion.get(deploy.environment, []) if next_weight > r.above_weight
    ]
    return max(crossed, key=lambda r: (r.required, r.above_weight), default=None)


def _groups(rule: PromotionRule) -> str:
    return ", ".join(rule.from_groups) or "anyone"


def votes_for(*, session: Session, deploy_id: int, step: int) -> list[DeployPromotion]:
    return list(
        session.exec(
            select(DeployPromotion)
            .where(col(DeployPromotion.deploy_id) == deploy_id)
            .where(col(DeployPromotion.step) == step)
        )
    )


def _check_user(ports: Ports, deploy: Deploy, user: str, rule: PromotionRule | None) -> None:
    if rule is None:
        if not may_manage(ports=ports, deploy=deploy, user=user):
            raise PermissionDenied("Only the requester or an approver may promote this deploy.")
        return
    env = ports.config.environments[deploy.environment]
    if user == deploy.requested_by and not env.approval.allow_self_approval:
        raise PermissionDenied(
            f"Promoting past {rule.above_weight}% needs someone other than the requester.",
            hint=f"Ask {_groups(rule)}.",
        )
    if not is_member(
        config=ports.config, directory=ports.directory, user=user, refs=rule.from_groups
    ):
        raise PermissionDenied(
            f"Promoting past {rule.above_weight}% needs {rule.required} approval(s) from "
            f"{_groups(rule)}."
        )


def _paused_canary(deploy: Deploy, at_step: int) -> dict[str, Any]:
    canary = dict(deploy.backend_state.get("canary") or {})
    if deploy.state != DeployState.running or not canary:
        raise Conflict(f"Deploy #{deploy.id} has no canary waiting for a promote.")
    if not canary.get("paused") or canary.get("step") != at_step:
        raise Conflict(
            f"This button was for step {at_step}; the canary of deploy #{deploy.id} is at step "
            f"{canary.get('step')} of {canary.get('steps')} now. Nothing was promoted."
        )
    return canary


def _vote(
    session: Session, ports: Ports, *, deploy_id: int, step: int, user: str, weight: int
) -> None:
    """One row per person and step; the unique index turns a second click into a refusal."""
    try:
        with session.begin_nested():
            session.add(
                DeployPromotion(
                    deploy_id=deploy_id,
                    step=step,
                    approver=user,
                    weight=weight,
                    decided_at=ports.clock.now(),
                )
            )
            session.flush()
    except IntegrityError:
        raise Conflict(f"You already approved promoting step {step}.") from None


def promote(
    *,
    session: Session,
    ports: Ports,
    deploy_id: int,
    user: str,
    at_step: int,
    delivery_key: str = "",
) -> PromotionVerdict:
    """Record ``user``'s go-ahead for the pause at ``at_step``; promote once enough agree."""
    claim(session, ports, delivery_key)
    deploy = locked_deploy(session=session, deploy_id=deploy_id)
    canary = _paused_canary(deploy, at_step)
    next_weight = int(canary.get("next_weight") or 100)
    rule = rule_for(ports=ports, deploy=deploy, next_weight=next_weight)
    needed = rule.required if rule else 1
    earlier = votes_for(session=session, deploy_id=deploy_id, step=at_step)
    if len(earlier) >= needed:
        raise Conflict(f"Step {at_step} of deploy #{deploy_id} is already being promoted.")
    _check_user(ports, deploy, user, rule)
    weight = int(canary.get("weight") or 0)
    _vote(session, ports, deploy_id=deploy_id, step=at_step, user=user, weight=weight)
    votes = len(earlier) + 1
    promoting = votes >= needed
    if promoting:
        enqueue(
            session=session,
            clock=ports.clock,
            kind=PROMOTE_JOB,
            payload={"deploy_id": deploy_id, "step": at_step},
            idempotency_key=f"deploy:{deploy_id}:promote:{at_step}",
        )
    audit.record(
        session=session,
        clock=ports.clock,
        actor=user,
        action="deploy.promote_requested" if promoting else "deploy.promote_approved",
        target=f"deploy:{deploy_id}",
        params={
            "step": at_step,
            "steps": canary.get("steps"),
            "weight": canary.get("weight"),
            "next_weight": next_weight,
            "votes": votes,
            "needed": needed,
        },
    )
    deploy.updated_at = ports.clock.now()
    session.add(deploy)
    deploy_views.show_all(session=session, clock=ports.clock, deploy=deploy)
    return PromotionVerdict(
        step=at_step, weight=next_weight, votes=votes, needed=needed, promoting=promoting
    )


def handle_promote(context: JobContext, *, runner: RunnerPorts) -> None:
    """The ``deploy.promote`` job: ask the backend once; the outcome is audited and shown."""
    deploy_id, step = int(context.job.payload["deploy_id"]), int(context.job.payload["step"])
    with context.database.read_session() as session:
        deploy = session.get(Deploy, deploy_id)
        if deploy is None or deploy.state != DeployState.running:
            return
        session.expunge(deploy)
    backend = runner.backend_for(deploy.service)
    if not isinstance(backend, PromotableBackend):
        raise PermanentJobError(f"the {deploy.backend} backend cannot promote")
    try:
        backend.promote(target_of(deploy), deploy.backend_state, at_step=step)
        outcome, detail = "ok", f"promoted past step {step}; waiting for the controller"
    except BackendError as error:
        outcome, detail = "refused", f"promote refused: {error}"
    except TransientBackendError as error:
        raise RetryLater(backoff(context.job.attempts), reason=str(error)) from None
    with context.database.transaction() as session:
        row = locked_deploy(session=session, deploy_id=deploy_id)
        row.backend_state = {**row.backend_state, "detail": detail}
        row.updated_at = context.clock.now()
        session.add(row)
        audit.record(
            session=session,
            clock=context.clock,
            actor="shipbot",
            action="deploy.promoted",
            target=f"deploy:{deploy_id}",
            params={"step": step, "detail": detail},
            outcome=outcome,
        )
        deploy_views.show_all(session=session, clock=context.clock, deploy=row)
