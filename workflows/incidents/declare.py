"""Declaring an incident (by a person or from an alert group) and its channel being ready.

Declaring writes the incident, its first timeline event and the audit entry in one
transaction, claims the Slack delivery in it, and enqueues the durable work: the channel
(``incident.create_channel``, which in turn calls ``channel_ready``), the announcement and
the first update reminder.
"""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from workflows import audit
from workflows.clock import Clock
from workflows.config.models import ShipbotConfig
from workflows.config.types import is_user_id
from workflows.delivery import claim_delivery
from workflows.deploys.directory import Directory, NoDirectory
from workflows.errors import NotFound, UserError
from workflows.home.refresh import homes_changed
from workflows.incidents import effects, watch
from workflows.incidents.errors import EmptyText
from workflows.incidents.models import Incident, IncidentStatus
from workflows.incidents.naming import parse_severity
from workflows.incidents.permissions import check_declare
from workflows.incidents.queries import append_event, require_incident, timeline
from workflows.incidents.reminders import SYSTEM_ACTOR, schedule_reminder
from workflows.incidents.visibility import add_members
from workflows.jobs import JobContext, PermanentJobError, enqueue
from workflows.oncall.responders import invite_oncall

MAX_TITLE = 150


def declare(
    *,
    session: Session,
    clock: Clock,
    config: ShipbotConfig,
    directory: Directory,
    actor: str,
    severity: str,
    title: str,
    service: str | None = None,
    delivery_key: str = "",
    channel: str | None = None,
    source_alert_group: str | None = None,
    private: bool = False,
) -> Incident:
    """Declare an incident; its channel, card and announcement follow as jobs.

    The declarer (a Slack user id) is the commander until someone else is assigned; an
    incident declared by shipbot (``actor="shipbot"``) starts without one. ``service`` must
    be configured, except for alert groups, whose labels may name anything. A person must
    be one of ``incidents.declarers``; an alert group declares as configured. A ``private``
    incident gets a private channel and is seen only by its members and the managers
    (``visibility``)."""
    if delivery_key:
        claim_delivery(session=session, clock=clock, key=delivery_key, source="slack")
    if source_alert_group is None:
        check_declare(config=config, directory=directory, actor=actor)
    severity_name, title = _checked_request(config, severity, title, service, source_alert_group)
    incident = _store_incident(
        session,
        clock,
        actor=actor,
        severity=severity_name,
        title=title,
        service=service,
        source_alert_group=source_alert_group,
        private=private,
    )
    _set_in_motion(session, clock, config, incident)
    # Last: on PostgreSQL the entry locks the chain's single head row until commit, so
    # every other write of this transaction happens before, not while others wait.
    audit.record(
        session=session,
        clock=clock,
        actor=actor,
        action="incident.declare",
        target=f"incident:{incident.id}",
        params={
            "severity": severity_name,
            "service": service,
            "title": title,
            "source_alert_group": source_alert_group,
            "private": private,
        },
        channel=channel,
    )
    return incident


def _checked_request(
    config: ShipbotConfig,
    severity: str,
    title: str,
    service: str | None,
    source_alert_group: str | None,
) -> tuple[str, str]:
    """The severity's name and the normalised title, or a ``UserError`` saying what is wrong."""
    severity_name = parse_severity(severity)
    title = " ".join(title.split())
    if not title:
        raise EmptyText("An incident needs a title.", field="title")
    if len(title) > MAX_TITLE:
        raise UserError(f"The title is {len(title)} characters long; keep it to {MAX_TITLE}.")
    if service is not None and service not in config.services and source_alert_group is None:
        known = ", ".join(sorted(config.services)) or "none configured"
        raise NotFound(f"unknown service {service!r}", hint=f"Known services: {known}.")
    return severity_name, title


def _store_incident(
    session: Session,
    clock: Clock,
    *,
    actor: str,
    severity: str,
    title: str,
    service: str | None,
    source_alert_group: str | None,
    private: bool,
) -> Incident:
    """The incident row, its declarer as its first member, and its first timeline event."""
    now = clock.now()
    incident = Incident(
        title=title,
        severity=severity,
        status=IncidentStatus.investigating,
        service=service,
        declared_by=actor,
        commander=actor if is_user_id(actor) else None,
        declared_at=now,
        last_update_at=now,
        updated_at=now,
        source_alert_group=source_alert_group,
        private=private,
    )
    session.add(incident)
    session.flush()
    assert incident.id is not None
    add_members(
        session=session, clock=clock, incident_id=incident.id, users=[actor], added_by=actor
    )
    append_event(
        session=session,
        incident=incident,
        at=now,
        actor=actor,
        kind="declared",
        text=title,
        data={"severity": severity, "service": service, "private": private},
    )
    return incident


def _set_in_motion(
    session: Session, clock: Clock, config: ShipbotConfig, incident: Incident
) -> None:
    """The durable work a declaration starts: the channel, the announcement (a public
    incident's only), the deploys of its service it follows, the first update reminder."""
    assert incident.id is not None
    enqueue(
        session=session,
        clock=clock,
        kind=effects.CREATE_CHANNEL,
        payload={"incident_id": incident.id},
        idempotency_key=f"incident:{incident.id}:create_channel",
    )
    for event in timeline(session=session, incident_id=incident.id, kinds={"declared"}):
        effects.announce(session=session, clock=clock, config=config, event=event)
    watch.incident_declared(session=session, clock=clock, config=config, incident=incident)
    schedule_reminder(session=session, clock=clock, config=config, incident=incident)
    homes_changed(session=session, clock=clock)


def record_channel_name(*, session: Session, incident_id: int, name: str) -> bool:
    """Remember the name about to be asked of Slack, before asking (see the channel job).
    False if the channel was stored meanwhile."""
    result = session.exec(
        update(Incident)
        .where(col(Incident.id) == incident_id, col(Incident.channel_id).is_(None))
        .values(channel_name=name)
    )
    return bool(result.rowcount == 1)


def channel_owner(*, session: Session, channel_id: str) -> int | None:
    """The incident that owns the Slack channel ``channel_id``, if any."""
    query = select(Incident.id).where(col(Incident.channel_id) == channel_id)
    return session.exec(query).first()


def channel_ready(
    *,
    session: Session,
    clock: Clock,
    config: ShipbotConfig,
    incident_id: int,
    channel_id: str,
    channel_name: str,
) -> bool:
    """Store the new channel and enqueue everything that needs it: invitations, topic,
    the card (a view) and its pin, and the announcement again (now with the link).

    Guarded by ``channel_id IS NULL``: False, changing nothing, if a channel was stored
    already (a second run of the channel job)."""
    now = clock.now()
    stored = session.exec(
        update(Incident)
        .where(col(Incident.id) == incident_id, col(Incident.channel_id).is_(None))
        .values(channel_id=channel_id, channel_name=channel_name, updated_at=now)
    )
    if stored.rowcount != 1:
        return False
    incident = require_incident(session=session, incident_id=incident_id)
    session.refresh(incident)
    effects.invite(session=session, clock=clock, incident=incident, reason="setup")
    effects.set_topic(session=session, clock=clock, incident=incident, reason="setup")
    effects.render_card(session=session, clock=clock, incident=incident)
    invite_oncall(session=session, clock=clock, config=config, incident=incident)
    enqueue(
        session=session,
        clock=clock,
        kind=effects.PIN_CARD,
        payload={"incident_id": incident_id},
        idempotency_key=f"incident:{incident_id}:pin_card",
    )
    watch.channel_ready(session=session, clock=clock, incident=incident)
    for event in timeline(session=session, incident_id=incident_id, kinds={"declared"}):
        effects.announce(session=session, clock=clock, config=config, event=event)
    homes_changed(session=session, clock=clock)
    return True


def _by_alert_group(session: Session, group_key: str) -> Incident | None:
    query = select(Incident).where(col(Incident.source_alert_group) == group_key)
    return session.exec(query).first()


def declare_from_alert(context: JobContext, *, config: ShipbotConfig) -> None:
    """Handler of ``incident.declare_from_alert``: payload ``{"group_key", "severity",
    "title", "service"}``. Declares once per alert group (the unique
    ``source_alert_group``); a later job for the same group does nothing."""
    payload = context.job.payload
    group_key = payload.get("group_key")
    if not isinstance(group_key, str) or not group_key:
        raise PermanentJobError("incident.declare_from_alert needs a group_key")
    service = payload.get("service")
    title = str(payload.get("title") or f"Alert {group_key}")[:MAX_TITLE]
    try:
        with context.database.transaction() as session:
            if _by_alert_group(session, group_key) is not None:
                return
            declare(
                session=session,
                clock=context.clock,
                config=config,
                # Declaring for an alert group is not a person's request: no one to look up.
                directory=NoDirectory(),
                actor=SYSTEM_ACTOR,
                severity=str(payload.get("severity", "")),
                title=title,
                service=str(service) if service else None,
                source_alert_group=group_key,
            )
    except UserError as error:
        raise PermanentJobError(f"cannot declare from alert {group_key}: {error}") from error
    except IntegrityError:
        # Another worker declared for this group at the same moment; its incident stands.
        with context.database.read_session() as session:
            if _by_alert_group(session, group_key) is None:
                raise
