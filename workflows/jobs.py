"""Durable jobs (rule 1): everything slow is a row a worker claims with a lease.

A job is enqueued in the caller's transaction, so an intent and the work it implies commit
together. A worker claims the oldest due job in a short transaction of its own and holds a
lease on it; a worker that dies simply stops renewing the lease, and once it expires the job
is claimed again. Every later transition is guarded by ``lease_owner`` and ``state``, so a
worker whose lease was taken over cannot overwrite the new owner's result.

The handler vocabulary (``JobContext``, ``RetryLater``, ``PermanentJobError``) lives here,
not in ``bot/``, so that workflow code can write handlers without importing the edge.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, update
from sqlmodel import Session, col, select

from workflows.clock import Clock
from workflows.errors import Conflict, NotFound
from workflows.redact import redact_text
from workflows.store.db import Database
from workflows.store.models import Job, JobState
from workflows.store.tables import table_of
from workflows.store.upsert import dialect_insert, insert_or_ignore

BACKOFF_BASE = timedelta(seconds=2)
BACKOFF_CAP = timedelta(minutes=10)
MAX_ERROR_CHARS = 2000


class RetryLater(Exception):
    """A handler's way to say "not now": the job goes back to pending at ``until`` without
    using up an attempt (Slack's 429 ``Retry-After``, a message another render holds).
    ``payload``, when given, replaces the job's payload, so the next run knows what this
    one arranged (a render's reserved pace slot)."""

    def __init__(
        self,
        delay_or_until: timedelta | float | datetime,
        *,
        reason: str = "",
        payload: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(reason or f"retry later ({delay_or_until})")
        self.delay_or_until = delay_or_until
        self.reason = reason
        self.payload = payload

    def until(self, now: datetime) -> datetime:
        """The moment the job may run again, seen from ``now``."""
        if isinstance(self.delay_or_until, datetime):
            return max(self.delay_or_until, now)
        if isinstance(self.delay_or_until, timedelta):
            return now + self.delay_or_until
        return now + timedelta(seconds=float(self.delay_or_until))


class PermanentJobError(RuntimeError):
    """Retrying cannot help (bad input, a channel that does not exist): the job goes dead."""


@dataclass
class JobContext:
    """What a handler gets: its job (a detached copy), the database, the clock, a way to
    renew its lease during a long step (the worker also renews it from a side thread), and
    ``give_way``: a handler that slept (a render waiting for its channel's pace slot)
    calls it before working again, so requests the process is answering meanwhile go
    first; the worker bounds the wait."""

    job: Job
    database: Database
    clock: Clock
    renew: Callable[[], bool] = field(default=lambda: True, repr=False)
    give_way: Callable[[], None] = field(default=lambda: None, repr=False)

    def heartbeat(self) -> bool:
        """Extend the lease; False means the job was taken over and the handler should stop."""
        return self.renew()


JobHandler = Callable[[JobContext], None]


def backoff(attempt: int, *, rng: random.Random | None = None) -> timedelta:
    """Delay before retry number ``attempt`` (1-based): exponential from 2 s, capped at
    10 min, with "equal jitter" (half fixed, half random) so failed jobs spread out."""
    exponent = min(max(attempt, 1) - 1, 30)
    ceiling = min(BACKOFF_BASE.total_seconds() * (2**exponent), BACKOFF_CAP.total_seconds())
    jitter = (rng or random).uniform(0, ceiling / 2)
    return timedelta(seconds=ceiling / 2 + jitter)


def new_job_row(
    kind: str,
    payload: Mapping[str, Any],
    key: str,
    run_after: datetime,
    max_attempts: int,
    now: datetime,
) -> dict[str, Any]:
    """The columns of a job not yet tried, as ``enqueue``, ``enqueue_many`` and
    ``JobIntake`` insert it."""
    return {
        "kind": kind,
        "payload": dict(payload),
        "idempotency_key": key,
        "state": JobState.pending.value,
        "run_after": run_after,
        "attempts": 0,
        "max_attempts": max_attempts,
        "created_at": now,
        "updated_at": now,
    }


def enqueue(
    *,
    session: Session,
    clock: Clock,
    kind: str,
    payload: Mapping[str, Any],
    idempotency_key: str,
    run_after: datetime | None = None,
    max_attempts: int = 5,
) -> Job:
    """Add a job unless one with ``idempotency_key`` exists; return the job either way.

    An existing job is returned unchanged (whatever its state). Nothing is committed: the
    job rides in the caller's transaction. On PostgreSQL a concurrent enqueue of the same
    key waits for the first transaction and then finds its row.
    """
    now = clock.now()
    values = new_job_row(kind, payload, idempotency_key, run_after or now, max_attempts, now)
    # One round trip when the job is new (the usual case): the row comes back from the
    # INSERT itself; only a repeated key reads the existing row.
    statement = insert_or_ignore(session, Job, key=["idempotency_key"]).values(**values)
    added = session.scalars(statement.returning(Job)).first()
    if added is not None:
        return added
    return session.exec(select(Job).where(col(Job.idempotency_key) == idempotency_key)).one()


def enqueue_many(
    *,
    session: Session,
    clock: Clock,
    kind: str,
    jobs: Sequence[tuple[Mapping[str, Any], str]],
    max_attempts: int = 5,
    rearm: bool = False,
) -> None:
    """``enqueue`` for several ``(payload, idempotency_key)`` of one kind in one
    statement, for callers that need no row back. A key that exists is skipped, unless
    ``rearm``: then a job of that key that has finished (succeeded or dead) is made
    pending again as if new, and one still pending or running is left to do the work."""
    if not jobs:
        return
    now = clock.now()
    rows = [new_job_row(kind, payload, key, now, max_attempts, now) for payload, key in jobs]
    # Rows go as executemany parameters, not as one multi-row VALUES: that statement's
    # text depends on the row count, so SQLAlchemy compiled it anew every time.
    if not rearm:
        session.execute(insert_or_ignore(session, table_of(Job), key=["idempotency_key"]), rows)
        return
    table = table_of(Job)
    fresh = {
        "state": JobState.pending.value,
        "run_after": now,
        "attempts": 0,
        "max_attempts": max_attempts,
        "last_error": None,
        "lease_owner": None,
        "lease_expires_at": None,
        "finished_at": None,
        "updated_at": now,
    }
    # Two comparisons, not IN: an expanding IN cannot go with executemany parameters.
    finished = or_(table.c.state == JobState.succeeded.value, table.c.state == JobState.dead.value)
    statement = dialect_insert(session, table).on_conflict_do_update(
        index_elements=["idempotency_key"], set_=fresh, where=finished
    )
    session.execute(statement, rows)


def claim(
    *,
    database: Database,
    clock: Clock,
    owner: str,
    lease: timedelta,
    kinds: Collection[str] | None = None,
) -> Job | None:
    """Take the oldest due job (pending and due, or running with an expired lease).

    Returns a detached copy with ``attempts`` already counted, or None when nothing is due.
    A job whose lease expired after its last attempt (its worker kept dying on it) is put
    to rest as dead instead of being run once more.
    """
    with database.transaction() as session:
        while True:
            now = clock.now()
            due = or_(
                and_(col(Job.state) == JobState.pending, col(Job.run_after) <= now),
                and_(col(Job.state) == JobState.running, col(Job.lease_expires_at) < now),
            )
            query = select(Job).where(due)
            if kinds is not None:
                query = query.where(col(Job.kind).in_(list(kinds)))
            query = query.order_by(col(Job.run_after), col(Job.id)).limit(1)
            if database.is_postgres:
                query = query.with_for_update(skip_locked=True)
            job = session.exec(query).first()
            if job is None:
                return None
            if job.state == JobState.running and job.attempts >= job.max_attempts:
                job.state = JobState.dead
                job.last_error = (
                    f"lease of {job.lease_owner} expired on the last of "
                    f"{job.max_attempts} attempts (did its worker die?)"
                )
                job.lease_expires_at = None
                job.finished_at = now
                job.updated_at = now
                session.flush()
                continue
            job.state = JobState.running
            job.lease_owner = owner
            job.lease_expires_at = now + lease
            job.attempts += 1
            job.updated_at = now
            session.flush()
            return job


def _guard(job_id: int, owner: str) -> ColumnElement[bool]:
    return and_(
        col(Job.id) == job_id,
        col(Job.lease_owner) == owner,
        col(Job.state) == JobState.running,
    )


def _guarded_update(database: Database, job_id: int, owner: str, **values: Any) -> bool:
    with database.transaction() as session:
        result = session.exec(update(Job).where(_guard(job_id, owner)).values(**values))
        return bool(result.rowcount == 1)


def heartbeat(
    *, database: Database, clock: Clock, job_id: int, owner: str, lease: timedelta
) -> bool:
    """Extend the lease to now + ``lease`` if ``owner`` still holds the job."""
    now = clock.now()
    return _guarded_update(database, job_id, owner, lease_expires_at=now + lease, updated_at=now)


def complete(*, database: Database, clock: Clock, job_id: int, owner: str) -> bool:
    """Mark the job succeeded; False if ``owner`` no longer holds it."""
    now = clock.now()
    return _guarded_update(
        database,
        job_id,
        owner,
        state=JobState.succeeded,
        lease_expires_at=None,
        last_error=None,
        finished_at=now,
        updated_at=now,
    )


def _clean_error(error: str) -> str:
    # Errors quote requests and responses; tokens in them must not reach the jobs table.
    return redact_text(error)[:MAX_ERROR_CHARS]


def fail(
    *,
    database: Database,
    clock: Clock,
    job_id: int,
    owner: str,
    error: str,
    retry_in: timedelta | None = None,
    permanent: bool = False,
) -> str | None:
    """Record a failed attempt and return the job's new state.

    With attempts left the job goes back to pending after ``retry_in`` (default: the
    exponential ``backoff``); out of attempts, or ``permanent``, it goes dead and keeps
    ``last_error``. Returns None, changing nothing, if ``owner`` no longer holds the job.
    """
    with database.transaction() as session:
        query = select(Job).where(_guard(job_id, owner))
        if database.is_postgres:
            query = query.with_for_update()
        job = session.exec(query).first()
        if job is None:
            return None
        now = clock.now()
        values: dict[str, Any] = {
            "last_error": _clean_error(error),
            "lease_expires_at": None,
            "updated_at": now,
        }
        if permanent or job.attempts >= job.max_attempts:
            values.update(state=JobState.dead, finished_at=now)
        else:
            delay = retry_in if retry_in is not None else backoff(job.attempts)
            values.update(state=JobState.pending, run_after=now + delay)
        session.exec(update(Job).where(_guard(job_id, owner)).values(**values))
        return str(values["state"])


def postpone(
    *,
    database: Database,
    clock: Clock,
    job_id: int,
    owner: str,
    until: datetime,
    payload: dict[str, Any] | None = None,
) -> bool:
    """Put the job back to pending at ``until`` and give back the attempt it used
    (``payload``, when given, replaces the job's)."""
    return _guarded_update(
        database,
        job_id,
        owner,
        **({} if payload is None else {"payload": payload}),
        state=JobState.pending,
        run_after=until,
        attempts=func.max(col(Job.attempts) - 1, 0)
        if database.dialect == "sqlite"
        else func.greatest(col(Job.attempts) - 1, 0),
        lease_expires_at=None,
        updated_at=clock.now(),
    )


def get_job(*, session: Session, job_id: int) -> Job | None:
    return session.get(Job, job_id)


def list_jobs(
    *, session: Session, state: str | None = None, kind: str | None = None, limit: int = 50
) -> list[Job]:
    """The newest jobs first, optionally of one state and/or kind."""
    query = select(Job)
    if state is not None:
        query = query.where(col(Job.state) == state)
    if kind is not None:
        query = query.where(col(Job.kind) == kind)
    return list(session.exec(query.order_by(col(Job.id).desc()).limit(limit)))


def retry_job(*, session: Session, clock: Clock, job_id: int) -> Job:
    """Give a dead job a fresh set of attempts, due now. Only dead jobs can be retried."""
    job = session.get(Job, job_id)
    if job is None:
        raise NotFound(f"job {job_id} does not exist")
    now = clock.now()
    result = session.exec(
        update(Job)
        .where(col(Job.id) == job_id, col(Job.state) == JobState.dead)
        .values(
            state=JobState.pending,
            run_after=now,
            attempts=0,
            lease_owner=None,
            lease_expires_at=None,
            finished_at=None,
            updated_at=now,
        )
    )
    if result.rowcount != 1:
        raise Conflict(
            f"job {job_id} is {job.state}, not dead",
            hint="only dead jobs can be retried; pending and running ones will run anyway",
        )
    session.refresh(job)
    return job


def counts_by_state(*, session: Session) -> dict[str, int]:
    """How many jobs are in each state (every state present, zero included)."""
    counts = {state.value: 0 for state in JobState}
    rows = session.exec(select(Job.state, func.count()).group_by(col(Job.state)))
    for state, count in rows:
        counts[str(state)] = int(count)
    return counts
