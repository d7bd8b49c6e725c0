"""Changes to a running incident: status, severity, roles, notes, resolving.

Each change is one transaction: the guarded update, a timeline event, an audit entry, the
card's re-render and whatever else it implies (announcement, topic, reminder, postmortem).
A change that clashes with the stored state (resolved meanwhile) is a ``Conflict``.
"""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy import update
from sqlmodel import Session, col

from workflows import audit
from workflows.clock import Clock
from workflows.config.models import ShipbotConfig
from workflows.config.types import is_user_id
from workflows.delivery import claim_delivery
from workflows.deploys.directory import Directory
from workflows.errors import Conflict, UserError
from workflows.home.refresh import homes_changed
from workflows.incidents import effects
from workflows.incidents.aftercare import schedule_archive
from workflows.incidents.errors import AlreadyInRole, EmptyText, TextField
from workflows.incidents.models import Incident, IncidentEvent, IncidentStatus
from workflows.incidents.naming import parse_severity
from workflows.incidents.permissions import Change, check_change
from workflows.incidents.queries import append_event, require_incident
from workflows.incidents.reminders import schedule_reminder
from workflows.incidents.visibility import add_members
from workflows.jobs import enqueue

Role = Literal["commander", "comms", "scribe"]
ROLES: tuple[Role, ...] = ("commander", "comms", "scribe")
MAX_TEXT = 3000


def _text(text: str, *, what: str, field: TextField) -> str:
    text = text.strip()
    if not text:
        raise EmptyText(f"{what} needs a message.", field=field)
    if len(text) > MAX_TEXT:
        raise UserError(f"{what} is {len(text)} characters long; keep it to {MAX_TEXT}.")
    return text


def _open(session: Session, incident_id: int) -> Incident:
    incident = require_incident(session=session, incident_id=incident_id)
    if incident.status == IncidentStatus.resolved:
        raise Conflict(
            f"incident #{incident_id} is resolved",
            hint="Declare a new incident if the problem is back.",
        )
    return incident


def _guarded(session: Session, incident: Incident, **values: Any) -> None:
    """``UPDATE ... WHERE status = <the status read>`` (rule 2): a concurrent resolve or
    status change wins and this one is refused instead of overwriting it."""
    result = session.exec(
        update(Incident)
        .where(col(Incident.id) == incident.id, col(Incident.status) == incident.status)
        .values(**values)
    )
    if result.rowcount != 1:
        raise Conflict(f"incident #{incident.id} changed meanwhile", hint="Try again.")
    session.refresh(incident)


def _begin(session: Session, clock: Clock, delivery_key: str, incident_id: int) -> Incident:
    if delivery_key:
        claim_delivery(session=session, clock=clock, key=delivery_key, source="slack")
    return _open(session, incident_id)


def _permitted(
    session: Session,
    clock: Clock,
    asked: tuple[ShipbotConfig, Directory, str, str],
    incident_id: int,
    change: Change,
    new_severity: str | None = None,
) -> Incident:
    """Claim the delivery, read the open incident and check ``actor`` may change it. A
    refusal rolls all of it back; the caller audits it (``workflows.permissions``).
    ``asked`` is who asked and how: ``(config, directory, actor, delivery_key)``."""
    config, directory, actor, delivery_key = asked
    incident = _begin(session, clock, delivery_key, incident_id)
    check_change(
        config=config,
        directory=directory,
        incident=incident,
        actor=actor,
        change=change,
        new_severity=new_severity,
    )
    return incident


def _record(
    session: Session,
    clock: Clock,
    incident: Incident,
    *,
    actor: str,
    kind: str,
    text: str,
    data: dict[str, Any],
    channel: str | None,
) -> IncidentEvent:
    event = append_event(
        session=session,
        incident=incident,
        at=clock.now(),
        actor=actor,
        kind=kind,
        text=text,
        data=data,
    )
    audit.record(
        session=session,
        clock=clock,
        actor=actor,
        action=f"incident.{kind}",
        target=f"incident:{incident.id}",
        params={**data, "text": text, "event_id": event.id},
        channel=channel,
    )
    effects.render_card(session=session, clock=clock, incident=incident)
    if kind != "note":  # status, severity, roles and resolving show on every Home
        homes_changed(session=session, clock=clock)
    return event


def _parse_status(status: str) -> IncidentStatus:
    try:
        return IncidentStatus(status.strip().lower())
    except ValueError:
        raise UserError(
            f"{status!r} is not a status.",
            hint=f"Use one of {', '.join(s.value for s in IncidentStatus)}.",
        ) from None


def update_status(
    *,
    session: Session,
    clock: Clock,
    config: ShipbotConfig,
    directory: Directory,
    actor: str,
    incident_id: int,
    status: str,
    message: str,
    delivery_key: str = "",
    channel: str | None = None,
) -> Incident:
    """Post a status update. The first one acknowledges the incident; ``resolved`` resolves
    it (the message is the summary). A changed status is announced."""
    new_status = _parse_status(status)
    if new_status == IncidentStatus.resolved:
        return resolve(
            session=session,
            clock=clock,
            config=config,
            directory=directory,
            actor=actor,
            incident_id=incident_id,
            summary=message,
            delivery_key=delivery_key,
            channel=channel,
        )
    text = _text(message, what="A status update", field="status")
    incident = _permitted(
        session, clock, (config, directory, actor, delivery_key), incident_id, "status"
    )
    previous = incident.status
    now = clock.now()
    _guarded(
        session,
        incident,
        status=new_status.value,
        acknowledged_at=incident.acknowledged_at or now,
        last_update_at=now,
        updated_at=now,
    )
    event = _record(
        session,
        clock,
        incident,
        actor=actor,
        kind="status",
        text=text,
        data={"from": previous, "to": new_status.value},
        channel=channel,
    )
    if previous != new_status:
        effects.announce(session=session, clock=clock, config=config, event=event)
    schedule_reminder(session=session, clock=clock, config=config, incident=incident)
    return incident


def change_severity(
    *,
    session: Session,
    clock: Clock,
    config: ShipbotConfig,
    directory: Directory,
    actor: str,
    incident_id: int,
    severity: str,
    delivery_key: str = "",
    channel: str | None = None,
) -> Incident:
    """Raise or lower the severity; announced, and the reminder follows the new cadence."""
    new = parse_severity(severity)
    incident = _permitted(
        session,
        clock,
        (config, directory, actor, delivery_key),
        incident_id,
        "severity",
        new_severity=new,
    )
    previous = incident.severity
    if previous == new:
        raise UserError(f"incident #{incident_id} is {new} already")
    _guarded(session, incident, severity=new, updated_at=clock.now())
    event = _record(
        session,
        clock,
        incident,
        actor=actor,
        kind="severity",
        text=f"{previous} → {new}",
        data={"from": previous, "to": new},
        channel=channel,
    )
    effects.announce(session=session, clock=clock, config=config, event=event)
    effects.set_topic(session=session, clock=clock, incident=incident, reason=f"e{event.id}")
    effects.invite(session=session, clock=clock, incident=incident, reason=f"e{event.id}")
    schedule_reminder(session=session, clock=clock, config=config, incident=incident)
    return incident


def assign_role(
    *,
    session: Session,
    clock: Clock,
    config: ShipbotConfig,
    directory: Directory,
    actor: str,
    incident_id: int,
    role: str,
    user: str,
    delivery_key: str = "",
    channel: str | None = None,
) -> Incident:
    """Make ``user`` the commander, comms lead or scribe (and invite them)."""
    if role not in ROLES:
        raise UserError(f"{role!r} is not a role.", hint=f"Use one of {', '.join(ROLES)}.")
    if not is_user_id(user):
        raise UserError("Pick a person (a Slack user) for the role.")
    incident = _permitted(
        session, clock, (config, directory, actor, delivery_key), incident_id, "assign"
    )
    previous = getattr(incident, role)
    if previous == user:
        raise AlreadyInRole(user=user, role=role)
    _guarded(session, incident, **{role: user, "updated_at": clock.now()})
    add_members(session=session, clock=clock, incident_id=incident_id, users=[user], added_by=actor)
    event = _record(
        session,
        clock,
        incident,
        actor=actor,
        kind="assign",
        text=f"{role}: {user}",
        data={"role": role, "user": user, "previous": previous},
        channel=channel,
    )
    effects.invite(session=session, clock=clock, incident=incident, reason=f"e{event.id}")
    if role == "commander":
        effects.set_topic(session=session, clock=clock, incident=incident, reason=f"e{event.id}")
    return incident


def add_note(
    *,
    session: Session,
    clock: Clock,
    actor: str,
    incident_id: int,
    text: str,
    delivery_key: str = "",
    channel: str | None = None,
) -> IncidentEvent:
    """A line for the timeline (allowed after resolving too, for the postmortem)."""
    text = _text(text, what="A note", field="note")
    if delivery_key:
        claim_delivery(session=session, clock=clock, key=delivery_key, source="slack")
    incident = require_incident(session=session, incident_id=incident_id)
    incident.updated_at = clock.now()
    session.add(incident)
    return _record(
        session, clock, incident, actor=actor, kind="note", text=text, data={}, channel=channel
    )


def resolve(
    *,
    session: Session,
    clock: Clock,
    config: ShipbotConfig,
    directory: Directory,
    actor: str,
    incident_id: int,
    summary: str,
    delivery_key: str = "",
    channel: str | None = None,
) -> Incident:
    """Close the incident: announced, the card shows it resolved without buttons, the
    topic says so, reminders stop, and a postmortem draft is uploaded to the channel."""
    summary = _text(summary, what="Resolving", field="summary")
    incident = _permitted(
        session, clock, (config, directory, actor, delivery_key), incident_id, "resolved"
    )
    previous = incident.status
    now = clock.now()
    _guarded(
        session,
        incident,
        status=IncidentStatus.resolved.value,
        resolved_at=now,
        summary=summary,
        acknowledged_at=incident.acknowledged_at or now,
        last_update_at=now,
        reminder_due_at=None,
        updated_at=now,
    )
    event = _record(
        session,
        clock,
        incident,
        actor=actor,
        kind="resolved",
        text=summary,
        data={"from": previous, "to": IncidentStatus.resolved.value},
        channel=channel,
    )
    effects.announce(session=session, clock=clock, config=config, event=event)
    effects.set_topic(session=session, clock=clock, incident=incident, reason="resolved")
    enqueue(
        session=session,
        clock=clock,
        kind=effects.POSTMORTEM,
        payload={"incident_id": incident_id},
        idempotency_key=f"incident:{incident_id}:postmortem",
    )
    schedule_archive(session=session, clock=clock, config=config, incident=incident)
    return incident
