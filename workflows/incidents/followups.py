"""Follow-ups: a postmortem's action items filed once each as GitHub issues or Jira
tickets (``incidents.tracker``), linked from the incident's timeline.

Adding stores one ``FollowUp`` row per item (the same text twice is one row: unique
digest) and one ``incident.follow_up`` job per new row. The job files it and stores the
tracker's id in a guarded update; a retry first looks the item's ``marker`` up in the
tracker, so a crash between the tracker's answer and that update never files it twice.
A tracker that refuses (bad token, unknown project) or stays down marks the follow-up
failed with the reason on the timeline, instead of failing silently.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable

from sqlalchemy import update
from sqlmodel import Session, col, select

from workflows import audit
from workflows.clock import Clock
from workflows.config.models import ShipbotConfig
from workflows.delivery import claim_delivery
from workflows.errors import UserError
from workflows.incidents import effects
from workflows.incidents.errors import EmptyText
from workflows.incidents.models import FollowUp, Incident
from workflows.incidents.queries import add_timeline_event, append_event, require_incident
from workflows.incidents.reminders import SYSTEM_ACTOR
from workflows.incidents.trackers import Ticket, Tracker, TrackerError
from workflows.jobs import JobContext, PermanentJobError, enqueue
from workflows.redact import redact_text
from workflows.store.upsert import insert_or_ignore

MAX_ITEM = 250
MAX_ITEMS = 20
_CHECKBOX = re.compile(r"^\s*[-*]\s*\[ \]\s*(.*?)\s*$")


def action_items(text: str) -> list[str]:
    """The open items of a Markdown task list (``- [ ] fix the alert``); text without
    one counts each non-empty line as an item. Empty items are dropped, repeats folded."""
    lines = text.splitlines()
    boxes = [m.group(1) for m in map(_CHECKBOX.match, lines) if m is not None]
    chosen = boxes if boxes else [line.strip().lstrip("-*").strip() for line in lines]
    items: list[str] = []
    for item in chosen:
        item = " ".join(item.split())
        if item and item not in items:
            items.append(item)
    return items


def _digest(text: str) -> str:
    return hashlib.sha256(" ".join(text.lower().split()).encode()).hexdigest()


def add_follow_ups(
    *,
    session: Session,
    clock: Clock,
    config: ShipbotConfig,
    actor: str,
    incident_id: int,
    text: str,
    delivery_key: str = "",
    channel: str | None = None,
) -> list[FollowUp]:
    """Store the action items in ``text`` and enqueue filing each new one; the items
    added before are skipped. Returns the new ones."""
    if config.incidents.tracker is None:
        raise UserError(
            "No tracker is configured for follow-ups.",
            hint="Set incidents.tracker (GitHub or Jira) in the config (docs/incidents.md).",
        )
    items = action_items(text)
    if not items:
        raise EmptyText("A follow-up needs a text.", field="follow_up")
    if len(items) > MAX_ITEMS or any(len(item) > MAX_ITEM for item in items):
        raise UserError(f"Give at most {MAX_ITEMS} items of at most {MAX_ITEM} characters each.")
    if delivery_key:
        claim_delivery(session=session, clock=clock, key=delivery_key, source="slack")
    incident = require_incident(session=session, incident_id=incident_id)
    added = [row for item in items if (row := _store(session, clock, incident, item, actor))]
    for row in added:
        enqueue(
            session=session,
            clock=clock,
            kind=effects.FOLLOW_UP,
            payload={"follow_up_id": row.id},
            idempotency_key=f"incident:{incident_id}:follow_up:{row.id}",
        )
    if added:
        lines = "; ".join(row.text for row in added)
        add_timeline_event(
            session=session,
            clock=clock,
            incident_id=incident_id,
            actor=actor,
            kind="follow_up",
            text=lines,
            data={"follow_up_ids": [row.id for row in added]},
        )
        audit.record(
            session=session,
            clock=clock,
            actor=actor,
            action="incident.follow_up",
            target=f"incident:{incident_id}",
            params={"items": [row.text for row in added]},
            channel=channel,
        )
    return added


def _store(
    session: Session, clock: Clock, incident: Incident, text: str, actor: str
) -> FollowUp | None:
    """Insert one item unless its digest is stored already; the new row, or None."""
    digest = _digest(text)
    values = {
        "incident_id": incident.id,
        "text": text,
        "digest": digest,
        "added_by": actor,
        "added_at": clock.now(),
        "state": "pending",
    }
    statement = insert_or_ignore(session, FollowUp, key=["incident_id", "digest"]).values(**values)
    new_id = session.exec(statement.returning(col(FollowUp.id))).scalar()
    return session.get(FollowUp, new_id) if new_id is not None else None


def follow_ups(*, session: Session, incident_id: int) -> list[FollowUp]:
    query = select(FollowUp).where(col(FollowUp.incident_id) == incident_id)
    return list(session.exec(query.order_by(col(FollowUp.id))))


def marker(row: FollowUp) -> str:
    return f"shipbot-follow-up-{row.incident_id}-{row.id}"


def file_follow_up(context: JobContext, *, tracker: Callable[[], Tracker | None]) -> None:
    """Handler of ``incident.follow_up`` (payload ``{"follow_up_id"}``)."""
    try:
        follow_up_id = int(context.job.payload["follow_up_id"])
    except (KeyError, TypeError, ValueError) as error:
        raise PermanentJobError(f"bad incident.follow_up payload: {error}") from error
    with context.database.read_session() as session:
        row = session.get(FollowUp, follow_up_id)
        incident = session.get(Incident, row.incident_id) if row else None
    if row is None or incident is None or row.state != "pending":
        return
    filer = tracker()
    if filer is None:
        _failed(context, row, "no tracker is configured (incidents.tracker)")
        return
    try:
        # Only a retry can find one: a first attempt has nothing to look for.
        ticket = filer.find(marker=marker(row)) if context.job.attempts > 1 else None
        ticket = ticket or filer.create(
            title=redact_text(row.text), body=_body(incident, row), marker=marker(row)
        )
    except TrackerError as error:
        if error.permanent or context.job.attempts >= context.job.max_attempts:
            _failed(context, row, error.message)
            return
        raise
    _filed(context, row, ticket)


def _body(incident: Incident, row: FollowUp) -> str:
    return redact_text(
        f"Follow-up of incident #{incident.id} ({incident.severity}): {incident.title}\n\n"
        f"{row.text}\n\nFiled by shipbot."
    )


def _filed(context: JobContext, row: FollowUp, ticket: Ticket) -> None:
    with context.database.transaction() as session:
        stored = session.exec(
            update(FollowUp)
            .where(col(FollowUp.id) == row.id, col(FollowUp.state) == "pending")
            .values(state="filed", external_id=ticket.key, external_url=ticket.url)
        )
        if stored.rowcount != 1:
            return
        incident = require_incident(session=session, incident_id=row.incident_id)
        event = append_event(
            session=session,
            incident=incident,
            at=context.clock.now(),
            actor=SYSTEM_ACTOR,
            kind="follow_up_filed",
            text=row.text,
            data={"follow_up_id": row.id, "key": ticket.key, "url": ticket.url},
        )
        effects.render_card(session=session, clock=context.clock, incident=incident)
        audit.record(
            session=session,
            clock=context.clock,
            actor=SYSTEM_ACTOR,
            action="incident.follow_up_filed",
            target=f"incident:{row.incident_id}",
            params={"follow_up_id": row.id, "key": ticket.key, "event_id": event.id},
        )


def _failed(context: JobContext, row: FollowUp, reason: str) -> None:
    with context.database.transaction() as session:
        stored = session.exec(
            update(FollowUp)
            .where(col(FollowUp.id) == row.id, col(FollowUp.state) == "pending")
            .values(state="failed", error=reason)
        )
        if stored.rowcount == 1:
            add_timeline_event(
                session=session,
                clock=context.clock,
                incident_id=row.incident_id,
                actor=SYSTEM_ACTOR,
                kind="follow_up_failed",
                text=f"{row.text} — not filed: {reason}",
                data={"follow_up_id": row.id},
            )
