"""Block Kit of what an incident channel hears about its service (issue 16): one message
per deploy, kept current, and one per lock, unlock or break-glass. Pure functions of the
stored deploy and timeline line (``workflows/incidents/watch.py``); what people typed is
escaped."""

from __future__ import annotations

from typing import Any

from commands.common.reply import context, escape, section
from commands.deploys.views import notes_of
from commands.incidents.views import who
from workflows.deploys.models import DeployKind, DeployState
from workflows.incidents.models import Incident, IncidentEvent
from workflows.incidents.watch import WatchedDeploy, state_words

Blocks = list[dict[str, Any]]
_EMOJI: dict[str, str] = {
    DeployState.requested: ":hourglass:",
    DeployState.awaiting_approval: ":raised_hand:",
    DeployState.approved: ":white_check_mark:",
    DeployState.running: ":rocket:",
    DeployState.succeeded: ":large_green_circle:",
    DeployState.failed: ":red_circle:",
    DeployState.cancelled: ":no_entry_sign:",
    DeployState.rejected: ":no_entry:",
    DeployState.expired: ":zzz:",
    DeployState.rolled_back: ":leftwards_arrow_with_hook:",
}
_KINDS: dict[str, str] = {
    DeployKind.rollback: "Rollback",
    DeployKind.auto_rollback: "Automatic rollback",
}
_NOTE_EMOJI: dict[str, str] = {
    "lock": ":lock:",
    "unlock": ":unlock:",
    "break_glass": ":rotating_light:",
}


def deploy_note(watched: WatchedDeploy) -> tuple[str, Blocks]:
    """The incident channel's message about one deploy of its service; its text ends
    with the deploy's state ("… — succeeded")."""
    deploy, incident = watched.deploy, watched.incident
    kind = _KINDS.get(deploy.kind, "Deploy")
    version = f"`{escape(deploy.version)}`"
    line = (
        f"{_EMOJI.get(deploy.state, ':grey_question:')} {kind} #{deploy.id} of "
        f"*{escape(deploy.service)}* {version} to *{escape(deploy.environment)}* by "
        f"{who(deploy.requested_by)} — {state_words(deploy.state)}"
    )
    notes = notes_of(deploy)
    notes.append(f"Posted here because {_about(incident)} is open on {escape(deploy.service)}.")
    return line, [section(line), context(" · ".join(notes)[:2900])]


def change_note(incident: Incident, event: IncidentEvent) -> tuple[str, Blocks]:
    """A lock, an unlock or a break-glass on the incident's service."""
    emoji = _NOTE_EMOJI.get(event.kind, ":information_source:")
    what = {"lock": "Lock", "unlock": "Unlock", "break_glass": "Break-glass"}.get(
        event.kind, escape(event.kind)
    )
    line = f"{emoji} *{what}* by {who(event.actor)}: {escape(event.text)}"
    return line, [section(line[:2900]), context(f"Added to the timeline of {_about(incident)}.")]


def _about(incident: Incident) -> str:
    return f"{escape(incident.severity)} incident #{incident.id}"
