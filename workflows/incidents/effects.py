"""What a change to an incident sets in motion: the job kinds and views it enqueues.

Every helper here runs in the caller's transaction (nothing commits), so a change and its
consequences commit together (rule 1). Slack-facing jobs are idempotent by their keys.
"""

from __future__ import annotations

from sqlmodel import Session

from workflows.clock import Clock
from workflows.config.models import ShipbotConfig
from workflows.incidents.models import Incident, IncidentEvent
from workflows.jobs import enqueue
from workflows.views import request_render

# Job kinds. The Slack ones are handled in commands/incidents/slack_jobs.py, the others in
# workflows/incidents/ (reminders, declare).
CREATE_CHANNEL = "incident.create_channel"
INVITE = "incident.invite"
SET_TOPIC = "incident.set_topic"
PIN_CARD = "incident.pin_card"
POSTMORTEM = "incident.postmortem"
REMIND = "incident.remind"
DECLARE_FROM_ALERT = "incident.declare_from_alert"
ARCHIVE_WARNING = "incident.archive_warning"
ARCHIVE = "incident.archive"
FOLLOW_UP = "incident.follow_up"

# View-key prefixes (bot.sender resolves the longest matching prefix).
CARD_PREFIX = "incident:"
ANNOUNCE_PREFIX = "incident-announce:"
REMINDER_PREFIX = "incident-reminder:"
ARCHIVE_WARNING_PREFIX = "incident-archive-warning:"


def card_view_key(incident_id: int) -> str:
    return f"{CARD_PREFIX}{incident_id}"


def announce_view_key(event_id: int) -> str:
    return f"{ANNOUNCE_PREFIX}{event_id}"


def reminder_view_key(event_id: int) -> str:
    return f"{REMINDER_PREFIX}{event_id}"


def view_id(view_key: str, prefix: str) -> int | None:
    """The numeric id in ``<prefix><id>``, or None if the key is not of that shape."""
    rest = view_key.removeprefix(prefix)
    return int(rest) if rest != view_key and rest.isdigit() else None


def _id(incident: Incident) -> int:
    assert incident.id is not None, "flush the incident before enqueueing its effects"
    return incident.id


def render_card(*, session: Session, clock: Clock, incident: Incident) -> None:
    """Bring the pinned card up to date; before the channel exists there is nothing to
    update (the channel's first render shows everything stored by then)."""
    if incident.channel_id is not None:
        request_render(
            session=session,
            clock=clock,
            view_key=card_view_key(_id(incident)),
            channel=incident.channel_id,
        )


def announce(
    *, session: Session, clock: Clock, config: ShipbotConfig, event: IncidentEvent
) -> None:
    """Post (or, for an event announced before, update) its line in the incidents channel.

    An announcement is a view of its timeline event: posted exactly once by the sender,
    even across crashes, and re-rendered when it should show something new (the channel).
    A private incident is never announced (``visibility``)."""
    channel = config.announce_channel_id()
    incident = session.get(Incident, event.incident_id)
    if incident is not None and incident.private:
        return
    if channel is not None and event.id is not None:
        request_render(
            session=session, clock=clock, view_key=announce_view_key(event.id), channel=channel
        )


def set_topic(*, session: Session, clock: Clock, incident: Incident, reason: str) -> None:
    """Set the channel topic from the stored state (severity, title, commander)."""
    if incident.channel_id is not None:
        enqueue(
            session=session,
            clock=clock,
            kind=SET_TOPIC,
            payload={"incident_id": _id(incident)},
            idempotency_key=f"incident:{_id(incident)}:topic:{reason}",
        )


def invite(*, session: Session, clock: Clock, incident: Incident, reason: str) -> None:
    """Invite everyone who belongs in the channel (declarer, roles, responders)."""
    if incident.channel_id is not None:
        enqueue(
            session=session,
            clock=clock,
            kind=INVITE,
            payload={"incident_id": _id(incident)},
            idempotency_key=f"incident:{_id(incident)}:invite:{reason}",
        )
