"""The job worker: threads that claim durable jobs and run their handlers (rule 1).

Handler outcomes map onto job transitions: a return completes the job, ``RetryLater``
postpones it without using an attempt, ``PermanentJobError`` (or an unknown kind) puts it
to rest as dead, and any other exception is a failed attempt retried with backoff. While a
handler runs, a side thread renews its lease, so only a dead process loses its jobs — and
then only until the lease expires and another worker claims them.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Protocol, TypedDict

from bot import log_context
from workflows import jobs
from workflows.clock import Clock
from workflows.jobs import JobContext, JobHandler, PermanentJobError, RetryLater
from workflows.store.db import Database
from workflows.store.models import Job, JobState
from workflows.store.write_gate import mark_background_thread

__all__ = ["JobContext", "JobHandler", "PermanentJobError", "RetryLater", "Worker"]

log = logging.getLogger(__name__)

JobFinishedHook = Callable[[str, str, float], None]
"""``on_job_finished(kind, state, seconds)``: state is the job's new state ("succeeded",
"pending" when retried or postponed, "dead"), or "lost" if its lease was taken over."""

_MAX_IDLE_BACKOFF = 5.0  # seconds between claims while the database is unreachable
# While Slack requests are being acknowledged in this process, a worker thread waits this
# long at most before its next claim: acks have a 3 s deadline, jobs none, and on 2 cores
# every job step takes the GIL from an ack. A burst of Slack requests is over well inside
# 2 s; a steady stream longer than that still lets each thread claim a job every 2 s. At
# 0.25 s the worker threads still held half of the GIL samples py-spy took during a burst
# of 400 deferred requests (docs/performance.md).
_MAX_GIVE_WAY = 2.0
# It sleeps until none is in flight (after a burst, for ``bot.http.QUIET_AFTER_ACKS``),
# waking this often only to notice a stop.
# (Polling every 5 ms instead meant up to 800 wake-ups a second from 4 threads in a burst.)
_GIVE_WAY_STEP = 0.1


class AcksInFlight(Protocol):
    """The requests from outside this process is answering (``bot.http.InFlight``)."""

    def wait_until_quiet(self, timeout: float) -> bool:
        """True once none is in flight (after a burst: for a moment; at once if so
        already), False after ``timeout`` s."""
        ...


def _default_owner_prefix() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def _short_error(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}"
    return text if len(text) <= 500 else text[:497] + "..."


class _JobRef(TypedDict):
    """Which job, claimed by whom: the arguments every lease-guarded ``jobs`` call takes."""

    database: Database
    clock: Clock
    job_id: int
    owner: str


class _LeaseKeeper:
    """Renews a job's lease from a side thread every third of the lease."""

    def __init__(self, renew: Callable[[], bool], lease: timedelta) -> None:
        self._renew = renew
        self._interval = max(lease.total_seconds() / 3, 0.05)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="job-heartbeat", daemon=True)

    def __enter__(self) -> _LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        mark_background_thread()
        while not self._stop.wait(self._interval):
            try:
                if not self._renew():
                    log.warning("lost the lease of a running job; another worker took it over")
                    return
            except Exception:  # the database may blip; the next beat tries again
                log.exception("job heartbeat failed")


class Worker:
    """Claims and runs jobs on ``threads`` daemon threads (``start``/``stop``), or
    synchronously in the caller's thread (``run_pending``, for tests and the CLI)."""

    def __init__(
        self,
        database: Database,
        *,
        clock: Clock,
        handlers: Mapping[str, JobHandler],
        threads: int = 4,
        lease: timedelta = timedelta(seconds=60),
        poll_interval: float = 0.5,
        owner_prefix: str | None = None,
        on_job_finished: JobFinishedHook | None = None,
        acks_in_flight: AcksInFlight | None = None,
    ) -> None:
        self.database = database
        self.clock = clock
        self.handlers = dict(handlers)
        self.threads = threads
        self.lease = lease
        self.poll_interval = poll_interval
        self.owner_prefix = owner_prefix or _default_owner_prefix()
        self.on_job_finished = on_job_finished
        self.acks_in_flight = acks_in_flight
        self._stopping = threading.Event()
        self._wake = threading.Condition()
        self._wake_generation = 0
        self._threads: list[threading.Thread] = []

    # -- running -----------------------------------------------------------------------

    def run_pending(self, max_jobs: int = 100) -> int:
        """Run due jobs one after another in this thread; return how many ran."""
        owner = f"{self.owner_prefix}-sync"
        ran = 0
        while ran < max_jobs and self.run_one(owner):
            ran += 1
        return ran

    def run_one(self, owner: str) -> bool:
        """Claim one due job and run it; False if nothing was due."""
        job = jobs.claim(database=self.database, clock=self.clock, owner=owner, lease=self.lease)
        if job is None:
            return False
        self._run(job, owner)
        return True

    def _run(self, job: Job, owner: str) -> None:
        # Lines logged while the job runs name it, and the object it works on.
        subjects = {k: v for k, v in job.payload.items() if k.endswith("_id") and type(v) is int}
        with log_context.bound(job_id=job.id, job_kind=job.kind, **subjects):
            self._run_bound(job, owner)

    def _run_bound(self, job: Job, owner: str) -> None:
        assert job.id is not None
        job_id = job.id
        started = time.monotonic()
        common = _JobRef(database=self.database, clock=self.clock, job_id=job_id, owner=owner)

        def renew() -> bool:
            return jobs.heartbeat(**common, lease=self.lease)

        handler = self.handlers.get(job.kind)
        state: str | None
        if handler is None:
            log.error("job %s: no handler for kind %r", job_id, job.kind)
            state = jobs.fail(
                **common, error=f"no handler for job kind {job.kind!r}", permanent=True
            )
        else:
            context = JobContext(
                job=job,
                database=self.database,
                clock=self.clock,
                renew=renew,
                give_way=self._give_way,
            )
            state = self._call(handler, context, common)
        seconds = time.monotonic() - started
        if state is None:
            log.warning(
                "job %s (%s): lease lost before it finished; result dropped", job_id, job.kind
            )
            state = "lost"
        if self.on_job_finished is not None:
            try:
                self.on_job_finished(job.kind, state, seconds)
            except Exception:
                log.exception("on_job_finished hook failed")

    def _call(self, handler: JobHandler, context: JobContext, common: _JobRef) -> str | None:
        job = context.job
        try:
            with _LeaseKeeper(context.heartbeat, self.lease):
                handler(context)
        except RetryLater as later:
            until = later.until(self.clock.now())
            log.info("job %s (%s): retry at %s: %s", job.id, job.kind, until, later.reason)
            ok = jobs.postpone(**common, until=until, payload=later.payload)
            return JobState.pending if ok else None
        except PermanentJobError as error:
            log.error("job %s (%s) failed permanently: %s", job.id, job.kind, error)
            return jobs.fail(**common, error=_short_error(error), permanent=True)
        except Exception as error:
            log.exception("job %s (%s) attempt %s failed", job.id, job.kind, job.attempts)
            return jobs.fail(**common, error=_short_error(error))
        return JobState.succeeded if jobs.complete(**common) else None

    # -- threads -----------------------------------------------------------------------

    def start(self) -> None:
        """Start the worker threads (daemons: they never keep the process alive)."""
        if self._threads:
            raise RuntimeError("worker already started")
        self._stopping.clear()
        for number in range(self.threads):
            owner = f"{self.owner_prefix}-{number}"
            thread = threading.Thread(
                target=self._loop, args=(owner,), name=f"shipbot-worker-{number}", daemon=True
            )
            self._threads.append(thread)
            thread.start()

    def stop(self, timeout: float = 30.0) -> bool:
        """Let running jobs finish, then stop; True if every thread stopped in time.

        A job still running after ``timeout`` keeps its lease until it expires, after which
        another worker (or the next start) takes it over.
        """
        self._stopping.set()
        self.notify()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(deadline - time.monotonic(), 0))
        stopped = not any(thread.is_alive() for thread in self._threads)
        self._threads = []
        return stopped

    def notify(self) -> None:
        """Wake idle threads now (call after committing a new job) instead of at the next poll."""
        with self._wake:
            self._wake_generation += 1
            self._wake.notify_all()

    def _give_way(self) -> None:
        """Let the Slack requests in flight in this process be acknowledged first (up to
        ``_MAX_GIVE_WAY``, so a steady stream of requests cannot starve the jobs)."""
        if self.acks_in_flight is None:
            return
        deadline = time.monotonic() + _MAX_GIVE_WAY
        while not self._stopping.is_set():
            left = deadline - time.monotonic()
            if left <= 0 or self.acks_in_flight.wait_until_quiet(min(left, _GIVE_WAY_STEP)):
                return

    def _loop(self, owner: str) -> None:
        # Jobs can wait; a Slack request waiting for SQLite's write lock cannot.
        mark_background_thread()
        idle_backoff = self.poll_interval
        while not self._stopping.is_set():
            with self._wake:
                generation = self._wake_generation
            self._give_way()
            try:
                ran = self.run_one(owner)
                idle_backoff = self.poll_interval
            except Exception:
                log.exception("worker %s could not claim a job", owner)
                ran = False
                idle_backoff = min(idle_backoff * 2, _MAX_IDLE_BACKOFF)
            if ran:
                continue
            with self._wake:
                # A notify between our claim and now must not be slept through.
                if generation == self._wake_generation and not self._stopping.is_set():
                    self._wake.wait(idle_backoff)
