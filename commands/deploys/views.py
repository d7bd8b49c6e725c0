"""Block Kit for deploys, built only from stored rows (the same rows, the same message)."""

from __future__ import annotations

from typing import Any

from commands.common.reply import context, escape, section
from commands.deploys.changes_view import changes_blocks
from workflows.config import ShipbotConfig
from workflows.deploys.models import (
    ApprovalDecision,
    Deploy,
    DeployApproval,
    DeployKind,
    DeployState,
)

STATE_LABELS: dict[str, tuple[str, str]] = {
    DeployState.requested: (":hourglass:", "requested"),
    DeployState.awaiting_approval: (":raised_hand:", "awaiting approval"),
    DeployState.approved: (":white_check_mark:", "approved, starting"),
    DeployState.running: (":rocket:", "running"),
    DeployState.succeeded: (":large_green_circle:", "succeeded"),
    DeployState.failed: (":red_circle:", "failed"),
    DeployState.cancelled: (":no_entry_sign:", "cancelled"),
    DeployState.rejected: (":no_entry:", "rejected"),
    DeployState.expired: (":zzz:", "expired (nobody decided in time)"),
    DeployState.rolled_back: (":leftwards_arrow_with_hook:", "rolled back"),
}
WAITING = {DeployState.requested, DeployState.awaiting_approval, DeployState.approved}


def _label(deploy: Deploy) -> str:
    emoji, label = STATE_LABELS.get(deploy.state, (":grey_question:", deploy.state))
    if deploy.state == DeployState.running and deploy.cancel_requested:
        label = "running, cancel requested"
    return f"{emoji} {label}"


def _title(deploy: Deploy) -> str:
    titles: dict[str, str] = {
        DeployKind.rollback: "Rollback",
        DeployKind.auto_rollback: "Automatic rollback",
    }
    kind = titles.get(deploy.kind, "Deploy")
    return (
        f"{kind} #{deploy.id}: *{escape(deploy.service)}* `{escape(deploy.version)}` "
        f"to *{escape(deploy.environment)}*"
    )


def _when(deploy: Deploy) -> str:
    if deploy.started_at and deploy.finished_at:
        seconds = int((deploy.finished_at - deploy.started_at).total_seconds())
        return f"took {seconds // 60}m {seconds % 60}s"
    if deploy.started_at:
        return f"started {deploy.started_at:%H:%M:%S} UTC"
    return f"asked {deploy.requested_at:%Y-%m-%d %H:%M} UTC"


def _approvals_line(deploy: Deploy, approvals: list[DeployApproval]) -> str:
    if not deploy.approvals_required:
        return "no approval needed" if deploy.kind != DeployKind.auto_rollback else "automatic"
    yes = [a for a in approvals if a.decision == ApprovalDecision.approve]
    no = [a for a in approvals if a.decision == ApprovalDecision.reject]
    parts = [f"{len(yes)}/{deploy.approvals_required} approved"]
    if yes:
        parts.append("by " + ", ".join(f"<@{a.approver}>" for a in yes))
    if no:
        reason = f" ({escape(no[0].reason)})" if no[0].reason else ""
        parts.append(f"rejected by <@{no[0].approver}>{reason}")
    return " ".join(parts)


def _button(text: str, action_id: str, value: str, style: str | None = None) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": text},
        "action_id": action_id,
        "value": value,
    }
    if style:
        button["style"] = style
    return button


def _cancel_or_canary_buttons(deploy: Deploy) -> list[dict[str, Any]]:
    """Cancel; for a canary, Abort (the backend aborts and rolls back) and, while it is
    paused, Promote bound to the step shown (a click on an older card promotes nothing)."""
    canary = (deploy.backend_state or {}).get("canary")
    if not canary or deploy.state != DeployState.running:
        return [_button("Cancel", "deploy.cancel", str(deploy.id), "danger")]
    buttons = []
    if canary.get("paused"):
        weight = canary.get("next_weight")
        label = f"Promote to {weight}%" if weight is not None else "Promote"
        buttons.append(
            _button(label, "deploy.promote", f"{deploy.id}:{canary.get('step')}", "primary")
        )
    buttons.append(_button("Abort", "deploy.cancel", str(deploy.id), "danger"))
    return buttons


def notes_of(deploy: Deploy) -> list[str]:
    """The small print under a deploy (its card, and its message in an incident channel):
    reason, break-glass, what runs now, error, health, logs."""
    notes = []
    if deploy.reason:
        notes.append(f"Reason: {escape(deploy.reason)}")
    if deploy.override:
        notes.append(f":rotating_light: break-glass: {escape(deploy.override_reason or '')}")
    detail = deploy.backend_state.get("detail") if deploy.backend_state else None
    if detail and deploy.state == DeployState.running:
        notes.append(escape(str(detail)))
    if deploy.error:
        notes.append(f"Error: {escape(deploy.error)}")
    if deploy.health:
        notes.append(f"Health check {deploy.health}")
    if deploy.kind == DeployKind.auto_rollback and deploy.rollback_of:
        notes.append(f"Rolling back deploy #{deploy.rollback_of} after its health check failed")
    if deploy.logs_url:
        notes.append(f"<{deploy.logs_url}|Logs>")
    return notes


def deploy_message(
    deploy: Deploy,
    approvals: list[DeployApproval],
    config: ShipbotConfig,
    *,
    runs_now: bool = False,
) -> tuple[str, list[dict[str, Any]]]:
    """The deploy's card in the deploys channel. Roll back shows only while ``runs_now``
    (this deploy's version is what runs there): a superseded card has no live button."""
    label = _label(deploy)
    fields = [
        f"*Status*\n{label}",
        f"*Requested by*\n<@{deploy.requested_by}>",
        f"*Approvals*\n{_approvals_line(deploy, approvals)}",
        f"*Backend*\n{escape(deploy.backend)} · {_when(deploy)}",
    ]
    blocks: list[dict[str, Any]] = [
        section(_title(deploy)),
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f} for f in fields]},
    ]
    notes = notes_of(deploy)
    if notes:
        blocks.append(context(" · ".join(notes)[:2900]))
    blocks.extend(changes_blocks(deploy))
    actions = []
    if deploy.state in WAITING or (
        deploy.state == DeployState.running and not deploy.cancel_requested
    ):
        actions.extend(_cancel_or_canary_buttons(deploy))
    if deploy.state == DeployState.succeeded and runs_now:
        actions.append(_button("Roll back", "deploy.rollback", str(deploy.id)))
    if actions:
        blocks.append({"type": "actions", "block_id": f"deploy-{deploy.id}", "elements": actions})
    text = (
        f"Deploy #{deploy.id}: {deploy.service} {escape(deploy.version)} to {deploy.environment}: "
        + (label.split(" ", 1)[1])
    )
    return text, blocks


def approval_message(
    deploy: Deploy, approvals: list[DeployApproval], config: ShipbotConfig
) -> tuple[str, list[dict[str, Any]]]:
    """The approval request (channel and DMs). Its buttons vanish once it is decided."""
    policy = config.environments[deploy.environment].approval
    groups = ", ".join(policy.from_groups) or "anyone"
    waiting = deploy.state == DeployState.awaiting_approval
    # Once decided it is a record: who asked for what, not a request still open.
    verb = "asks" if waiting else "asked"
    ask = (
        f":raised_hand: <@{deploy.requested_by}> {verb} to deploy *{escape(deploy.service)}* "
        f"`{escape(deploy.version)}` to *{escape(deploy.environment)}* (#{deploy.id})"
    )
    blocks: list[dict[str, Any]] = [section(ask)]
    if deploy.reason:
        blocks.append(section(f"> {escape(deploy.reason)}"))
    blocks.extend(changes_blocks(deploy))
    status = _approvals_line(deploy, approvals)
    expiry = f" · expires {deploy.expires_at:%Y-%m-%d %H:%M} UTC" if deploy.expires_at else ""
    needs = f"Needs {deploy.approvals_required} approval(s) from {escape(groups)} · "
    blocks.append(context((needs + status + expiry) if waiting else status))
    if waiting:
        value = f"{deploy.id}:{deploy.version}"
        blocks.append(
            {
                "type": "actions",
                "block_id": f"approval-{deploy.id}",
                "elements": [
                    _button("Approve", "deploy.approve", value, "primary"),
                    _button("Reject", "deploy.reject", value, "danger"),
                ],
            }
        )
        text = f"Approval needed: {deploy.service} {escape(deploy.version)} to {deploy.environment}"
    else:
        _, label = STATE_LABELS.get(deploy.state, ("", deploy.state))
        blocks.append(context(f"Decided: {label}"))
        text = f"Approval for deploy #{deploy.id}: {label}"
    return text, blocks


def reminder_message(
    deploy: Deploy, approvals: list[DeployApproval], approvers: frozenset[str]
) -> tuple[str, list[dict[str, Any]]]:
    decided = {a.approver for a in approvals}
    waiting = sorted(approvers - decided - {deploy.requested_by})
    who = ", ".join(f"<@{u}>" for u in waiting) or "approvers"
    text = (
        f":bell: {who}: deploy #{deploy.id} ({deploy.service} {escape(deploy.version)} to "
        f"{deploy.environment}) is still waiting for approval."
    )
    return text, [section(text)]


def output_message(deploy: Deploy) -> tuple[str, list[dict[str, Any]]]:
    tail = escape(deploy.output_tail or "").replace("```", "'''")[-2800:]
    text = f"Output of deploy #{deploy.id} (last lines)"
    return text, [section(f"{text}:\n```{tail}```")]
