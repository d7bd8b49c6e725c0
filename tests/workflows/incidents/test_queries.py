"""What other flows ask of incidents: open/blocking incidents, timeline events, auto-declare."""

from __future__ import annotations

from sqlmodel import select

from tests.workflows.incidents.conftest import declare_one
from tests.workflows.incidents.helpers import events, give_channel, job_keys, jobs, run_jobs
from workflows import jobs as job_store
from workflows import views
from workflows.clock import FakeClock
from workflows.config.models import ShipbotConfig
from workflows.deploys.directory import NoDirectory
from workflows.incidents import changes, queries
from workflows.incidents.declare import declare_from_alert
from workflows.incidents.models import Incident
from workflows.store.db import Database


def _resolve(database: Database, clock: FakeClock, config: ShipbotConfig, incident_id: int) -> None:
    with database.transaction() as session:
        changes.resolve(
            directory=NoDirectory(),
            session=session,
            clock=clock,
            config=config,
            actor="U0ALICE",  # the commander (declare_one's declarer)
            incident_id=incident_id,
            summary="fixed",
        )


def test_open_and_blocking_incidents(
    database: Database, clock: FakeClock, config: ShipbotConfig
) -> None:
    sev3 = declare_one(database, clock, config, severity="SEV3", title="Slow pages")
    clock.advance(minutes=1)
    with database.read_session() as session:
        assert queries.open_incident_for_service(session=session, service="web").id == sev3.id
        # SEV3 is not in block_deploys_severities (SEV1, SEV2).
        assert queries.blocking_incident(session=session, config=config, service="web") is None
    sev2 = declare_one(database, clock, config, severity="SEV2", title="Checkout errors")
    declare_one(database, clock, config, severity="SEV1", title="Other", service=None)
    with database.read_session() as session:
        newest = queries.open_incident_for_service(session=session, service="web")
        blocking = queries.blocking_incident(session=session, config=config, service="web")
        assert newest is not None and newest.id == sev2.id
        assert blocking is not None and blocking.id == sev2.id
        assert queries.blocking_incident(session=session, config=config, service="api") is None
        assert [i.severity for i in queries.open_incidents(session=session)] == [
            "SEV1",
            "SEV2",
            "SEV3",
        ]
    _resolve(database, clock, config, sev2.id or 0)
    with database.read_session() as session:
        assert queries.blocking_incident(session=session, config=config, service="web") is None
        newest = queries.open_incident_for_service(session=session, service="web")
        assert newest is not None and newest.id == sev3.id


def test_add_timeline_event_refreshes_the_card_once_there_is_one(
    database: Database, clock: FakeClock, config: ShipbotConfig
) -> None:
    declared = declare_one(database, clock, config)
    incident_id = declared.id or 0
    with database.transaction() as session:
        queries.add_timeline_event(
            session=session,
            clock=clock,
            incident_id=incident_id,
            actor="alertmanager",
            kind="alert",
            text="HighErrorRate firing",
            data={"group_key": "g1"},
        )
    assert not [k for k in job_keys(database, "render") if k.startswith("render:incident:")]
    give_channel(database, clock, config, incident_id, "C0INC")
    with database.transaction() as session:
        event = queries.add_timeline_event(
            session=session,
            clock=clock,
            incident_id=incident_id,
            actor="alertmanager",
            kind="alert",
            text="HighErrorRate resolved",
        )
    assert event.data == {}
    card = views.load_message(database=database, view_key=f"incident:{incident_id}")
    assert card is not None and card.desired_version == 2
    assert f"render:incident:{incident_id}:after:0" in job_keys(database, "render")
    assert [e.kind for e in events(database, incident_id)] == ["declared", "alert", "alert"]


def _enqueue_alert(database: Database, clock: FakeClock, key: str, **payload: object) -> None:
    with database.transaction() as session:
        job_store.enqueue(
            session=session,
            clock=clock,
            kind="incident.declare_from_alert",
            payload={"group_key": "am:web:HighErrorRate", **payload},
            idempotency_key=key,
        )


def test_declare_from_alert_once_per_group(
    database: Database, clock: FakeClock, config: ShipbotConfig
) -> None:
    payload = {"severity": "SEV2", "title": "HighErrorRate on web", "service": "web"}
    _enqueue_alert(database, clock, "a1", **payload)
    _enqueue_alert(database, clock, "a2", **payload)

    def handler(context: job_store.JobContext) -> None:
        declare_from_alert(context, config=config)

    assert run_jobs(database, clock, "incident.declare_from_alert", handler) == 2
    with database.read_session() as session:
        (incident,) = session.exec(select(Incident)).all()
    assert incident.source_alert_group == "am:web:HighErrorRate"
    assert incident.declared_by == "shipbot" and incident.commander is None
    assert incident.service == "web" and incident.severity == "SEV2"
    assert len(jobs(database, "incident.create_channel")) == 1
