"""Declaring and running incidents, on both databases, with a fake clock."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.workflows.incidents.conftest import declare_one
from tests.workflows.incidents.helpers import (
    audit_actions,
    events,
    give_channel,
    incident,
    job_keys,
    post_status,
)
from workflows import views
from workflows.clock import FakeClock
from workflows.config.models import ShipbotConfig
from workflows.deploys.directory import NoDirectory
from workflows.errors import Conflict, DuplicateDelivery, NotFound, UserError
from workflows.incidents import changes
from workflows.incidents.models import IncidentStatus
from workflows.store.db import Database


def test_declare_writes_incident_timeline_audit_and_jobs_together(
    database: Database, clock: FakeClock, config: ShipbotConfig
) -> None:
    declared = declare_one(database, clock, config, key="slack:command:T1")
    assert declared.id is not None
    stored = incident(database, declared.id)
    assert (stored.severity, stored.service, stored.status) == ("SEV2", "web", "investigating")
    assert stored.commander == "U0ALICE" and stored.declared_by == "U0ALICE"
    assert stored.declared_at == clock.now() and stored.acknowledged_at is None
    assert [e.kind for e in events(database, declared.id)] == ["declared"]
    assert audit_actions(database, f"incident:{declared.id}") == ["incident.declare"]
    assert job_keys(database, "incident.create_channel") == [
        f"incident:{declared.id}:create_channel"
    ]
    # Announced at once (the incidents channel), reminded after SEV2's 30 minutes.
    (event,) = events(database, declared.id)
    assert job_keys(database, "render") == [f"render:incident-announce:{event.id}:after:0"]
    assert stored.reminder_due_at == clock.now() + timedelta(minutes=30)


def test_a_retried_command_declares_nothing_more(
    database: Database, clock: FakeClock, config: ShipbotConfig
) -> None:
    declare_one(database, clock, config, key="slack:command:T1")
    with pytest.raises(DuplicateDelivery):
        declare_one(database, clock, config, key="slack:command:T1")
    assert len(job_keys(database, "incident.create_channel")) == 1


@pytest.mark.parametrize(
    ("severity", "title", "service", "error"),
    [
        ("SEV9", "x", None, UserError),
        ("SEV2", "   ", None, UserError),
        ("SEV2", "x" * 151, None, UserError),
        ("SEV2", "x", "nope", NotFound),
    ],
)
def test_declare_refuses_bad_input(
    database: Database,
    clock: FakeClock,
    config: ShipbotConfig,
    severity: str,
    title: str,
    service: str | None,
    error: type[Exception],
) -> None:
    with pytest.raises(error):
        declare_one(database, clock, config, severity=severity, title=title, service=service)


def test_channel_ready_once_enqueues_the_setup(
    database: Database, clock: FakeClock, config: ShipbotConfig
) -> None:
    declared = declare_one(database, clock, config)
    give_channel(database, clock, config, declared.id or 0, "C0INC")
    assert job_keys(database, "incident.invite") == [f"incident:{declared.id}:invite:setup"]
    assert job_keys(database, "incident.set_topic") == [f"incident:{declared.id}:topic:setup"]
    assert job_keys(database, "incident.pin_card") == [f"incident:{declared.id}:pin_card"]
    renders = job_keys(database, "render")
    assert f"render:incident:{declared.id}:after:0" in renders
    # The announcement is rendered again, now with the channel link (its first render,
    # still pending, shows that version too).
    (event,) = events(database, declared.id or 0)
    announcement = views.load_message(database=database, view_key=f"incident-announce:{event.id}")
    assert announcement is not None and announcement.desired_version == 2
    from workflows.incidents.declare import channel_ready

    with database.transaction() as session:
        again = channel_ready(
            session=session,
            clock=clock,
            config=config,
            incident_id=declared.id or 0,
            channel_id="C0OTHER",
            channel_name="other",
        )
    assert again is False and incident(database, declared.id or 0).channel_id == "C0INC"


def test_status_updates_acknowledge_once_and_announce_changes(
    database: Database, clock: FakeClock, config: ShipbotConfig
) -> None:
    declared = declare_one(database, clock, config)
    incident_id = declared.id or 0
    give_channel(database, clock, config, incident_id, "C0INC")
    clock.advance(minutes=4)
    first_update = clock.now()
    post_status(
        database,
        clock,
        config,
        incident_id,
        "identified",
        "bad cache config",
        actor="U0BOB",
        delivery_key="k1",
    )
    clock.advance(minutes=10)
    post_status(database, clock, config, incident_id, "Identified", "rolling back", actor="U0BOB")
    stored = incident(database, incident_id)
    assert stored.status == "identified"
    assert stored.acknowledged_at == first_update  # the first update, not the latest
    assert stored.last_update_at == clock.now()
    assert stored.reminder_due_at == clock.now() + timedelta(minutes=30)
    timeline = events(database, incident_id)
    assert [e.kind for e in timeline] == ["declared", "status", "status"]
    # Only the change of status is announced (one announce render per event).
    announced = {k.split(":")[2] for k in job_keys(database, "render") if "announce" in k}
    assert announced == {str(timeline[0].id), str(timeline[1].id)}
    assert audit_actions(database, f"incident:{incident_id}").count("incident.status") == 2


def test_status_needs_a_known_status_and_a_message(
    database: Database, clock: FakeClock, config: ShipbotConfig
) -> None:
    declared = declare_one(database, clock, config)
    for status, message in (("fixed", "x"), ("identified", "  ")):
        with pytest.raises(UserError), database.transaction() as session:
            changes.update_status(
                directory=NoDirectory(),
                session=session,
                clock=clock,
                config=config,
                actor="U0BOB",
                incident_id=declared.id or 0,
                status=status,
                message=message,
            )


def test_severity_role_note_and_resolve(
    database: Database, clock: FakeClock, config: ShipbotConfig
) -> None:
    declared = declare_one(database, clock, config)
    incident_id = declared.id or 0
    give_channel(database, clock, config, incident_id, "C0INC")
    common = {"clock": clock, "actor": "U0BOB", "incident_id": incident_id}
    with database.transaction() as session:
        changes.change_severity(
            directory=NoDirectory(), session=session, config=config, severity="1", **common
        )
        changes.assign_role(
            config=config,
            directory=NoDirectory(),
            session=session,
            role="comms",
            user="U0CAROL",
            **common,
        )
        changes.assign_role(
            config=config,
            directory=NoDirectory(),
            session=session,
            role="commander",
            user="U0BOB",
            **common,
        )
        changes.add_note(session=session, text="restarted web-7", **common)
    with pytest.raises(UserError), database.transaction() as session:
        changes.change_severity(
            directory=NoDirectory(), session=session, config=config, severity="SEV1", **common
        )
    with pytest.raises(UserError), database.transaction() as session:
        changes.assign_role(
            config=config,
            directory=NoDirectory(),
            session=session,
            role="janitor",
            user="U0BOB",
            **common,
        )
    stored = incident(database, incident_id)
    assert (stored.severity, stored.comms, stored.commander) == ("SEV1", "U0CAROL", "U0BOB")
    # SEV1 wants an update every 15 minutes, counted from the last update (the declaration).
    assert stored.reminder_due_at == stored.declared_at + timedelta(minutes=15)

    clock.advance(hours=1, minutes=5)
    with database.transaction() as session:
        changes.resolve(
            directory=NoDirectory(),
            session=session,
            config=config,
            summary="cache reverted",
            **common,
        )
    stored = incident(database, incident_id)
    assert stored.status == IncidentStatus.resolved and stored.summary == "cache reverted"
    assert stored.resolved_at == clock.now() and stored.acknowledged_at == clock.now()
    assert stored.reminder_due_at is None
    assert job_keys(database, "incident.postmortem") == [f"incident:{incident_id}:postmortem"]
    assert f"incident:{incident_id}:topic:resolved" in job_keys(database, "incident.set_topic")
    assert [e.kind for e in events(database, incident_id)] == [
        "declared",
        "severity",
        "assign",
        "assign",
        "note",
        "resolved",
    ]
    with pytest.raises(Conflict), database.transaction() as session:
        changes.update_status(
            directory=NoDirectory(),
            session=session,
            config=config,
            status="monitoring",
            message="x",
            **common,
        )
    # Notes still land after resolving (for the postmortem).
    with database.transaction() as session:
        changes.add_note(session=session, text="follow-up ticket OPS-12", **common)


def test_status_resolved_is_resolve(
    database: Database, clock: FakeClock, config: ShipbotConfig
) -> None:
    declared = declare_one(database, clock, config)
    post_status(
        database, clock, config, declared.id or 0, "resolved", "it was DNS", actor="U0ALICE"
    )
    stored = incident(database, declared.id or 0)
    assert stored.status == "resolved" and stored.summary == "it was DNS"
