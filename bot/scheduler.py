"""The cron clock of one replica (APScheduler 3.11, in-memory job store).

APScheduler only says *when*; anything that must happen once across replicas claims its
fire time in the database. Housekeeping here is idempotent, so every replica may run it.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from apscheduler.schedulers.background import BackgroundScheduler

from workflows.clock import Clock
from workflows.delivery import DELIVERY_RETENTION, prune_deliveries
from workflows.store.db import Database

log = logging.getLogger("shipbot.scheduler")

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
