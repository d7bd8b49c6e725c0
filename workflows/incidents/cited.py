"""A Slack message added to an incident's timeline (the "Add to incident timeline"
message shortcut), cited with its permalink in the card and the postmortem.

Citing writes the timeline event (kind ``"message"``: the message's channel, ts and
author in ``data``), its audit entry and a ``incident.permalink`` job in one transaction;
the job asks Slack for the permalink (``chat.getPermalink``) and stores it on the event.
A message is cited once per incident.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlmodel import Session

from workflows import audit
from workflows.clock import Clock
from workflows.delivery import claim_delivery
from workflows.errors import Conflict
from workflows.incidents import effects
from workflows.incidents.models import IncidentEvent
from workflows.incidents.queries import add_timeline_event, get_event, require_incident, timeline
from workflows.jobs import enqueue

MESSAGE_KIND = "message"
PERMALINK_JOB = "incident.permalink"
MAX_CITED_TEXT = 2000


@dataclass(frozen=True)
class CitedMessage:
    """The message as the shortcut saw it."""

    channel: str
    ts: str
    author: str
    text: str


def cite_message(
    *,
    session: Session,
    clock: Clock,
    incident_id: int,
    actor: str,
    message: CitedMessage,
    delivery_key: str = "",
    channel: str | None = None,
) -> IncidentEvent:
    """Add ``message`` to the incident's timeline; ``Conflict`` if it is there already.
    ``channel`` is where the shortcut was used (the audit entry's)."""
    if delivery_key:
        claim_delivery(session=session, clock=clock, key=delivery_key, source="slack")
    require_incident(session=session, incident_id=incident_id)
    for event in timeline(session=session, incident_id=incident_id, kinds={MESSAGE_KIND}):
        if (event.data.get("channel"), event.data.get("ts")) == (message.channel, message.ts):
            raise Conflict(f"That message is in incident #{incident_id}'s timeline already.")
    text = " ".join(message.text.split())[:MAX_CITED_TEXT] or "(a message with no text)"
    data = {"channel": message.channel, "ts": message.ts, "author": message.author}
    event = add_timeline_event(
        session=session,
        clock=clock,
        incident_id=incident_id,
        actor=actor,
        kind=MESSAGE_KIND,
        text=text,
        data=data,
    )
    enqueue(
        session=session,
        clock=clock,
        kind=PERMALINK_JOB,
        payload={"event_id": event.id},
        idempotency_key=f"incident-event:{event.id}:permalink",
    )
    audit.record(
        session=session,
        clock=clock,
        actor=actor,
        action="incident.message_added",
        target=f"incident:{incident_id}",
        params={**data, "event_id": event.id},
        channel=channel or message.channel,
    )
    return event


def is_permalink(link: str) -> bool:
    """A link fit to cite: https, a host, nothing that breaks out of Markdown or mrkdwn."""
    parts = urlsplit(link)
    return (
        parts.scheme == "https"
        and bool(parts.netloc)
        and not any(c in link for c in " <>|()[]\"'`\n")
    )


def store_permalink(*, session: Session, clock: Clock, event_id: int, permalink: str) -> bool:
    """Keep Slack's permalink on the cited message's event and refresh the card; False if
    the event is gone or already has one (a second run of the job)."""
    event = get_event(session=session, event_id=event_id)
    if event is None or event.kind != MESSAGE_KIND or event.data.get("permalink"):
        return False
    if not is_permalink(permalink):
        raise ValueError("Slack answered with a permalink shipbot will not cite")
    event.data = {**event.data, "permalink": permalink}
    session.add(event)
    incident = require_incident(session=session, incident_id=event.incident_id)
    effects.render_card(session=session, clock=clock, incident=incident)
    return True
