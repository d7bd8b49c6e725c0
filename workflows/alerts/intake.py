"""Storing a request's alerts: dedup, grouping, counts, renders, incident timeline,
auto-declare and the audit entry, all in the caller's one transaction.

Built for storms: the alerts of a request go in with one bulk INSERT
(``workflows.alerts.insert``: what comes back is what is new, so a redelivery, even one
racing on another replica, counts nothing twice); everything after that is per *group*, not per
alert: the groups are found with a fixed number of queries (``workflows.alerts.grouping``),
their counts move with ``firing = firing + :n`` (one executemany), and each touched group
gets one render request; one audit entry records the request. Rows and groups are touched
in a fixed order (dedup key, base key, group id) so concurrent requests on PostgreSQL
cannot deadlock each other.

A resolution or acknowledgement whose alert is already in a group joins that group,
however old, so "resolved" shows on the message that said "firing"; anything else joins
the open group of its service and alert name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import Integer, bindparam, update
from sqlmodel import Session, col, select

from workflows import audit
from workflows.alerts.grouping import current_groups, known_groups
from workflows.alerts.groups import group_view_key
from workflows.alerts.insert import assign_groups, insert_new
from workflows.alerts.model import NormalizedAlert, clip
from workflows.alerts.models import AlertGroup
from workflows.alerts.routing import auto_declare_for
from workflows.clock import Clock
from workflows.config import ShipbotConfig
from workflows.incidents.models import Incident, IncidentEvent, IncidentStatus
from workflows.jobs import enqueue
from workflows.store.tables import table_of
from workflows.store.types import UTCDateTime
from workflows.views import RenderTarget, request_renders

DECLARE_JOB_KIND = "incident.declare_from_alert"
AUDIT_ACTION = "alerts.received"
_GROUPS = table_of(AlertGroup)


@dataclass(frozen=True)
class IntakeResult:
    """What one request did. ``new`` alerts were stored; the rest were redeliveries."""

    received: int
    new: int = 0
    firing: int = 0
    resolved: int = 0
    acknowledged: int = 0
    group_ids: tuple[int, ...] = ()
    declared_groups: tuple[str, ...] = ()  # group keys a declare job was enqueued for

    @property
    def duplicates(self) -> int:
        return self.received - self.new

    def counts(self) -> dict[str, int]:
        return {
            "received": self.received,
            "new": self.new,
            "duplicates": self.duplicates,
            "firing": self.firing,
            "resolved": self.resolved,
            "acknowledged": self.acknowledged,
            "groups": len(self.group_ids),
        }


@dataclass
class _Tally:
    """A group's share of one request."""

    group: AlertGroup
    alert_ids: list[int] = field(default_factory=list)
    counts: dict[str, int] = field(
        default_factory=lambda: {"firing": 0, "resolved": 0, "acknowledged": 0}
    )
    last_status: str = "firing"
    firing_alerts: list[NormalizedAlert] = field(default_factory=list)


def _tally(
    session: Session,
    clock: Clock,
    config: ShipbotConfig,
    source: str,
    alerts: Sequence[NormalizedAlert],
    ids: dict[str, int],
) -> list[_Tally]:
    known = known_groups(session=session, source=source, alerts=alerts)
    firsts: dict[str, NormalizedAlert] = {}
    for alert in alerts:
        if alert.status == "firing" or alert.alert_ref not in known:
            firsts.setdefault(alert.base_key, alert)
    current = current_groups(session=session, clock=clock, config=config, firsts=firsts)
    tallies: dict[int, _Tally] = {}
    for alert in alerts:  # request order, so the last status is the latest news
        group = known.get(alert.alert_ref) if alert.status != "firing" else None
        group = group or current[alert.base_key]
        assert group.id is not None
        tally = tallies.setdefault(group.id, _Tally(group=group))
        tally.alert_ids.append(ids[alert.dedup_key])
        tally.counts[alert.status] += 1
        tally.last_status = alert.status
        if alert.status == "firing":
            tally.firing_alerts.append(alert)
    return [tallies[group_id] for group_id in sorted(tallies)]


_ADD_COUNTS = (
    update(_GROUPS)
    .where(_GROUPS.c.id == bindparam("g_id"))
    .values(
        firing=_GROUPS.c.firing + bindparam("g_firing", type_=Integer),
        resolved=_GROUPS.c.resolved + bindparam("g_resolved", type_=Integer),
        acknowledged=_GROUPS.c.acknowledged + bindparam("g_acknowledged", type_=Integer),
        last_status=bindparam("g_last"),
        last_alert_at=bindparam("g_now", type_=UTCDateTime()),
        updated_at=bindparam("g_now", type_=UTCDateTime()),
    )
)


def _apply(session: Session, clock: Clock, tallies: Sequence[_Tally]) -> None:
    """Attach the alerts to their groups (``assign_groups``: one statement, not one per
    alert) and add them to the groups' counts in SQL (``firing = firing + :n``, one
    executemany)."""
    assign_groups(session, {t.group.id: t.alert_ids for t in tallies if t.group.id is not None})
    now = clock.now()
    session.execute(
        _ADD_COUNTS,
        [
            {
                "g_id": tally.group.id,
                "g_firing": tally.counts["firing"],
                "g_resolved": tally.counts["resolved"],
                "g_acknowledged": tally.counts["acknowledged"],
                "g_last": tally.last_status,
                "g_now": now,
            }
            for tally in tallies
        ],
    )


def _timeline_text(tally: _Tally) -> str:
    group = tally.group
    counts = ", ".join(f"{n} {status}" for status, n in tally.counts.items() if n)
    text = f"Alert {group.alertname} ({group.service}): {counts}"
    return clip(f"{text}: {group.summary}" if group.summary else text, 500)


def _record_in_incidents(
    session: Session, clock: Clock, source: str, tallies: Sequence[_Tally]
) -> None:
    """A timeline line per group that lands in a still-open incident's channel."""
    incident_ids = sorted({t.group.incident_id for t in tallies if t.group.incident_id})
    if not incident_ids:
        return
    open_ids = set(
        session.exec(
            select(col(Incident.id)).where(
                col(Incident.id).in_(incident_ids),
                col(Incident.status) != IncidentStatus.resolved.value,
            )
        )
    )
    for tally in tallies:
        group = tally.group
        if group.incident_id is None or group.incident_id not in open_ids:
            continue
        session.add(
            IncidentEvent(
                incident_id=group.incident_id,
                at=clock.now(),
                actor=f"hook:{source}",
                kind="alert",
                text=_timeline_text(tally),
                data={"group_id": group.id, "group_key": group.group_key, **tally.counts},
            )
        )


def _auto_declare(
    session: Session, clock: Clock, config: ShipbotConfig, tallies: Sequence[_Tally]
) -> list[str]:
    """Enqueue ``incident.declare_from_alert`` once per group whose firing alerts match an
    ``alerts.auto_declare`` entry (not for groups already in an incident's channel)."""
    declared: list[str] = []
    if not config.alerts.auto_declare:
        return declared
    for tally in tallies:
        group = tally.group
        if group.incident_id is not None:
            continue
        for alert in tally.firing_alerts:
            entry = auto_declare_for(config, alert.match_labels())
            if entry is None:
                continue
            title = f"{alert.alertname}: {alert.summary}" if alert.summary else alert.alertname
            enqueue(
                session=session,
                clock=clock,
                kind=DECLARE_JOB_KIND,
                payload={
                    "group_key": group.group_key,
                    "severity": entry.severity,
                    "title": clip(title, 200),
                    "service": None if alert.service == "unknown" else alert.service,
                },
                idempotency_key=f"declare-from-alert:{group.group_key}",
            )
            declared.append(group.group_key)
            break
    return declared


def ingest(
    *,
    session: Session,
    clock: Clock,
    config: ShipbotConfig,
    source: str,
    alerts: Sequence[NormalizedAlert],
) -> IntakeResult:
    """Store one request's alerts and everything they imply; does not commit.

    Redeliveries (known dedup keys) are skipped; a request with nothing new changes
    nothing at all (no audit entry either). Otherwise: the alerts are grouped and counted,
    each touched group's message is re-rendered, groups in an open incident's channel add
    a line to its timeline, matching groups enqueue an auto-declare, and one audit entry
    (actor ``hook:<source>``, the counts as params) records the request.
    """
    first_seen: dict[str, NormalizedAlert] = {}
    for alert in alerts:  # a key twice in one request counts once
        first_seen.setdefault(alert.dedup_key, alert)
    unique = list(first_seen.values())
    received = len(alerts)
    if not unique:
        return IntakeResult(received=received)
    ids = insert_new(session, clock.now(), unique)
    fresh = [alert for alert in unique if alert.dedup_key in ids]
    if not fresh:
        return IntakeResult(received=received)
    tallies = _tally(session, clock, config, source, fresh, ids)
    _apply(session, clock, tallies)
    # Every touched group's message in one upsert and one job insert: the group rows
    # stay locked until commit, so each statement here holds up the next request.
    targets = [
        RenderTarget(view_key=group_view_key(tally.group.id), channel=tally.group.channel)
        for tally in tallies
        if tally.group.channel is not None and tally.group.id is not None
    ]
    request_renders(session=session, clock=clock, targets=targets)
    _record_in_incidents(session, clock, source, tallies)
    declared = _auto_declare(session, clock, config, tallies)
    result = IntakeResult(
        received=received,
        new=len(fresh),
        firing=sum(1 for alert in fresh if alert.status == "firing"),
        resolved=sum(1 for alert in fresh if alert.status == "resolved"),
        acknowledged=sum(1 for alert in fresh if alert.status == "acknowledged"),
        group_ids=tuple(int(t.group.id) for t in tallies if t.group.id is not None),
        declared_groups=tuple(declared),
    )
    audit.record(
        session=session,
        clock=clock,
        actor=f"hook:{source}",
        action=AUDIT_ACTION,
        target=source,
        params=result.counts(),
    )
    return result
