"""Fire times, DST-correct windows, the once-only claim and the `missed` policy."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from tests.workflows.reports.datasets import example_config
from workflows.clock import FakeClock
from workflows.config import Report, ShipbotConfig, cron_trigger
from workflows.reports import scheduling
from workflows.reports.models import ReportRun, ReportSchedule
from workflows.reports.periods import day_boundaries, latest_fire_time, window_before
from workflows.reports.scheduling import Outcome
from workflows.store.db import Database
from workflows.store.models import AuditEntry, Job

BERLIN = "Europe/Berlin"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_latest_fire_time_in_the_reports_time_zone() -> None:
    daily = cron_trigger("0 9 * * *", BERLIN)
    assert latest_fire_time(daily, at_or_before=utc(2026, 1, 12, 8, 30)) == utc(2026, 1, 12, 8)
    assert latest_fire_time(daily, at_or_before=utc(2026, 1, 12, 8)) == utc(2026, 1, 12, 8)
    assert latest_fire_time(daily, at_or_before=utc(2026, 1, 12, 7, 59)) == utc(2026, 1, 11, 8)
    # Summer time: 09:00 in Berlin is 07:00 UTC.
    assert latest_fire_time(daily, at_or_before=utc(2026, 3, 30, 8)) == utc(2026, 3, 30, 7)
    weekly = cron_trigger("0 9 * * MON", BERLIN)
    assert latest_fire_time(weekly, at_or_before=utc(2026, 1, 18, 23)) == utc(2026, 1, 12, 8)
    every_minute = cron_trigger("* * * * *")
    assert latest_fire_time(every_minute, at_or_before=utc(2026, 1, 1, 0, 0, 59)) == utc(
        2026, 1, 1, 0, 0
    )
    yearly = cron_trigger("0 0 1 1 *")
    assert latest_fire_time(yearly, at_or_before=utc(2026, 1, 1), not_before=utc(2026, 1, 1)) == (
        utc(2026, 1, 1)
    )
    assert (
        latest_fire_time(yearly, at_or_before=utc(2026, 6, 1), not_before=utc(2026, 2, 1)) is None
    )


def test_windows_are_calendar_days_in_the_reports_time_zone() -> None:
    # Clocks go forward on Sunday 29 March 2026: that day has 23 hours in Berlin.
    short = window_before(utc(2026, 3, 29, 7), days=1, timezone=BERLIN)
    assert short.start == utc(2026, 3, 28, 8) and short.end - short.start == timedelta(hours=23)
    normal = window_before(utc(2026, 3, 30, 7), days=1, timezone=BERLIN)
    assert normal.end - normal.start == timedelta(hours=24)
    # ...and back on Sunday 25 October 2026: 25 hours.
    long = window_before(utc(2026, 10, 25, 8), days=1, timezone=BERLIN)
    assert long.end - long.start == timedelta(hours=25)
    week = window_before(utc(2026, 3, 30, 7), days=7, timezone=BERLIN)
    assert week.start == utc(2026, 3, 23, 8)
    bounds = day_boundaries(week)
    assert len(bounds) == 8 and bounds[0] == week.start and bounds[-1] == week.end
    assert bounds[6] - bounds[5] == timedelta(hours=23)  # the slot with the change


def config_with(missed: str, cron: str = "0 9 * * *") -> tuple[ShipbotConfig, Report]:
    base = example_config()
    report = Report(
        name="digest",
        kind="deploy_digest",
        cron=cron,
        channel="deploys",
        timezone=BERLIN,
        missed=missed,
    )
    return base.model_copy(update={"reports": [report]}), report


def runs(database: Database) -> list[ReportRun]:
    with database.read_session() as session:
        query = select(ReportRun).order_by(ReportRun.fire_time)
        return list(session.execute(query).scalars())


def count(database: Database, model: type) -> int:
    with database.read_session() as session:
        return int(session.execute(select(func.count()).select_from(model)).scalar_one())


def test_replicas_racing_for_one_fire_time_claim_it_once(database: Database) -> None:
    config, report = config_with("skip")
    clock = FakeClock(utc(2026, 1, 12, 8, 0, 1))
    replicas = 6
    barrier = threading.Barrier(replicas)
    outcomes: list[Outcome] = []

    def replica(number: int) -> None:
        barrier.wait(timeout=10)
        result = scheduling.look(
            database=database, clock=clock, config=config, report=report, replica=f"r{number}"
        )
        outcomes.append(result.outcome)

    threads = [threading.Thread(target=replica, args=(n,)) for n in range(replicas)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == sorted([Outcome.claimed] + [Outcome.taken] * (replicas - 1))
    (run,) = runs(database)
    assert run.fire_time == utc(2026, 1, 12, 8) and run.trigger == "scheduled"
    assert count(database, Job) == 1 and count(database, AuditEntry) == 1
    with database.read_session() as session:
        (job,) = session.execute(select(Job)).scalars()
    assert job.kind == "report.run"
    assert job.idempotency_key == "report:digest:2026-01-12T08:00:00+00:00"
    assert job.payload == {"run_id": run.id}
    # A later tick for the same fire time finds it taken.
    clock.advance(seconds=30)
    again = scheduling.look(
        database=database, clock=clock, config=config, report=report, replica="late"
    )
    assert again.outcome == Outcome.taken


@pytest.mark.parametrize("missed", ["skip", "run_once"])
def test_missed_fire_times_after_downtime(database: Database, missed: str) -> None:
    config, report = config_with(missed)
    clock = FakeClock(utc(2026, 1, 10, 12))
    # First start: the report is new, yesterday's 09:00 is not caught up.
    looks = scheduling.catch_up(database=database, clock=clock, config=config, replica="a")
    assert looks["digest"].outcome == Outcome.nothing_due
    # The cron tick on Jan 11 (30 s late) claims it on time.
    clock.set(utc(2026, 1, 11, 8, 0, 30))
    tick = scheduling.look(
        database=database, clock=clock, config=config, report=report, replica="a"
    )
    assert tick.outcome == Outcome.claimed
    # Down from Jan 11 09:00 to Jan 14 10:00: three fire times missed (12, 13, 14).
    clock.set(utc(2026, 1, 14, 10))
    looks = scheduling.catch_up(database=database, clock=clock, config=config, replica="b")
    if missed == "skip":
        assert looks["digest"].outcome == Outcome.skipped
        assert [r.fire_time for r in runs(database)] == [utc(2026, 1, 11, 8)]
    else:
        assert looks["digest"].outcome == Outcome.claimed
        assert [(r.fire_time, r.trigger) for r in runs(database)] == [
            (utc(2026, 1, 11, 8), "scheduled"),
            (utc(2026, 1, 14, 8), "missed"),  # the latest missed fire only, once
        ]
    # A second replica starting a moment later changes nothing.
    clock.advance(seconds=5)
    again = scheduling.catch_up(database=database, clock=clock, config=config, replica="c")
    assert again["digest"].outcome in (Outcome.taken, Outcome.skipped)
    assert count(database, Job) == (1 if missed == "skip" else 2)


def test_a_restart_within_the_grace_still_posts_on_time(database: Database) -> None:
    config, _report = config_with("skip")
    clock = FakeClock(utc(2026, 1, 10, 12))
    scheduling.register(database=database, clock=clock, config=config)
    clock.set(utc(2026, 1, 11, 8, 3))  # every replica restarted across 09:00; back at 09:03
    looks = scheduling.catch_up(database=database, clock=clock, config=config, replica="a")
    assert looks["digest"].outcome == Outcome.claimed
    assert looks["digest"].run is not None and looks["digest"].run.trigger == "scheduled"
    with database.read_session() as session:
        schedule = session.get(ReportSchedule, "digest")
    assert schedule is not None and schedule.last_fire_time == utc(2026, 1, 11, 8)
