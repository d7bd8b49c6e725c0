"""The update cadence: remind the commander when no status update came in time.

``Incident.reminder_due_at`` is the one truth about the next reminder. Whatever moves it
(a status update, a severity change, a snooze, a reminder that fired) enqueues an
``incident.remind`` job due then, carrying that moment; a job whose moment is no longer
the stored one was superseded and does nothing. The idempotency key names the incident,
the last update and the due time, so re-enqueueing the same schedule is a no-op.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, col

from workflows import audit
from workflows.clock import Clock
from workflows.config.models import SEVERITIES, ShipbotConfig
from workflows.delivery import claim_delivery
from workflows.errors import Conflict, NotFound
from workflows.incidents import effects
from workflows.incidents.errors import AlreadySnoozed
from workflows.incidents.models import Incident, IncidentEvent, IncidentStatus
from workflows.incidents.queries import append_event, get_event, require_incident, timeline
from workflows.jobs import JobContext, PermanentJobError, RetryLater, enqueue
from workflows.views import request_render

SNOOZE = timedelta(minutes=30)
SYSTEM_ACTOR = "shipbot"


def update_every(*, config: ShipbotConfig, severity: str) -> timedelta:
    """How often an incident of ``severity`` wants a status update."""
    if severity not in SEVERITIES:
        return config.incidents.severity("SEV4").update_every
    return config.incidents.severity(severity).update_every


def _schedule(*, session: Session, clock: Clock, incident: Incident, due: datetime) -> None:
    assert incident.id is not None
    incident.reminder_due_at = due
    session.add(incident)
    session.flush()
    base = incident.last_update_at or incident.declared_at
    enqueue(
        session=session,
        clock=clock,
        kind=effects.REMIND,
        payload={"incident_id": incident.id, "due": due.isoformat()},
        idempotency_key=(f"incident:{incident.id}:remind:{base.isoformat()}:{due.isoformat()}"),
        run_after=due,
    )


def schedule_reminder(
    *, session: Session, clock: Clock, config: ShipbotConfig, incident: Incident
) -> None:
    """Due one interval after the last update (now, if that has passed already)."""
    interval = update_every(config=config, severity=incident.severity)
    base = incident.last_update_at or incident.declared_at
    due = max(base + interval, clock.now())
    _schedule(session=session, clock=clock, incident=incident, due=due)


def remind(context: JobContext, *, config: ShipbotConfig) -> None:
    """Handler of ``incident.remind`` (payload ``{"incident_id", "due"}``).

    Posts a reminder in the incident channel (a view with a Snooze button) and schedules
    the next one an interval later, unless the incident is resolved or the job is stale."""
    try:
        incident_id = int(context.job.payload["incident_id"])
        due = datetime.fromisoformat(str(context.job.payload["due"]))
    except (KeyError, TypeError, ValueError) as error:
        raise PermanentJobError(f"bad incident.remind payload: {error}") from error
    with context.database.transaction() as session:
        incident = session.get(Incident, incident_id)
        if incident is None or incident.status == IncidentStatus.resolved:
            return
        if incident.reminder_due_at != due:
            return  # an update or a snooze came meanwhile and scheduled its own reminder
        if incident.channel_id is None:
            raise RetryLater(timedelta(minutes=1), reason="the incident channel is not ready")
        now = context.clock.now()
        interval = update_every(config=config, severity=incident.severity)
        next_due = now + interval
        # Guarded: of two replicas running this job, only one reminds.
        moved = session.exec(
            update(Incident)
            .where(col(Incident.id) == incident_id, col(Incident.reminder_due_at) == due)
            .values(reminder_due_at=next_due)
        )
        if moved.rowcount != 1:
            return
        session.refresh(incident)
        silent_since = incident.last_update_at or incident.declared_at
        event = append_event(
            session=session,
            incident=incident,
            at=now,
            actor=SYSTEM_ACTOR,
            kind="reminder",
            text="No status update since the last one; the commander was reminded.",
            data={"due": due.isoformat(), "silent_since": silent_since.isoformat()},
        )
        assert event.id is not None
        request_render(
            session=session,
            clock=context.clock,
            view_key=effects.reminder_view_key(event.id),
            channel=incident.channel_id,
        )
        _schedule(session=session, clock=context.clock, incident=incident, due=next_due)


@dataclass(frozen=True)
class Snoozed:
    incident: Incident
    until: datetime


def snooze_of(*, session: Session, reminder: IncidentEvent) -> IncidentEvent | None:
    """The snooze event that answered ``reminder``, if any."""
    snoozes = timeline(session=session, incident_id=reminder.incident_id, kinds={"snooze"})
    return next((s for s in snoozes if s.data.get("reminder_event_id") == reminder.id), None)


def snooze(
    *,
    session: Session,
    clock: Clock,
    actor: str,
    reminder_event_id: int,
    delivery_key: str = "",
    length: timedelta = SNOOZE,
    channel: str | None = None,
) -> Snoozed:
    """The Snooze button: no reminder for ``length``; the reminder message says so."""
    if delivery_key:
        claim_delivery(session=session, clock=clock, key=delivery_key, source="slack")
    reminder = get_event(session=session, event_id=reminder_event_id)
    if reminder is None or reminder.kind != "reminder":
        raise NotFound("that reminder no longer exists")
    incident = require_incident(session=session, incident_id=reminder.incident_id)
    if incident.status == IncidentStatus.resolved:
        raise Conflict(f"incident #{incident.id} is resolved; there is nothing to snooze")
    earlier = snooze_of(session=session, reminder=reminder)
    if earlier is not None:
        raise AlreadySnoozed(by=earlier.actor)
    last_update = incident.last_update_at or incident.declared_at
    if last_update > reminder.at:
        raise Conflict(
            "a status update came after this reminder, so the next one is already later",
        )
    now = clock.now()
    until = now + length
    _schedule(session=session, clock=clock, incident=incident, due=until)
    event = append_event(
        session=session,
        incident=incident,
        at=now,
        actor=actor,
        kind="snooze",
        text=f"Snoozed the update reminder for {int(length.total_seconds() // 60)} minutes.",
        data={"reminder_event_id": reminder.id, "until": until.isoformat()},
    )
    assert incident.channel_id is not None and reminder.id is not None
    request_render(
        session=session,
        clock=clock,
        view_key=effects.reminder_view_key(reminder.id),
        channel=incident.channel_id,
    )
    audit.record(
        session=session,
        clock=clock,
        actor=actor,
        action="incident.snooze",
        target=f"incident:{incident.id}",
        params={"reminder_event_id": reminder.id, "until": until, "event_id": event.id},
        channel=channel,
    )
    return Snoozed(incident=incident, until=until)
