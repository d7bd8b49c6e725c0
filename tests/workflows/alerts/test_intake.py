"""Storing alerts: grouping within the window, routing order, dedup, counts, incident
timeline, auto-declare and one audit entry per request. Both databases."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func
from sqlmodel import col, select

from tests.workflows.alerts import samples
from workflows import audit
from workflows.alerts.groups import count_alerts, get_group, group_state, group_view_key
from workflows.alerts.intake import DECLARE_JOB_KIND, IntakeResult, ingest
from workflows.alerts.parsers import parse_alertmanager, parse_generic
from workflows.clock import FakeClock
from workflows.config import ShipbotConfig
from workflows.incidents.models import Incident, IncidentEvent
from workflows.store.db import Database
from workflows.store.models import Job, SlackMessage
from workflows.views import get_message

CONFIG = samples.all_sources_config()


def _ingest(
    database: Database, clock: FakeClock, *alerts: dict[str, Any], config: ShipbotConfig = CONFIG
) -> IntakeResult:
    parsed = parse_alertmanager(samples.alertmanager_payload(*alerts))
    with database.transaction() as session:
        return ingest(
            session=session, clock=clock, config=config, source="alertmanager", alerts=parsed
        )


def _group(database: Database, group_id: int) -> Any:
    with database.session() as session:
        group = get_group(session=session, group_id=group_id)
        assert group is not None
        return group


def _message(database: Database, group_id: int) -> SlackMessage | None:
    with database.session() as session:
        return get_message(session=session, view_key=group_view_key(group_id))


def _count(database: Database, model: Any, *where: Any) -> int:
    with database.session() as session:
        return int(session.exec(select(func.count()).select_from(model).where(*where)).one())


def test_alerts_of_one_service_and_name_share_a_group_and_a_message(
    database: Database, clock: FakeClock
) -> None:
    first = _ingest(
        database, clock, samples.am_alert(fingerprint="a1"), samples.am_alert(fingerprint="a2")
    )
    clock.advance(minutes=2)
    second = _ingest(database, clock, samples.am_alert(fingerprint="a3"))

    assert (first.new, first.firing, len(first.group_ids)) == (2, 2, 1)
    assert second.group_ids == first.group_ids
    group = _group(database, first.group_ids[0])
    assert (group.firing, group.resolved, group.service, group.alertname) == (
        3,
        0,
        "web",
        "HighErrorRate",
    )
    assert group.group_key == "web/HighErrorRate#1"
    assert group_state(group) == "firing"
    message = _message(database, group.id)
    assert message is not None and message.channel == "C0ALERTS"  # the route for service=web
    assert message.desired_version == 2  # one render request per request, not per alert
    with database.session() as session:
        assert count_alerts(session=session, group_id=group.id) == 3
        entries = audit.entries(session=session, action="alerts.received")
    assert [(e.actor, e.params["new"], e.params["firing"]) for e in entries] == [
        ("hook:alertmanager", 1, 1),
        ("hook:alertmanager", 2, 2),
    ]


def test_after_the_window_a_new_group_starts_but_resolutions_join_their_group(
    database: Database, clock: FakeClock
) -> None:
    first = _ingest(database, clock, samples.am_alert(fingerprint="a1"))
    clock.advance(minutes=6)  # group_window is 5m
    later = _ingest(database, clock, samples.am_alert(fingerprint="a2"))
    assert later.group_ids != first.group_ids
    assert _group(database, later.group_ids[0]).group_key == "web/HighErrorRate#2"

    clock.advance(minutes=30)
    resolved = _ingest(database, clock, samples.am_alert(fingerprint="a1", status="resolved"))
    assert resolved.group_ids == first.group_ids
    group = _group(database, first.group_ids[0])
    assert (group.firing, group.resolved, group_state(group)) == (1, 1, "resolved")
    assert _group(database, later.group_ids[0]).resolved == 0


def test_a_redelivery_changes_nothing(database: Database, clock: FakeClock) -> None:
    alerts = (samples.am_alert(fingerprint="a1"), samples.am_alert(fingerprint="a2"))
    first = _ingest(database, clock, *alerts)
    jobs_before = _count(database, Job)
    audit_before = _count(database, audit.AuditEntry)

    again = _ingest(database, clock, *alerts)
    assert (again.received, again.new, again.duplicates, again.group_ids) == (2, 0, 2, ())
    assert _count(database, Job) == jobs_before
    assert _count(database, audit.AuditEntry) == audit_before
    assert _group(database, first.group_ids[0]).firing == 2
    message = _message(database, first.group_ids[0])
    assert message is not None and message.desired_version == 1

    # A notification repeating an old alert next to a new one counts only the new one.
    mixed = _ingest(
        database, clock, samples.am_alert(fingerprint="a1"), samples.am_alert(fingerprint="a3")
    )
    assert (mixed.new, mixed.duplicates) == (1, 1)
    assert _group(database, first.group_ids[0]).firing == 3


def test_the_same_alert_twice_in_one_request_counts_once(
    database: Database, clock: FakeClock
) -> None:
    result = _ingest(database, clock, samples.am_alert(), samples.am_alert())
    assert (result.received, result.new) == (2, 1)
    assert _group(database, result.group_ids[0]).firing == 1


def _incident(database: Database, clock: FakeClock, **fields: Any) -> int:
    values = {
        "title": "web is down", "severity": "SEV2", "service": "web", "declared_by": "U0BOB",
        "channel_id": "C0INC1", "declared_at": clock.now(), "updated_at": clock.now(),
    }  # fmt: skip
    values.update(fields)
    with database.transaction() as session:
        incident = Incident(**values)
        session.add(incident)
        session.flush()
        assert incident.id is not None
        return incident.id


ROUTED = samples.all_sources_config(
    routes=[{"match": {"team": "blue"}, "channel": "approvals"}],
)


def _channel_of(
    database: Database, clock: FakeClock, config: ShipbotConfig, **labels: str
) -> str | None:
    clock.advance(minutes=10)  # a fresh group each time
    fingerprint = f"fp-{clock.now().timestamp()}"
    result = _ingest(
        database, clock, samples.am_alert(fingerprint=fingerprint, **labels), config=config
    )
    return _group(database, result.group_ids[0]).channel


def test_routing_order_incident_then_route_then_service_then_default(
    database: Database, clock: FakeClock
) -> None:
    assert _channel_of(database, clock, ROUTED, team="blue") == "C0APPROVE"  # route
    assert _channel_of(database, clock, ROUTED) == "C0ALERTS"  # web's alerts_channel
    assert _channel_of(database, clock, ROUTED, service="billing") == "C0INCIDNT"  # default

    _incident(database, clock, channel_id=None)  # no channel yet: not a destination
    _incident(database, clock, status="resolved", channel_id="C0OLD")
    assert _channel_of(database, clock, ROUTED, team="blue") == "C0APPROVE"
    incident_id = _incident(database, clock)
    clock.advance(seconds=1)
    assert _channel_of(database, clock, ROUTED, team="blue") == "C0INC1"  # the open incident
    newer = _incident(database, clock, channel_id="C0INC2")
    assert _channel_of(database, clock, ROUTED) == "C0INC2"  # the newest open one
    assert newer != incident_id


def test_no_destination_stores_and_counts_without_a_message(
    database: Database, clock: FakeClock
) -> None:
    config = samples.all_sources_config(default_channel=None, routes=[])
    result = _ingest(database, clock, samples.am_alert(service="billing"), config=config)
    group = _group(database, result.group_ids[0])
    assert (group.channel, group.firing) == (None, 1)
    assert _message(database, group.id) is None


def test_alerts_in_an_incident_channel_add_to_its_timeline(
    database: Database, clock: FakeClock
) -> None:
    incident_id = _incident(database, clock)
    result = _ingest(
        database, clock, samples.am_alert(fingerprint="a1"), samples.am_alert(fingerprint="a2")
    )
    group = _group(database, result.group_ids[0])
    assert (group.channel, group.incident_id) == ("C0INC1", incident_id)
    with database.session() as session:
        (event,) = session.exec(
            select(IncidentEvent).where(col(IncidentEvent.incident_id) == incident_id)
        )
    assert (event.kind, event.actor) == ("alert", "hook:alertmanager")
    assert "HighErrorRate (web): 2 firing" in event.text
    assert event.data["group_id"] == group.id


def test_auto_declare_is_enqueued_once_per_group(database: Database, clock: FakeClock) -> None:
    config = samples.all_sources_config(
        auto_declare=[{"match": {"severity": "critical", "service": "web"}, "severity": "SEV2"}]
    )
    first = _ingest(database, clock, samples.am_alert(fingerprint="a1"), config=config)
    _ingest(database, clock, samples.am_alert(fingerprint="a2"), config=config)
    _ingest(database, clock, samples.am_alert(fingerprint="a9", service="billing"), config=config)
    with database.session() as session:
        jobs = list(session.exec(select(Job).where(col(Job.kind) == DECLARE_JOB_KIND)))
    assert len(jobs) == 1
    assert jobs[0].idempotency_key == "declare-from-alert:web/HighErrorRate#1"
    assert jobs[0].payload == {
        "group_key": "web/HighErrorRate#1",
        "severity": "SEV2",
        "title": "HighErrorRate: 5xx above 5% for 5 minutes",
        "service": "web",
    }
    assert first.declared_groups == ("web/HighErrorRate#1",)

    clock.advance(minutes=6)
    _ingest(database, clock, samples.am_alert(fingerprint="a3"), config=config)
    assert _count(database, Job, col(Job.kind) == DECLARE_JOB_KIND) == 2
    # Resolutions never declare.
    clock.advance(minutes=6)
    _ingest(database, clock, samples.am_alert(fingerprint="a4", status="resolved"), config=config)
    assert _count(database, Job, col(Job.kind) == DECLARE_JOB_KIND) == 2


def test_a_thousand_alerts_in_one_request(database: Database, clock: FakeClock) -> None:
    items = [
        {"id": f"alert-{n}", "status": "firing" if n % 4 else "resolved",
         "labels": {"service": f"svc{n % 3}", "alertname": "Storm"}, "summary": "storm"}
        for n in range(1000)
    ]  # fmt: skip
    with database.transaction() as session:
        result = ingest(
            session=session,
            clock=clock,
            config=CONFIG,
            source="generic",
            alerts=parse_generic(items),
        )
    assert (result.new, result.firing, result.resolved, len(result.group_ids)) == (
        1000,
        750,
        250,
        3,
    )
    totals = [(_group(database, g).firing, _group(database, g).resolved) for g in result.group_ids]
    assert sum(f for f, _ in totals) == 750 and sum(r for _, r in totals) == 250
    assert _count(database, audit.AuditEntry) == 1
    with database.session() as session:
        assert count_alerts(session=session) == 1000


def test_the_enqueued_declare_job_declares_one_incident_even_when_run_twice(
    database: Database, clock: FakeClock
) -> None:
    from workflows.incidents.declare import declare_from_alert
    from workflows.jobs import JobContext

    config = samples.all_sources_config(
        auto_declare=[{"match": {"severity": "critical", "service": "web"}, "severity": "SEV2"}]
    )
    _ingest(database, clock, samples.am_alert(fingerprint="a1"), config=config)
    with database.session() as session:
        (job,) = session.exec(select(Job).where(col(Job.kind) == DECLARE_JOB_KIND)).all()
        session.expunge(job)
    context = JobContext(job=job, database=database, clock=clock)
    declare_from_alert(context, config=config)
    declare_from_alert(context, config=config)  # a retry after a crash changes nothing
    with database.session() as session:
        (incident,) = session.exec(select(Incident)).all()
    assert (incident.severity, incident.service, incident.declared_by) == ("SEV2", "web", "shipbot")
    assert incident.source_alert_group == "web/HighErrorRate#1"
    assert incident.title == "HighErrorRate: 5xx above 5% for 5 minutes"
