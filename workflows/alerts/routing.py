"""Where an alert group's message goes, and whether its alerts declare an incident.

Routing order (the first that applies wins):

1. the channel of the newest open incident of the group's service (status not
   resolved, channel created), so responders see new alerts where they work;
2. the first ``alerts.routes`` entry whose ``match`` labels all equal the alert's;
3. the service's ``alerts_channel``;
4. ``alerts.default_channel``.

With none of these the group is stored and counted but not posted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlmodel import Session, col, select

from workflows.alerts.model import UNKNOWN_SERVICE
from workflows.config import AutoDeclare, ShipbotConfig
from workflows.incidents.models import Incident, IncidentStatus


@dataclass(frozen=True)
class Route:
    channel: str | None
    incident_id: int | None = None
    reason: str = "none"  # incident, route, service, default, none


def labels_match(match: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    return all(labels.get(name) == value for name, value in match.items())


def open_incident_channel(*, session: Session, service: str) -> tuple[int, str] | None:
    """``(incident id, channel id)`` of the newest open incident of ``service`` that has
    a channel, or None."""
    if service == UNKNOWN_SERVICE:
        return None
    query = (
        select(col(Incident.id), col(Incident.channel_id))
        .where(
            col(Incident.service) == service,
            col(Incident.status) != IncidentStatus.resolved.value,
            col(Incident.channel_id).is_not(None),
        )
        .order_by(col(Incident.declared_at).desc(), col(Incident.id).desc())
        .limit(1)
    )
    row = session.exec(query).first()
    if row is None or row[0] is None or row[1] is None:
        return None
    return int(row[0]), str(row[1])


def route_group(
    *, session: Session, config: ShipbotConfig, service: str, labels: Mapping[str, str]
) -> Route:
    """The channel of a new group of ``service`` whose first alert has ``labels``."""
    incident = open_incident_channel(session=session, service=service)
    if incident is not None:
        return Route(channel=incident[1], incident_id=incident[0], reason="incident")
    for route in config.alerts.routes:
        if labels_match(route.match, labels):
            channel = config.find_channel_id(route.channel)
            if channel is not None:
                return Route(channel=channel, reason="route")
    known = config.services.get(service)
    if known is not None and known.alerts_channel:
        channel = config.find_channel_id(known.alerts_channel)
        if channel is not None:
            return Route(channel=channel, reason="service")
    default = config.alerts.default_channel
    channel = config.find_channel_id(default) if default else None
    return Route(channel=channel, reason="default" if channel else "none")


def auto_declare_for(config: ShipbotConfig, labels: Mapping[str, str]) -> AutoDeclare | None:
    """The first ``alerts.auto_declare`` entry whose labels all equal ``labels``'."""
    for entry in config.alerts.auto_declare:
        if labels_match(entry.match, labels):
            return entry
    return None
