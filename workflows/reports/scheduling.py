"""When a replica's cron clock ticks (or the replica starts): is a fire time due, and ours?

APScheduler only says *when to look*; "now" is the injected clock, and what is due is
decided here, the same way for a cron tick and for the look taken at start-up:

- the latest fire time ``F <= now`` of the report's cron (in its time zone) is the candidate;
- if ``F`` was claimed before (``last_fire_time >= F``), there is nothing to do;
- if ``F`` is at most ``GRACE`` old, it is on time: claim it (``scheduled``);
- otherwise it was missed while every replica was down (or the database was). ``missed:
  skip`` leaves it; ``missed: run_once`` claims it (``missed``), the latest missed fire
  only, however many were missed. A fire time from before the report was first scheduled
  is never caught up (adding a report does not post a backlog).

The unique ``(report, fire time)`` claim makes all of this safe to run on every replica at
once: two or ten replicas looking at the same moment post the report once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from workflows.clock import Clock
from workflows.config import Report, ShipbotConfig
from workflows.reports.claims import SCHEDULER_ACTOR, claim_run, ensure_schedule
from workflows.reports.models import ReportRun, RunTrigger
from workflows.reports.periods import latest_fire_time
from workflows.store.db import Database

log = logging.getLogger("shipbot.reports")

# A fire time claimed this late still counts as on time (a slow tick, a quick restart).
GRACE = timedelta(minutes=5)


class Outcome(StrEnum):
    claimed = "claimed"  # this replica claimed the fire time; its job is queued
    taken = "taken"  # the fire time was claimed before (by this or another replica)
    skipped = "skipped"  # missed, and the report says `missed: skip`
    nothing_due = "nothing_due"  # no fire time yet, or only ones from before registration


@dataclass(frozen=True)
class Look:
    """What one look decided."""

    outcome: Outcome
    fire_time: datetime | None = None
    run: ReportRun | None = None


def look(
    *,
    database: Database,
    clock: Clock,
    config: ShipbotConfig,
    report: Report,
    replica: str,
) -> Look:
    """Claim the report's due fire time if it is due and nobody has (see the module doc)."""
    now = clock.now()
    fire_time = latest_fire_time(report.trigger(), at_or_before=now)
    if fire_time is None:
        return Look(Outcome.nothing_due)
    channel = config.channel_id(report.channel)
    with database.transaction() as session:
        schedule = ensure_schedule(session=session, clock=clock, report_name=report.name)
        last = schedule.last_fire_time
        if last is not None and last >= fire_time:
            return Look(Outcome.taken, fire_time)
        if now - fire_time <= GRACE:
            trigger = RunTrigger.scheduled
        elif fire_time < schedule.registered_at:
            return Look(Outcome.nothing_due, fire_time)
        elif report.missed == "skip":
            log.info(
                "report %s: fire time %s was missed while down; skipped (missed: skip)",
                report.name,
                fire_time.isoformat(),
            )
            return Look(Outcome.skipped, fire_time)
        else:
            trigger = RunTrigger.missed
        run = claim_run(
            session=session,
            clock=clock,
            report=report,
            channel=channel,
            fire_time=fire_time,
            trigger=trigger,
            requested_by=SCHEDULER_ACTOR,
            claimed_by=replica,
        )
    if run is None:
        return Look(Outcome.taken, fire_time)
    log.info(
        "report %s: claimed fire time %s (%s) as run %s",
        report.name,
        fire_time.isoformat(),
        trigger.value,
        run.id,
    )
    return Look(Outcome.claimed, fire_time, run)


def register(*, database: Database, clock: Clock, config: ShipbotConfig) -> None:
    """Remember when each report was first scheduled (done once at start-up, before the
    first look, so that fire times from before a report existed are never caught up)."""
    with database.transaction() as session:
        for report in config.reports:
            ensure_schedule(session=session, clock=clock, report_name=report.name)


def catch_up(
    *, database: Database, clock: Clock, config: ShipbotConfig, replica: str
) -> dict[str, Look]:
    """The look taken when a replica starts: registers new reports, then applies each
    report's ``missed`` policy to what was missed while no replica was running."""
    register(database=database, clock=clock, config=config)
    looks: dict[str, Look] = {}
    for report in config.reports:
        try:
            looks[report.name] = look(
                database=database, clock=clock, config=config, report=report, replica=replica
            )
        except Exception:  # one broken report must not keep the others from running
            log.exception("report %s: the start-up look failed", report.name)
    return looks
