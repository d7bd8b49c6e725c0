"""Small helpers shared by the job store and worker tests."""

from __future__ import annotations

from typing import Any

from workflows import jobs
from workflows.clock import FakeClock
from workflows.store.db import Database
from workflows.store.models import Job


def enqueue_job(
    database: Database, clock: FakeClock, key: str, *, kind: str = "test", **options: Any
) -> int:
    """Enqueue one job in its own transaction; the key doubles as its payload."""
    with database.transaction() as session:
        job = jobs.enqueue(
            session=session,
            clock=clock,
            kind=kind,
            payload={"key": key},
            idempotency_key=key,
            **options,
        )
        assert job.id is not None
        return job.id


def load_job(database: Database, job_id: int) -> Job:
    with database.session() as session:
        job = jobs.get_job(session=session, job_id=job_id)
        assert job is not None
        return job
