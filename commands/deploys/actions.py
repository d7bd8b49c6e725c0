"""Buttons and forms of the deploy flow, as plain values in and plain answers out."""

from __future__ import annotations

from commands.common.reply import Action, Reply, Submission
from commands.common.seams import Deps
from commands.deploys.handlers import accepted, check_version, deploy_id_of, ports_of
from commands.deploys.modals import reject_modal
from commands.deploys.policy_text import refusals_explained
from workflows.deploys.canary import promote
from workflows.deploys.decisions import cancel, decide
from workflows.deploys.followups import rollback
from workflows.deploys.models import ApprovalDecision
from workflows.deploys.policy import resolve_target
from workflows.deploys.queries import get_deploy
from workflows.deploys.requests import DeployAsk, request_deploy
from workflows.errors import NotFound, UserError


def _bound(value: str) -> tuple[int, str]:
    """A button value ``"<deploy id>:<version>"``: what the approver was shown."""
    deploy_id, _, version = value.partition(":")
    if not deploy_id.isdigit() or not version:
        raise UserError("That button is not one shipbot made.")
    return int(deploy_id), version


def approve(action: Action, deps: Deps) -> Reply | None:
    deploy_id, version = _bound(action.value)
    with deps.database.transaction() as session:
        decide(
            session=session,
            ports=ports_of(deps),
            deploy_id=deploy_id,
            user=action.user_id,
            decision=ApprovalDecision.approve,
            version=version,
            delivery_key=action.delivery_key,
        )
    deps.wake_worker()
    return None


def reject_clicked(action: Action, deps: Deps) -> Reply | None:
    deploy_id, version = _bound(action.value)
    return Reply(text="Why reject?", modal=reject_modal(deploy_id, version))


def reject_submitted(submission: Submission, deps: Deps) -> dict[str, str] | None:
    reason = submission.values.get("reason", "").strip()
    if not reason:
        return {"reason": "Say why, so the requester knows what to change."}
    deploy_id, version = _bound(submission.private_metadata)
    with deps.database.transaction() as session:
        decide(
            session=session,
            ports=ports_of(deps),
            deploy_id=deploy_id,
            user=submission.user_id,
            decision=ApprovalDecision.reject,
            version=version,
            reason=reason,
            delivery_key=submission.delivery_key,
        )
    deps.wake_worker()
    return None


def promote_clicked(action: Action, deps: Deps) -> Reply | None:
    deploy_id, step = _bound(action.value)
    if not step.isdigit():
        raise UserError("That button is not one shipbot made.")
    with deps.database.transaction() as session:
        verdict = promote(
            session=session,
            ports=ports_of(deps),
            deploy_id=deploy_id,
            user=action.user_id,
            at_step=int(step),
            delivery_key=action.delivery_key,
        )
    deps.wake_worker()
    if verdict.promoting:
        return None
    return Reply(
        text=f"Noted: {verdict.votes} of {verdict.needed} approvals to promote deploy "
        f"#{deploy_id} to {verdict.weight}%."
    )


def cancel_clicked(action: Action, deps: Deps) -> Reply | None:
    with deps.database.transaction() as session:
        cancel(
            session=session,
            ports=ports_of(deps),
            deploy_id=deploy_id_of(action.value),
            user=action.user_id,
            delivery_key=action.delivery_key,
        )
    deps.wake_worker()
    return None


def rollback_clicked(action: Action, deps: Deps) -> Reply | None:
    with refusals_explained(), deps.database.transaction() as session:
        shown = get_deploy(session=session, deploy_id=deploy_id_of(action.value))
        if shown is None:
            raise NotFound("That deploy no longer exists.")
        deploy = rollback(
            session=session,
            ports=ports_of(deps),
            service=shown.service,
            environment=shown.environment,
            of_deploy=shown.id,
            user=action.user_id,
            channel=action.channel_id,
            delivery_key=action.delivery_key,
        )
        answer = accepted(deploy)
    deps.wake_worker()
    return answer


def request_submitted(submission: Submission, deps: Deps) -> dict[str, str] | None:
    values = submission.values
    ports = ports_of(deps)
    try:
        version = check_version(values.get("version", "").strip())
    except UserError as error:
        return {"version": error.message.replace("`", "")}
    service, environment = resolve_target(
        config=ports.config,
        service=values.get("service", ""),
        environment=values.get("environment", ""),
    )
    with refusals_explained(), deps.database.transaction() as session:
        request_deploy(
            session=session,
            ports=ports,
            ask=DeployAsk(
                service=service,
                environment=environment,
                version=version,
                user=submission.user_id,
                reason=values.get("reason", "").strip(),
                delivery_key=submission.delivery_key,
            ),
        )
    deps.wake_worker()
    return None
