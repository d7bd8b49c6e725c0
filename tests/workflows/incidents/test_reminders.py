"""The update cadence: a reminder after ``update_every`` without an update, none after one."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.workflows.incidents.conftest import declare_one
from tests.workflows.incidents.helpers import (
    events,
    give_channel,
    incident,
    jobs,
    post_status,
    run_jobs,
)
from workflows.clock import FakeClock
from workflows.config.models import ShipbotConfig
from workflows.deploys.directory import NoDirectory
from workflows.errors import Conflict
from workflows.incidents import changes, reminders
from workflows.jobs import JobContext
from workflows.store.db import Database


def _remind(database: Database, clock: FakeClock, config: ShipbotConfig) -> int:
    def handler(context: JobContext) -> None:
        reminders.remind(context, config=config)

    return run_jobs(database, clock, "incident.remind", handler)


def _reminders(database: Database, incident_id: int) -> list[int]:
    return [e.id or 0 for e in events(database, incident_id) if e.kind == "reminder"]


@pytest.fixture
def incident_id(database: Database, clock: FakeClock, config: ShipbotConfig) -> int:
    declared = declare_one(database, clock, config)  # SEV2: an update every 30 minutes
    give_channel(database, clock, config, declared.id or 0, "C0INC")
    return declared.id or 0


def test_reminds_after_the_interval_and_again_after_another(
    database: Database, clock: FakeClock, config: ShipbotConfig, incident_id: int
) -> None:
    clock.advance(minutes=29)
    assert _remind(database, clock, config) == 0  # not due yet
    clock.advance(minutes=1)
    assert _remind(database, clock, config) == 1
    (reminder,) = _reminders(database, incident_id)
    assert incident(database, incident_id).reminder_due_at == clock.now() + timedelta(minutes=30)
    render_keys = [job.idempotency_key for job in jobs(database, "render")]
    assert f"render:incident-reminder:{reminder}:after:0" in render_keys
    clock.advance(minutes=30)
    assert _remind(database, clock, config) == 1
    assert len(_reminders(database, incident_id)) == 2


def test_an_update_supersedes_the_queued_reminder(
    database: Database, clock: FakeClock, config: ShipbotConfig, incident_id: int
) -> None:
    clock.advance(minutes=20)
    post_status(database, clock, config, incident_id, "identified", "found it", actor="U0ALICE")
    clock.advance(minutes=10)  # the first reminder's job is due, but stale
    assert _remind(database, clock, config) == 1
    assert _reminders(database, incident_id) == []
    clock.advance(minutes=20)  # 30 minutes after the update
    assert _remind(database, clock, config) == 1
    assert len(_reminders(database, incident_id)) == 1


def test_no_reminder_once_resolved(
    database: Database, clock: FakeClock, config: ShipbotConfig, incident_id: int
) -> None:
    with database.transaction() as session:
        changes.resolve(
            directory=NoDirectory(),
            session=session,
            clock=clock,
            config=config,
            actor="U0ALICE",
            incident_id=incident_id,
            summary="done",
        )
    clock.advance(hours=2)
    _remind(database, clock, config)
    assert _reminders(database, incident_id) == []


def test_snooze_moves_the_next_reminder(
    database: Database, clock: FakeClock, config: ShipbotConfig, incident_id: int
) -> None:
    clock.advance(minutes=30)
    _remind(database, clock, config)
    (reminder,) = _reminders(database, incident_id)
    clock.advance(minutes=2)
    with database.transaction() as session:
        snoozed = reminders.snooze(
            session=session, clock=clock, actor="U0BOB", reminder_event_id=reminder
        )
    assert snoozed.until == clock.now() + timedelta(minutes=30)
    with pytest.raises(Conflict), database.transaction() as session:
        reminders.snooze(session=session, clock=clock, actor="U0BOB", reminder_event_id=reminder)
    clock.advance(minutes=29)  # the reminder due 30 min after the first one is stale now
    _remind(database, clock, config)
    assert len(_reminders(database, incident_id)) == 1
    clock.advance(minutes=1)
    _remind(database, clock, config)
    assert len(_reminders(database, incident_id)) == 2


def test_snoozing_a_reminder_answered_by_an_update_is_refused(
    database: Database, clock: FakeClock, config: ShipbotConfig, incident_id: int
) -> None:
    clock.advance(minutes=30)
    _remind(database, clock, config)
    (reminder,) = _reminders(database, incident_id)
    clock.advance(minutes=1)
    post_status(database, clock, config, incident_id, "monitoring", "fix deployed", actor="U0ALICE")
    with pytest.raises(Conflict), database.transaction() as session:
        reminders.snooze(session=session, clock=clock, actor="U0BOB", reminder_event_id=reminder)
