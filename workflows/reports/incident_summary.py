"""The weekly incident summary: how many, how bad, how fast acknowledged and resolved.

Counting rules (docs/reports.md): the incidents *declared* in the window, by severity;
time to acknowledge over those of them acknowledged before the report ran, time to
resolve over those resolved before it ran (median and mean of each). shipbot has no
separate follow-up items, so "open follow-ups" are the incidents still open when the report
ran (declared before it and not resolved by then), whenever they were declared.
"""

from __future__ import annotations

from typing import Any, TypedDict

from sqlalchemy import and_, func, literal, or_, select
from sqlmodel import Session, col

from workflows.config import SEVERITIES
from workflows.incidents.models import Incident
from workflows.reports.periods import Window
from workflows.reports.sql import as_float, dialect_of, median, seconds_between
from workflows.store.types import UTCDateTime

MAX_OPEN = 10


class Timing(TypedDict):
    count: int
    median_seconds: float | None
    mean_seconds: float | None


class OpenIncident(TypedDict):
    id: int
    title: str
    severity: str
    status: str
    service: str | None
    commander: str | None
    channel_id: str | None
    age_seconds: float


class IncidentSummary(TypedDict):
    window: dict[str, str]
    declared: int
    by_severity: dict[str, int]
    acknowledge: Timing
    resolve: Timing
    open_count: int
    open_incidents: list[OpenIncident]
    # Private incidents are counted everywhere but never listed (workflows.incidents.visibility).
    private_open: int


def _timing(session: Session, value: Any, where: list[Any]) -> Timing:
    count, mean = session.execute(select(func.count(), func.avg(value)).where(*where)).one()
    middle = median(session, value, where=where)
    return Timing(
        count=int(count),
        median_seconds=None if middle is None else round(middle, 3),
        mean_seconds=None if mean is None else round(float(mean), 3),
    )


def _by_severity(session: Session, declared: Any) -> dict[str, int]:
    """Incidents declared, per severity: every configured one, then any other seen."""
    severity = col(Incident.severity)
    counts = dict(
        session.execute(select(severity, func.count()).where(declared).group_by(severity)).all()
    )
    by_severity: dict[str, int] = {name: int(counts.pop(name, 0)) for name in SEVERITIES}
    by_severity.update({str(name): int(count) for name, count in counts.items()})
    return by_severity


def _open_incidents(session: Session, window: Window, still_open: Any) -> list[OpenIncident]:
    """The oldest public incidents still open at the end of ``window``, with their age then
    (private ones are only counted: workflows.incidents.visibility)."""
    declared_at = col(Incident.declared_at)
    age = seconds_between(dialect_of(session), literal(window.end, UTCDateTime()), declared_at)
    rows = session.execute(
        select(
            col(Incident.id),
            col(Incident.title),
            col(Incident.severity),
            col(Incident.status),
            col(Incident.service),
            col(Incident.commander),
            col(Incident.channel_id),
            age.label("age"),
        )
        .where(still_open, ~col(Incident.private))
        .order_by(declared_at, col(Incident.id))
        .limit(MAX_OPEN)
    ).all()
    return [
        OpenIncident(
            id=int(row.id),
            title=row.title,
            severity=row.severity,
            status=row.status,
            service=row.service,
            commander=row.commander,
            channel_id=row.channel_id,
            age_seconds=round(as_float(row.age) or 0.0, 3),
        )
        for row in rows
    ]


def compute(*, session: Session, window: Window) -> IncidentSummary:
    """The summary of the incidents declared in ``window`` and of those open at its end."""
    dialect = dialect_of(session)
    declared_at = col(Incident.declared_at)
    declared = and_(declared_at >= window.start, declared_at < window.end)
    by_severity = _by_severity(session, declared)
    acknowledged_at, resolved_at = col(Incident.acknowledged_at), col(Incident.resolved_at)
    acknowledge = _timing(
        session,
        seconds_between(dialect, acknowledged_at, declared_at),
        [declared, acknowledged_at.is_not(None), acknowledged_at < window.end],
    )
    resolve = _timing(
        session,
        seconds_between(dialect, resolved_at, declared_at),
        [declared, resolved_at.is_not(None), resolved_at < window.end],
    )
    still_open = and_(
        declared_at < window.end, or_(resolved_at.is_(None), resolved_at >= window.end)
    )
    open_count = session.execute(select(func.count()).where(still_open)).scalar_one()
    private = col(Incident.private)
    private_open = session.execute(select(func.count()).where(still_open, private)).scalar_one()
    return IncidentSummary(
        window=window.as_json(),
        declared=sum(by_severity.values()),
        by_severity=by_severity,
        acknowledge=acknowledge,
        resolve=resolve,
        open_count=int(open_count),
        open_incidents=_open_incidents(session, window, still_open),
        private_open=int(private_open),
    )
