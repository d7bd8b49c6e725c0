"""The incident card's buttons and forms, and the reminder's Snooze button.

Each runs the same ``workflows.incidents`` change, with the same permission rules, as the
matching slash command (``handlers``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from commands.common.reply import Action, Reply, Submission
from commands.common.seams import Deps
from commands.incidents import aftercare_views, views
from commands.incidents.flow import change, checked, worded
from workflows.errors import PermissionDenied, UserError
from workflows.incidents import changes, declare, followups, permissions, queries, reminders
from workflows.incidents.models import Incident, IncidentStatus


def _clicked(action: Action, deps: Deps, kind: permissions.Change) -> Incident | Reply:
    """The clicked incident, if it is open and the clicker may make a change of ``kind`` to it (a
    refusal is audited like the change's own would be)."""
    try:
        incident_id = int(action.value)
    except ValueError:
        return Reply(text="That button is broken; use `/incident help` instead.")
    with worded(deps, delivery_key=action.delivery_key, channel=action.channel_id):
        with deps.database.read_session() as session:
            incident = queries.require_incident(session=session, incident_id=incident_id)
        if incident.status == IncidentStatus.resolved:
            return Reply(text=f"Incident #{incident.id} is resolved already.")
        permissions.check_change(
            **checked(deps), incident=incident, actor=action.user_id, change=kind
        )
    return incident


def _opener(
    build: Callable[[Incident], dict[str, Any]], kind: permissions.Change
) -> Callable[[Action, Any], Reply]:
    """A card button that opens a modal about the clicked incident."""

    def open_modal(action: Action, deps: Deps) -> Reply:
        found = _clicked(action, deps, kind)
        return found if isinstance(found, Reply) else Reply(text="", modal=build(found))

    return open_modal


# The form is refused up front to whoever could not submit it (the submission is checked
# again: the form may have been opened before a role changed hands).
open_status = _opener(views.status_modal, "status")
open_assign = _opener(views.assign_modal, "assign")
open_resolve = _opener(views.resolve_modal, "resolved")


def snooze(action: Action, deps: Deps) -> Reply | None:
    """The reminder's Snooze button; the reminder message itself shows the snooze."""
    change(
        deps,
        reminders.snooze,
        actor=action.user_id,
        reminder_event_id=int(action.value),
        delivery_key=action.delivery_key,
        channel=action.channel_id or None,
    )
    return None


def _field_errors(
    submission: Submission, deps: Deps, block_id: str, flow: Callable[..., Any], **arguments: Any
) -> dict[str, str] | None:
    """Run a modal's change; a ``UserError`` is shown on the form's ``block_id`` field.

    A permission refusal is not a field to fix: it goes to the edge, which shows it over
    the form with its mentions (a field error is plain text)."""
    try:
        change(
            deps,
            flow,
            actor=submission.user_id,
            delivery_key=submission.delivery_key,
            **arguments,
        )
    except PermissionDenied:
        raise
    except UserError as error:
        return {block_id: error.message + (f" {error.hint}" if error.hint else "")}
    return None


def submit_declare(submission: Submission, deps: Deps) -> dict[str, str] | None:
    values = submission.values
    try:
        channel = str(json.loads(submission.private_metadata or "{}").get("channel") or "")
    except (ValueError, AttributeError):
        channel = ""
    return _field_errors(
        submission,
        deps,
        "title",
        declare.declare,
        **checked(deps),
        severity=values.get("severity") or "",
        title=values.get("title") or "",
        service=values.get("service") or None,
        channel=channel or None,
        private="private" in (values.get("private") or "").split(","),
    )


def _incident_id(submission: Submission) -> int:
    try:
        return int(submission.private_metadata)
    except ValueError:
        raise UserError("This form lost track of its incident; open it again.") from None


def submit_status(submission: Submission, deps: Deps) -> dict[str, str] | None:
    return _field_errors(
        submission,
        deps,
        "message",
        changes.update_status,
        **checked(deps),
        incident_id=_incident_id(submission),
        status=submission.values.get("status") or "",
        message=submission.values.get("message") or "",
    )


def submit_assign(submission: Submission, deps: Deps) -> dict[str, str] | None:
    return _field_errors(
        submission,
        deps,
        "commander",
        changes.assign_role,
        **checked(deps),
        incident_id=_incident_id(submission),
        role="commander",
        user=submission.values.get("commander") or "",
    )


def submit_resolve(submission: Submission, deps: Deps) -> dict[str, str] | None:
    return _field_errors(
        submission,
        deps,
        "summary",
        changes.resolve,
        **checked(deps),
        incident_id=_incident_id(submission),
        summary=submission.values.get("summary") or "",
    )


def open_follow_up(action: Action, deps: Deps) -> Reply:
    """The resolved card's "Add follow-ups" button: the form (open to anyone in the
    channel, like a note)."""
    try:
        incident_id = int(action.value)
    except ValueError:
        return Reply(text="That button is broken; use `/incident help` instead.")
    with (
        worded(deps, delivery_key=action.delivery_key, channel=action.channel_id),
        deps.database.read_session() as session,
    ):
        incident = queries.require_incident(session=session, incident_id=incident_id)
    return Reply(text="", modal=aftercare_views.follow_up_modal(incident))


def submit_follow_ups(submission: Submission, deps: Deps) -> dict[str, str] | None:
    return _field_errors(
        submission,
        deps,
        "items",
        followups.add_follow_ups,
        config=checked(deps)["config"],
        incident_id=_incident_id(submission),
        text=submission.values.get("items") or "",
    )
