"""The worker against a real database: outcome mapping, threads, crash recovery."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import timedelta

import pytest

from bot.http import InFlight
from bot.worker import JobContext, PermanentJobError, RetryLater, Worker
from tests.job_helpers import enqueue_job, load_job
from workflows import jobs
from workflows.clock import FakeClock
from workflows.store.db import Database

LEASE = timedelta(seconds=60)


def test_run_pending_maps_handler_outcomes(database: Database, clock: FakeClock) -> None:
    finished: list[tuple[str, str]] = []

    def later(context: JobContext) -> None:
        raise RetryLater(timedelta(seconds=30), reason="rate limited")

    def broken(context: JobContext) -> None:
        raise PermanentJobError("channel_not_found")

    def flaky(context: JobContext) -> None:
        raise ConnectionError("slack is down")

    handlers = {"ok": lambda context: None, "later": later, "broken": broken, "flaky": flaky}
    ids = {kind: enqueue_job(database, clock, kind, kind=kind) for kind in [*handlers, "unknown"]}
    worker = Worker(
        database,
        clock=clock,
        handlers=handlers,
        on_job_finished=lambda kind, state, _seconds: finished.append((kind, state)),
    )

    assert worker.run_pending() == 5
    assert worker.run_pending() == 0  # nothing is due any more

    states = {kind: load_job(database, job_id) for kind, job_id in ids.items()}
    assert states["ok"].state == "succeeded"
    assert (states["later"].state, states["later"].attempts) == ("pending", 0)
    assert states["later"].run_after == clock.now() + timedelta(seconds=30)
    assert (states["broken"].state, states["broken"].last_error) == (
        "dead",
        "PermanentJobError: channel_not_found",
    )
    assert (states["flaky"].state, states["flaky"].attempts) == ("pending", 1)
    assert states["flaky"].last_error == "ConnectionError: slack is down"
    assert states["flaky"].run_after > clock.now()
    assert states["unknown"].state == "dead"
    assert states["unknown"].last_error == "no handler for job kind 'unknown'"
    assert sorted(finished) == [
        ("broken", "dead"),
        ("flaky", "pending"),
        ("later", "pending"),
        ("ok", "succeeded"),
        ("unknown", "dead"),
    ]


def test_handler_gets_its_job_and_retries_until_it_succeeds(
    database: Database, clock: FakeClock
) -> None:
    seen: list[tuple[str, int]] = []

    def handler(context: JobContext) -> None:
        seen.append((context.job.payload["key"], context.job.attempts))
        if context.job.attempts < 3:
            raise TimeoutError("slow backend")

    job_id = enqueue_job(database, clock, "retry-me", kind="work")
    worker = Worker(database, clock=clock, handlers={"work": handler})
    for _ in range(3):
        assert worker.run_pending() == 1
        clock.advance(minutes=1)
    assert seen == [("retry-me", 1), ("retry-me", 2), ("retry-me", 3)]
    assert load_job(database, job_id).state == "succeeded"


def test_threads_run_fifty_jobs_exactly_once(database: Database, clock: FakeClock) -> None:
    runs: Counter[int] = Counter()
    lock = threading.Lock()
    all_done = threading.Event()

    def handler(context: JobContext) -> None:
        assert context.job.id is not None
        with lock:
            runs[context.job.id] += 1
            if sum(runs.values()) >= 50:
                all_done.set()

    ids = {enqueue_job(database, clock, f"job-{n}", kind="work") for n in range(50)}
    worker = Worker(database, clock=clock, handlers={"work": handler}, threads=4)
    worker.start()
    try:
        assert all_done.wait(timeout=60)
    finally:
        assert worker.stop(timeout=30)
    assert set(runs) == ids
    assert set(runs.values()) == {1}
    with database.session() as session:
        assert jobs.counts_by_state(session=session)["succeeded"] == 50


def test_notify_wakes_an_idle_worker(database: Database, clock: FakeClock) -> None:
    ran = threading.Event()
    # A poll interval far beyond the wait below: only notify() can make the job run in time.
    worker = Worker(
        database,
        clock=clock,
        handlers={"work": lambda _c: ran.set()},
        threads=1,
        poll_interval=300,
    )
    worker.start()
    try:
        # Let the thread find the queue empty and go idle before the job arrives.
        assert not ran.wait(timeout=0.2)
        enqueue_job(database, clock, "wake", kind="work")
        worker.notify()
        assert ran.wait(timeout=30)
    finally:
        assert worker.stop(timeout=30)


def test_a_crashed_workers_job_is_finished_once_by_another(
    database: Database, clock: FakeClock
) -> None:
    runs: list[int] = []
    job_id = enqueue_job(database, clock, "orphan", kind="work")
    # Worker A claims the job and dies: it never runs the handler nor renews its lease.
    assert jobs.claim(database=database, clock=clock, owner="A", lease=LEASE)
    worker_b = Worker(
        database, clock=clock, handlers={"work": lambda c: runs.append(c.job.attempts)}
    )
    assert worker_b.run_pending() == 0  # A's lease still holds

    clock.advance(seconds=61)
    assert worker_b.run_pending() == 1
    assert worker_b.run_pending() == 0
    assert runs == [2]
    assert load_job(database, job_id).state == "succeeded"
    # A wakes up late: its result must not overwrite B's.
    assert not jobs.fail(database=database, clock=clock, job_id=job_id, owner="A", error="x")
    assert load_job(database, job_id).state == "succeeded"


def test_a_long_job_keeps_its_lease(sqlite_database: Database, clock: FakeClock) -> None:
    database = sqlite_database
    job_id = enqueue_job(database, clock, "long", kind="work")
    renewed = threading.Event()
    lease = timedelta(seconds=0.3)  # the side thread renews every 0.1 s of real time

    def handler(context: JobContext) -> None:
        first_expiry = context.job.lease_expires_at
        assert first_expiry is not None
        clock.advance(seconds=10)  # the original lease is long gone
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # wait for the renewal to show in the row
            expiry = load_job(database, job_id).lease_expires_at
            if expiry is not None and expiry > first_expiry:
                renewed.set()
                break
            renewed.wait(timeout=0.05)
        assert jobs.claim(database=database, clock=clock, owner="thief", lease=lease) is None

    worker = Worker(database, clock=clock, handlers={"work": handler}, lease=lease)
    assert worker.run_pending() == 1
    assert renewed.is_set()
    assert load_job(database, job_id).state == "succeeded"


@pytest.mark.parametrize("delay", [timedelta(seconds=5), 5, 5.0])
def test_retry_later_accepts_a_delay_or_a_moment(delay: object, clock: FakeClock) -> None:
    assert RetryLater(delay).until(clock.now()) == clock.now() + timedelta(seconds=5)  # type: ignore[arg-type]
    moment = clock.now() + timedelta(minutes=2)
    assert RetryLater(moment).until(clock.now()) == moment


def test_jobs_wait_while_acks_are_in_flight_but_are_never_starved(
    database: Database, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bot.worker as worker_module

    ran = threading.Event()
    acks = InFlight()
    acks.__enter__()  # an ack is in flight
    monkeypatch.setattr(worker_module, "_MAX_GIVE_WAY", 30.0)
    worker = Worker(
        database,
        clock=clock,
        handlers={"ok": lambda context: ran.set()},
        threads=1,
        poll_interval=0.01,
        acks_in_flight=acks,
    )
    enqueue_job(database, clock, "first", kind="ok")
    worker.start()
    try:
        assert not ran.wait(0.3)  # an ack is in flight: the job waits
        acks.__exit__()  # answered: the job runs without waiting out the cap
        assert ran.wait(10)
        # Requests that never stop cannot hold jobs back for longer than the cap.
        ran.clear()
        monkeypatch.setattr(worker_module, "_MAX_GIVE_WAY", 0.05)
        acks.__enter__()
        enqueue_job(database, clock, "second", kind="ok")
        worker.notify()
        assert ran.wait(10)
    finally:
        worker.stop()
