"""Reads of the incident flow, and the one write other flows use: ``add_timeline_event``.

Other flows call these: deploy policy (``blocking_incident``), alert intake
(``open_incident_for_service``, ``add_timeline_event`` with kind ``"alert"``), reports.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from workflows.boundary import fits_id
from workflows.clock import Clock
from workflows.config.models import ShipbotConfig
from workflows.deploys.models import Deploy
from workflows.errors import NotFound
from workflows.incidents import effects
from workflows.incidents.models import Incident, IncidentEvent, IncidentStatus

# How far before the declaration the card and the postmortem look for deploys.
DEPLOY_LOOKBACK = timedelta(hours=6)
_OPEN = col(Incident.status) != IncidentStatus.resolved


def get_incident(*, session: Session, incident_id: int) -> Incident | None:
    # An id outside the column's range names nothing (and would overflow the driver).
    return session.get(Incident, incident_id) if fits_id(incident_id) else None


def require_incident(*, session: Session, incident_id: int) -> Incident:
    """The incident, or ``NotFound`` (``commands/`` adds how to find one)."""
    incident = get_incident(session=session, incident_id=incident_id)
    if incident is None:
        raise NotFound(f"there is no incident #{incident_id}")
    return incident


def incident_for_channel(*, session: Session, channel_id: str) -> Incident | None:
    """The incident whose channel this is (open or resolved)."""
    query = select(Incident).where(col(Incident.channel_id) == channel_id)
    return session.exec(query.order_by(col(Incident.id).desc())).first()


def open_incidents(*, session: Session, limit: int = 50) -> list[Incident]:
    """Unresolved incidents, most severe first, then newest first."""
    query = select(Incident).where(_OPEN)
    query = query.order_by(col(Incident.severity), col(Incident.declared_at).desc())
    return list(session.exec(query.limit(limit)))


def open_incident_for_service(*, session: Session, service: str) -> Incident | None:
    """The newest unresolved incident whose affected service is ``service``."""
    query = select(Incident).where(_OPEN, col(Incident.service) == service)
    query = query.order_by(col(Incident.declared_at).desc(), col(Incident.id).desc())
    return session.exec(query).first()


def blocking_incident(*, session: Session, config: ShipbotConfig, service: str) -> Incident | None:
    """An unresolved incident of ``service`` whose severity is one of
    ``incidents.block_deploys_severities`` (the most severe, then the newest), or None.

    Only incidents that name ``service`` block it; one declared without a service blocks
    nothing, since no deploy can be tied to it."""
    severities = list(config.incidents.block_deploys_severities)
    if not severities:
        return None
    query = select(Incident).where(
        _OPEN, col(Incident.service) == service, col(Incident.severity).in_(severities)
    )
    query = query.order_by(col(Incident.severity), col(Incident.declared_at).desc())
    return session.exec(query).first()


def timeline(
    *, session: Session, incident_id: int, kinds: set[str] | None = None
) -> list[IncidentEvent]:
    """The incident's events, oldest first (optionally only of ``kinds``)."""
    query = select(IncidentEvent).where(col(IncidentEvent.incident_id) == incident_id)
    if kinds is not None:
        query = query.where(col(IncidentEvent.kind).in_(sorted(kinds)))
    return list(session.exec(query.order_by(col(IncidentEvent.at), col(IncidentEvent.id))))


def get_event(*, session: Session, event_id: int) -> IncidentEvent | None:
    return session.get(IncidentEvent, event_id) if fits_id(event_id) else None


def deploys_before(
    *, session: Session, incident: Incident, lookback: timedelta = DEPLOY_LOOKBACK, limit: int = 10
) -> list[Deploy]:
    """Deploys of the affected service that ran (were started) and were requested in
    ``lookback`` before the declaration, newest first (none when the incident names no
    service). Requests that never ran (rejected, expired, waiting) changed nothing."""
    if incident.service is None:
        return []
    since = incident.declared_at - lookback
    query = select(Deploy).where(
        col(Deploy.service) == incident.service,
        col(Deploy.requested_at) >= since,
        col(Deploy.requested_at) <= incident.declared_at,
        col(Deploy.started_at).is_not(None),
    )
    query = query.order_by(col(Deploy.requested_at).desc(), col(Deploy.id).desc())
    return list(session.exec(query.limit(limit)))


def append_event(
    *,
    session: Session,
    incident: Incident,
    at: datetime,
    actor: str,
    kind: str,
    text: str = "",
    data: dict[str, Any] | None = None,
) -> IncidentEvent:
    """Add one timeline line (flushed, so it has an id). No render, no audit."""
    assert incident.id is not None
    event = IncidentEvent(
        incident_id=incident.id, at=at, actor=actor, kind=kind, text=text, data=dict(data or {})
    )
    session.add(event)
    session.flush()
    return event


def add_timeline_event(
    *,
    session: Session,
    clock: Clock,
    incident_id: int,
    actor: str,
    kind: str,
    text: str,
    data: dict[str, Any] | None = None,
) -> IncidentEvent:
    """Append an event to an incident's timeline and refresh its card (same transaction).

    For other flows: the alerts flow adds ``kind="alert"`` events (with the alert's labels
    or group key in ``data``), which the postmortem lists under "Alerts". The caller audits
    its own action. Raises ``NotFound`` for an unknown incident."""
    incident = require_incident(session=session, incident_id=incident_id)
    now = clock.now()
    event = append_event(
        session=session, incident=incident, at=now, actor=actor, kind=kind, text=text, data=data
    )
    incident.updated_at = now
    session.add(incident)
    effects.render_card(session=session, clock=clock, incident=incident)
    return event
