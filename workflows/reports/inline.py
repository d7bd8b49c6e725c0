"""Taking one particular job by its idempotency key, for `shipbot report run` without a
running worker: the terminal runs exactly its own report's jobs and nothing else.

A job taken here is leased like any claim (``workflows.jobs.claim``), so a worker of a
running ``serve`` and the terminal never run the same job at once; every later transition
uses the ordinary ``jobs.complete`` / ``jobs.fail`` / ``jobs.postpone``.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import and_, or_, update
from sqlmodel import col, select

from workflows.clock import Clock
from workflows.store.db import Database
from workflows.store.models import Job, JobState


def take_job(
    *, database: Database, clock: Clock, idempotency_key: str, owner: str, lease: timedelta
) -> Job | None:
    """Lease the job with ``idempotency_key`` if it is due (pending and due, or running
    with an expired lease); a detached copy with the attempt counted, or None."""
    now = clock.now()
    due = or_(
        and_(col(Job.state) == JobState.pending, col(Job.run_after) <= now),
        and_(
            col(Job.state) == JobState.running,
            col(Job.lease_expires_at) < now,
            col(Job.attempts) < col(Job.max_attempts),
        ),
    )
    with database.transaction() as session:
        taken = session.exec(
            update(Job)
            .where(col(Job.idempotency_key) == idempotency_key, due)
            .values(
                state=JobState.running,
                lease_owner=owner,
                lease_expires_at=now + lease,
                attempts=col(Job.attempts) + 1,
                updated_at=now,
            )
        )
        if taken.rowcount != 1:
            return None
        return session.exec(select(Job).where(col(Job.idempotency_key) == idempotency_key)).one()


def find_job(*, database: Database, idempotency_key: str) -> Job | None:
    """A detached copy of the job with ``idempotency_key``, if there is one."""
    with database.read_session() as session:
        return session.exec(select(Job).where(col(Job.idempotency_key) == idempotency_key)).first()
