"""Inviting people into an incident: stored as its members (so they may see it if it is
private, ``visibility``), then invited to its channel by the invite job."""

from __future__ import annotations

from sqlmodel import Session

from workflows import audit
from workflows.clock import Clock
from workflows.config.types import is_user_id
from workflows.delivery import claim_delivery
from workflows.errors import UserError
from workflows.incidents import effects
from workflows.incidents.queries import add_timeline_event, incident_for_channel, require_incident
from workflows.incidents.visibility import add_members

MAX_INVITES = 30


def invite_people(
    *,
    session: Session,
    clock: Clock,
    actor: str,
    incident_id: int,
    users: list[str],
    delivery_key: str = "",
    channel: str | None = None,
) -> None:
    """Invite people by name (the ``invite`` subcommand): open to whoever may see the
    incident (the handler checks that); the timeline and the audit log say who brought
    whom."""
    people = sorted({user for user in users if is_user_id(user)})
    if not people or len(people) > MAX_INVITES:
        raise UserError(f"Name between 1 and {MAX_INVITES} people (Slack users).")
    if delivery_key:
        claim_delivery(session=session, clock=clock, key=delivery_key, source="slack")
    incident = require_incident(session=session, incident_id=incident_id)
    add_members(session=session, clock=clock, incident_id=incident_id, users=people, added_by=actor)
    event = add_timeline_event(
        session=session,
        clock=clock,
        incident_id=incident_id,
        actor=actor,
        kind="invite",
        text=", ".join(people),
        data={"users": people},
    )
    effects.invite(session=session, clock=clock, incident=incident, reason=f"e{event.id}")
    audit.record(
        session=session,
        clock=clock,
        actor=actor,
        action="incident.invite",
        target=f"incident:{incident_id}",
        params={"users": people, "event_id": event.id},
        channel=channel,
    )


def member_joined(*, session: Session, clock: Clock, channel_id: str, user_id: str) -> bool:
    """Slack's ``member_joined_channel``: someone joined an incident's channel in Slack
    directly, so they may see it (if private) from now on. False for any other channel.
    Storing a member twice is a no-op, so a redelivered event changes nothing."""
    incident = incident_for_channel(session=session, channel_id=channel_id)
    if incident is None or incident.id is None or not is_user_id(user_id):
        return False
    add_members(
        session=session,
        clock=clock,
        incident_id=incident.id,
        users=[user_id],
        added_by="slack:member_joined_channel",
    )
    return True

