"""After an incident: its channel archived a while after resolving (with a warning first),
and reopening, which calls that off.

``Incident.archive_due_at`` is the one truth about the archive. Resolving sets it and
enqueues two jobs carrying that moment: ``incident.archive_warning`` (``archive_warning``
before) and ``incident.archive`` (at it). Reopening clears it, so both jobs find their
moment stale and do nothing; resolving again schedules a new pair (their idempotency keys
name the moment). Being jobs, both survive restarts and run once.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col

from workflows import audit
from workflows.clock import Clock
from workflows.config.models import ShipbotConfig
from workflows.delivery import claim_delivery
from workflows.deploys.directory import Directory
from workflows.errors import Conflict
from workflows.incidents import effects
from workflows.incidents.errors import EmptyText
from workflows.incidents.models import Incident, IncidentStatus
from workflows.incidents.permissions import check_change
from workflows.incidents.queries import append_event, require_incident, timeline
from workflows.incidents.reminders import SYSTEM_ACTOR, schedule_reminder
from workflows.jobs import JobContext, PermanentJobError, enqueue
from workflows.views import request_render


def schedule_archive(
    *, session: Session, clock: Clock, config: ShipbotConfig, incident: Incident
) -> None:
    """On resolve: archive the channel ``incidents.archive_after`` later, warning
    ``incidents.archive_warning`` before (at once if that is already past). Nothing when
    ``archive_after`` is never."""
    after = config.incidents.archive_after
    if after is None or incident.resolved_at is None:
        return
    assert incident.id is not None
    due = incident.resolved_at + after
    incident.archive_due_at = due
    session.add(incident)
    session.flush()
    payload = {"incident_id": incident.id, "due": due.isoformat()}
    key = f"incident:{incident.id}:archive:{due.isoformat()}"
    warn_at = max(due - config.incidents.archive_warning, clock.now())
    enqueue(
        session=session,
        clock=clock,
        kind=effects.ARCHIVE_WARNING,
        payload=payload,
        idempotency_key=f"{key}:warning",
        run_after=warn_at,
    )
    enqueue(
        session=session,
        clock=clock,
        kind=effects.ARCHIVE,
        payload=payload,
        idempotency_key=key,
        run_after=due,
    )


def archive_payload(context: JobContext) -> tuple[int, datetime]:
    """``(incident_id, due)`` of an archive or archive-warning job."""
    try:
        return (
            int(context.job.payload["incident_id"]),
            datetime.fromisoformat(str(context.job.payload["due"])),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise PermanentJobError(f"bad {context.job.kind} payload: {error}") from error


def still_due(*, session: Session, incident_id: int, due: datetime) -> Incident | None:
    """The incident if its channel is still to be archived at ``due`` (resolved, not
    reopened or rescheduled since, not archived yet, with a channel), else None."""
    incident = session.get(Incident, incident_id)
    if incident is None or incident.status != IncidentStatus.resolved:
        return None
    if incident.archive_due_at != due or incident.archived_at is not None:
        return None
    return incident if incident.channel_id is not None else None


def warn_before_archive(context: JobContext) -> None:
    """Handler of ``incident.archive_warning``: a message in the channel saying when it will
    be archived (a view of its timeline event), once per scheduled moment."""
    incident_id, due = archive_payload(context)
    with context.database.transaction() as session:
        incident = still_due(session=session, incident_id=incident_id, due=due)
        if incident is None:
            return
        warned = timeline(session=session, incident_id=incident_id, kinds={"archive_warning"})
        if any(event.data.get("due") == due.isoformat() for event in warned):
            return
        event = append_event(
            session=session,
            incident=incident,
            at=context.clock.now(),
            actor=SYSTEM_ACTOR,
            kind="archive_warning",
            text="The channel will be archived soon.",
            data={"due": due.isoformat()},
        )
        assert event.id is not None and incident.channel_id is not None
        request_render(
            session=session,
            clock=context.clock,
            view_key=f"{effects.ARCHIVE_WARNING_PREFIX}{event.id}",
            channel=incident.channel_id,
        )


def record_archived(*, session: Session, clock: Clock, incident_id: int, due: datetime) -> bool:
    """Store that the channel was archived (guarded: once; False if it was already)."""
    now = clock.now()
    stored = session.exec(
        update(Incident)
        .where(
            col(Incident.id) == incident_id,
            col(Incident.archived_at).is_(None),
            col(Incident.archive_due_at) == due,
        )
        .values(archived_at=now, updated_at=now)
    )
    if stored.rowcount != 1:
        return False
    incident = require_incident(session=session, incident_id=incident_id)
    session.refresh(incident)
    event = append_event(
        session=session, incident=incident, at=now, actor=SYSTEM_ACTOR, kind="archived"
    )
    audit.record(
        session=session,
        clock=clock,
        actor=SYSTEM_ACTOR,
        action="incident.archived",
        target=f"incident:{incident_id}",
        params={"channel": incident.channel_id, "event_id": event.id},
    )
    return True


def reopen(
    *,
    session: Session,
    clock: Clock,
    config: ShipbotConfig,
    directory: Directory,
    actor: str,
    incident_id: int,
    reason: str,
    delivery_key: str = "",
    channel: str | None = None,
) -> Incident:
    """Reopen a resolved incident whose channel is not archived yet: back to
    investigating, the archive called off, reminders again. Who may: as a status update."""
    reason = " ".join(reason.split())
    if not reason:
        raise EmptyText("Reopening needs a reason.", field="reopen")
    if delivery_key:
        claim_delivery(session=session, clock=clock, key=delivery_key, source="slack")
    incident = require_incident(session=session, incident_id=incident_id)
    if incident.status != IncidentStatus.resolved:
        raise Conflict(f"incident #{incident_id} is not resolved")
    if incident.archived_at is not None:
        raise Conflict(
            f"the channel of incident #{incident_id} is archived",
            hint="Declare a new incident if the problem is back.",
        )
    check_change(
        config=config, directory=directory, incident=incident, actor=actor, change="reopen"
    )
    now = clock.now()
    reopened = session.exec(
        update(Incident)
        .where(col(Incident.id) == incident_id, col(Incident.status) == IncidentStatus.resolved)
        .values(
            status=IncidentStatus.investigating.value,
            resolved_at=None,
            archive_due_at=None,
            last_update_at=now,
            updated_at=now,
        )
    )
    if reopened.rowcount != 1:
        raise Conflict(f"incident #{incident_id} changed meanwhile", hint="Try again.")
    session.refresh(incident)
    _reopened(session, clock, config, incident, actor=actor, reason=reason, channel=channel)
    return incident


def _reopened(
    session: Session,
    clock: Clock,
    config: ShipbotConfig,
    incident: Incident,
    *,
    actor: str,
    reason: str,
    channel: str | None,
) -> None:
    event = append_event(
        session=session,
        incident=incident,
        at=clock.now(),
        actor=actor,
        kind="reopened",
        text=reason,
        data={"from": IncidentStatus.resolved.value, "to": incident.status},
    )
    effects.render_card(session=session, clock=clock, incident=incident)
    effects.announce(session=session, clock=clock, config=config, event=event)
    effects.set_topic(session=session, clock=clock, incident=incident, reason=f"e{event.id}")
    schedule_reminder(session=session, clock=clock, config=config, incident=incident)
    audit.record(
        session=session,
        clock=clock,
        actor=actor,
        action="incident.reopened",
        target=f"incident:{incident.id}",
        params={"text": reason, "event_id": event.id},
        channel=channel,
    )
