"""Block Kit of the App Home: a pure function of ``workflows.home.data.Home``.

Its Approve/Reject buttons are the approval request's own (``deploy.approve`` /
``deploy.reject``, value ``"<deploy id>:<version>"``), so a click from Home goes through
``commands/deploys/actions.py`` and the same policy, exactly once.
"""

from __future__ import annotations

from typing import Any

from commands.common.reply import DIVIDER, context, escape, header, section
from commands.deploys.views import STATE_LABELS
from commands.incidents.views import channel_link, emoji, when, who
from workflows.deploys.models import Deploy, DeployLock
from workflows.home.data import FreezeAhead, Home, HomeIncident, PendingApproval

Blocks = list[dict[str, Any]]
MAX_BLOCKS = 100  # Slack's limit for a Home view


def _button(text: str, action_id: str, value: str, style: str) -> dict[str, Any]:
    return {
        "type": "button",
        "text": {"type": "plain_text", "text": text},
        "action_id": action_id,
        "value": value,
        "style": style,
    }


def _deploy_line(deploy: Deploy) -> str:
    return (
        f"*{escape(deploy.service)}* `{escape(deploy.version)}` to "
        f"*{escape(deploy.environment)}* (#{deploy.id})"
    )


def _pending_blocks(pending: list[PendingApproval]) -> Blocks:
    blocks: Blocks = [header("Waiting on you")]
    if not pending:
        return [*blocks, context("No deploy is waiting for your approval.")]
    for item in pending:
        deploy = item.deploy
        ask = f":raised_hand: {who(deploy.requested_by)} asks to deploy {_deploy_line(deploy)}"
        if deploy.reason:
            ask += f"\n> {escape(deploy.reason)[:500]}"
        blocks.append(section(ask))
        expiry = f" · expires {when(deploy.expires_at)}" if deploy.expires_at else ""
        blocks.append(context(f"{item.approved}/{item.required} approved{expiry}"))
        value = f"{deploy.id}:{deploy.version}"
        blocks.append(
            {
                "type": "actions",
                "block_id": f"home-approval-{deploy.id}",
                "elements": [
                    _button("Approve", "deploy.approve", value, "primary"),
                    _button("Reject", "deploy.reject", value, "danger"),
                ],
            }
        )
    return blocks


def _recent_blocks(recent: list[Deploy]) -> Blocks:
    blocks: Blocks = [header("Your recent deploys")]
    if not recent:
        return [*blocks, context("You have not asked for a deploy yet.")]
    lines = []
    for deploy in recent:
        mark, label = STATE_LABELS.get(deploy.state, (":grey_question:", deploy.state))
        lines.append(f"{mark} {_deploy_line(deploy)}: {label} · {when(deploy.requested_at)}")
    return [*blocks, section("\n".join(lines))]


def _incident_line(shown: HomeIncident) -> str:
    incident = shown.incident
    role = " · _yours_" if shown.theirs else ""
    return (
        f"{emoji(incident)} *{escape(incident.severity)}* #{incident.id} "
        f"{escape(incident.title)} · {escape(incident.status)} · {channel_link(incident)}{role}"
    )


def _incident_blocks(incidents: list[HomeIncident]) -> Blocks:
    blocks: Blocks = [header("Open incidents")]
    if not incidents:
        return [*blocks, context("No open incidents.")]
    return [*blocks, section("\n".join(_incident_line(i) for i in incidents))]


def _lock_line(lock: DeployLock) -> str:
    what = "every service" if lock.service == "*" else f"*{escape(lock.service)}*"
    return (
        f":lock: *{escape(lock.environment)}* ({what}) locked by {who(lock.locked_by)} "
        f"{when(lock.locked_at)}: {escape(lock.reason)}"
    )


def _freeze_line(freeze: FreezeAhead) -> str:
    reason = f": {escape(freeze.reason)}" if freeze.reason else ""
    if freeze.open:
        return (
            f":snowflake: *{escape(freeze.environment)}* frozen until {when(freeze.ends)}{reason}"
        )
    return (
        f":calendar: *{escape(freeze.environment)}* next freeze {when(freeze.starts)} to "
        f"{when(freeze.ends)}{reason}"
    )


def _environment_blocks(locks: list[DeployLock], freezes: list[FreezeAhead]) -> Blocks:
    blocks: Blocks = [header("Locks and freezes")]
    lines = [_lock_line(lock) for lock in locks] + [_freeze_line(f) for f in freezes]
    if not lines:
        return [*blocks, context("No locks, and no freeze windows configured.")]
    return [*blocks, section("\n".join(lines)[:2900])]


def home_view(home: Home) -> dict[str, Any]:
    """The Home tab of ``home.user_id``."""
    blocks: Blocks = [
        *_pending_blocks(home.pending),
        DIVIDER,
        *_recent_blocks(home.recent),
        DIVIDER,
        *_incident_blocks(home.incidents),
        DIVIDER,
        *_environment_blocks(home.locks, home.freezes),
    ]
    if len(blocks) > MAX_BLOCKS:  # only many pending approvals get here
        blocks = [*blocks[: MAX_BLOCKS - 1], context("More is waiting; see the approvals channel.")]
    return {"type": "home", "callback_id": "home", "blocks": blocks}
