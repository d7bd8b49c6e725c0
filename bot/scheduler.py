"""The cron clock of one replica (APScheduler 3.11, in-memory job store).

APScheduler only says *when*; anything that must happen once across replicas claims its
fire time in the database. Housekeeping here is idempotent, so every replica may run it.
"""

from __future__ import annotations

import logging
import os
import socket
from datetime import timedelta

from apscheduler.schedulers.background import BackgroundScheduler

from bot.deps import Deps
from workflows.clock import Clock
from workflows.config import Report
from workflows.delivery import DELIVERY_RETENTION, prune_deliveries
from workflows.reports import scheduling
from workflows.store.db import Database

log = logging.getLogger("shipbot.scheduler")
report_log = logging.getLogger("shipbot.reports")

HOUSEKEEPING_EVERY = timedelta(hours=1)


def housekeeping(*, database: Database, clock: Clock) -> int:
    """Forget delivery keys older than any retry could be."""
    with database.transaction() as session:
        removed = prune_deliveries(session=session, older_than=clock.now() - DELIVERY_RETENTION)
    if removed:
        log.info("housekeeping: forgot %d old delivery keys", removed)
    return removed


def build_scheduler(*, database: Database, clock: Clock) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(timezone="UTC")
    scheduler.add_job(
        housekeeping,
        "interval",
        seconds=HOUSEKEEPING_EVERY.total_seconds(),
        kwargs={"database": database, "clock": clock},
        id="housekeeping",
        coalesce=True,
        max_instances=1,
    )
    return scheduler


def replica_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def schedule_reports(
    scheduler: BackgroundScheduler, deps: Deps, *, replica: str | None = None
) -> None:
    """One cron job per report, and one look at start-up (catch-up of missed fire times).
    A tick only claims its fire time (once across replicas); the ``report.run`` job it
    queues does the work."""
    config = deps.config
    if config is None or not config.reports:
        return
    replica = replica or replica_name()

    def tick(report: Report) -> None:
        try:
            result = scheduling.look(
                database=deps.database,
                clock=deps.clock,
                config=config,
                report=report,
                replica=replica,
            )
        except Exception:  # the next tick looks again; a claim is never half made
            report_log.exception("report %s: could not claim its fire time", report.name)
            return
        if result.run is not None:
            deps.wake_worker()

    def start_up() -> None:
        try:
            looks = scheduling.catch_up(
                database=deps.database, clock=deps.clock, config=config, replica=replica
            )
        except Exception:
            report_log.exception("reports: the start-up look failed")
            return
        if any(result.run is not None for result in looks.values()):
            deps.wake_worker()

    for report in config.reports:
        scheduler.add_job(
            tick,
            trigger=report.trigger(),
            args=[report],
            id=f"report:{report.name}",
            name=f"report {report.name}",
            coalesce=True,
            max_instances=1,
            # A late tick still looks; the look itself decides on-time vs missed.
            misfire_grace_time=None,
        )
    scheduler.add_job(start_up, id="reports:start-up", misfire_grace_time=None)
