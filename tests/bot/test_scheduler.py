"""The per-replica cron clock and its housekeeping."""

from __future__ import annotations

from bot.scheduler import build_scheduler, housekeeping
from workflows.clock import FakeClock
from workflows.delivery import claim_delivery, was_delivered
from workflows.store.db import Database


def test_housekeeping_forgets_only_keys_older_than_any_retry(
    database: Database, clock: FakeClock
) -> None:
    with database.transaction() as session:
        claim_delivery(session=session, clock=clock, key="old", source="slack")
    clock.advance(hours=24 * 7 + 1)
    with database.transaction() as session:
        claim_delivery(session=session, clock=clock, key="recent", source="slack")
    assert housekeeping(database=database, clock=clock) == 1
    with database.session() as session:
        assert not was_delivered(session=session, key="old")
        assert was_delivered(session=session, key="recent")


def test_the_scheduler_runs_housekeeping_hourly(
    sqlite_database: Database, clock: FakeClock
) -> None:
    scheduler = build_scheduler(database=sqlite_database, clock=clock)
    (job,) = scheduler.get_jobs()
    assert job.id == "housekeeping"
    assert job.trigger.interval.total_seconds() == 3600
