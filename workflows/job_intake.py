"""Jobs enqueued on a hot path that writes nothing else: a deferred Slack request stored
before its ack (``SHIPBOT_ACK_MODE=deferred``).

``jobs.enqueue`` rides in the caller's transaction and reads the row back. Here the job is
the whole transaction, so nothing is read back and concurrent requests share one: the
rows of a burst are inserted together and committed once (``GroupCommit``), and each
caller returns only after the commit that holds its row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from workflows.clock import Clock
from workflows.jobs import new_job_row
from workflows.store.db import Database
from workflows.store.group_commit import GroupCommit
from workflows.store.models import Job
from workflows.store.tables import table_of
from workflows.store.upsert import insert_or_ignore


def _insert_jobs(connection: Connection, rows: Sequence[dict[str, Any]]) -> None:
    # A key that exists is left as it is: a repeated delivery stores nothing new, also
    # when the repeat and the first are in the same batch.
    connection.execute(
        insert_or_ignore(connection, table_of(Job), key=["idempotency_key"]), list(rows)
    )


JobRow = dict[str, Any]
"""A job's column values (``JobIntake.row``)."""


class JobIntake:
    """One per process and database; safe to call from any thread."""

    def __init__(self, *, database: Database, clock: Clock) -> None:
        self._clock = clock
        self._group: GroupCommit[JobRow] = GroupCommit(database.engine, _insert_jobs)

    def row(
        self,
        *,
        kind: str,
        payload: Mapping[str, Any],
        idempotency_key: str,
        run_after: datetime | None = None,
        max_attempts: int = 5,
    ) -> JobRow:
        """A new job's row, for ``enqueue`` or ``enqueue_nowait``."""
        now = self._clock.now()
        return new_job_row(kind, payload, idempotency_key, run_after or now, max_attempts, now)

    def enqueue(self, row: JobRow) -> None:
        """Add the job unless one with its idempotency key exists, committed when this
        returns."""
        self._group.submit(row)

    def enqueue_nowait(self, row: JobRow) -> Future[None]:
        """``enqueue`` for a caller that must not block (the event loop): the future
        resolves once the row is committed, or carries the error."""
        return self._group.submit_nowait(row)
