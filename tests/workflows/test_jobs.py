"""Durable jobs on both databases: idempotent enqueue, claims, leases, retries."""

from __future__ import annotations

import random
import threading
from datetime import timedelta

import pytest

from tests.job_helpers import enqueue_job, load_job
from workflows import jobs
from workflows.clock import FakeClock
from workflows.errors import Conflict
from workflows.store.db import Database
from workflows.store.models import JobState

LEASE = timedelta(seconds=60)


def test_enqueue_same_key_twice_makes_one_job(database: Database, clock: FakeClock) -> None:
    first = enqueue_job(database, clock, "deploy:1")
    second = enqueue_job(database, clock, "deploy:1", kind="other")
    assert first == second
    with database.session() as session:
        rows = jobs.list_jobs(session=session)
    assert [(job.kind, job.payload) for job in rows] == [("test", {"key": "deploy:1"})]


def test_enqueue_rolls_back_with_its_transaction(database: Database, clock: FakeClock) -> None:
    with pytest.raises(RuntimeError), database.transaction() as session:
        jobs.enqueue(session=session, clock=clock, kind="t", payload={}, idempotency_key="k")
        raise RuntimeError("the intent failed")
    with database.session() as session:
        assert jobs.list_jobs(session=session) == []


def test_claim_takes_the_oldest_due_job(database: Database, clock: FakeClock) -> None:
    later = enqueue_job(database, clock, "later", run_after=clock.now() + timedelta(seconds=30))
    first = enqueue_job(database, clock, "first")
    clock.advance(seconds=1)
    second = enqueue_job(database, clock, "second")

    claimed = [jobs.claim(database=database, clock=clock, owner="w", lease=LEASE)]
    claimed.append(jobs.claim(database=database, clock=clock, owner="w", lease=LEASE))
    assert [job.id for job in claimed if job] == [first, second]
    assert jobs.claim(database=database, clock=clock, owner="w", lease=LEASE) is None

    clock.advance(seconds=30)
    job = jobs.claim(database=database, clock=clock, owner="w", lease=LEASE)
    assert job is not None
    assert (job.id, job.state, job.attempts, job.lease_owner) == (later, "running", 1, "w")
    assert job.lease_expires_at == clock.now() + LEASE


def test_claim_filters_by_kind(database: Database, clock: FakeClock) -> None:
    enqueue_job(database, clock, "a", kind="render")
    wanted = enqueue_job(database, clock, "b", kind="deploy")
    job = jobs.claim(database=database, clock=clock, owner="w", lease=LEASE, kinds={"deploy"})
    assert job is not None and job.id == wanted


def test_concurrent_claims_never_share_a_job(database: Database, clock: FakeClock) -> None:
    ids = {enqueue_job(database, clock, f"job-{n}") for n in range(40)}
    claimed: dict[str, list[int]] = {}
    barrier = threading.Barrier(4)

    def claimer(owner: str) -> None:
        mine = claimed.setdefault(owner, [])
        barrier.wait()
        while job := jobs.claim(database=database, clock=clock, owner=owner, lease=LEASE):
            assert job.id is not None
            mine.append(job.id)

    threads = [threading.Thread(target=claimer, args=(f"w{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    every_claim = [job_id for owned in claimed.values() for job_id in owned]
    assert sorted(every_claim) == sorted(ids)  # each job exactly once


def test_expired_lease_is_taken_over_and_the_stale_owner_is_locked_out(
    database: Database, clock: FakeClock
) -> None:
    job_id = enqueue_job(database, clock, "k")
    assert jobs.claim(database=database, clock=clock, owner="A", lease=LEASE)
    clock.advance(seconds=59)
    assert jobs.claim(database=database, clock=clock, owner="B", lease=LEASE) is None

    clock.advance(seconds=2)
    taken = jobs.claim(database=database, clock=clock, owner="B", lease=LEASE)
    assert taken is not None and taken.id == job_id and taken.attempts == 2

    stale = {"database": database, "clock": clock, "job_id": job_id, "owner": "A"}
    assert jobs.complete(**stale) is False
    assert jobs.fail(**stale, error="boom") is None
    assert jobs.heartbeat(**stale, lease=LEASE) is False
    assert jobs.postpone(**stale, until=clock.now()) is False
    assert load_job(database, job_id).lease_owner == "B"

    assert jobs.complete(database=database, clock=clock, job_id=job_id, owner="B") is True
    done = load_job(database, job_id)
    assert (done.state, done.finished_at) == (JobState.succeeded, clock.now())


def test_heartbeat_keeps_the_lease(database: Database, clock: FakeClock) -> None:
    job_id = enqueue_job(database, clock, "k")
    jobs.claim(database=database, clock=clock, owner="A", lease=LEASE)
    clock.advance(seconds=50)
    assert jobs.heartbeat(database=database, clock=clock, job_id=job_id, owner="A", lease=LEASE)
    clock.advance(seconds=50)
    assert jobs.claim(database=database, clock=clock, owner="B", lease=LEASE) is None


def test_failures_back_off_then_the_job_goes_dead(database: Database, clock: FakeClock) -> None:
    job_id = enqueue_job(database, clock, "k", max_attempts=3)
    for attempt in (1, 2):
        job = jobs.claim(database=database, clock=clock, owner="w", lease=LEASE)
        assert job is not None and job.attempts == attempt
        state = jobs.fail(database=database, clock=clock, job_id=job_id, owner="w", error="nope")
        assert state == JobState.pending
        row = load_job(database, job_id)
        delay = row.run_after - clock.now()
        ceiling = 2 * 2 ** (attempt - 1)
        assert timedelta(seconds=ceiling / 2) <= delay <= timedelta(seconds=ceiling)
        assert jobs.claim(database=database, clock=clock, owner="w", lease=LEASE) is None
        clock.advance(seconds=ceiling)
    jobs.claim(database=database, clock=clock, owner="w", lease=LEASE)
    state = jobs.fail(database=database, clock=clock, job_id=job_id, owner="w", error="last")
    assert state == JobState.dead
    dead = load_job(database, job_id)
    assert (dead.state, dead.attempts, dead.last_error) == ("dead", 3, "last")
    clock.advance(hours=1)
    assert jobs.claim(database=database, clock=clock, owner="w", lease=LEASE) is None


def test_fail_honours_retry_in_and_permanent(database: Database, clock: FakeClock) -> None:
    job_id = enqueue_job(database, clock, "k")
    owner = {"database": database, "clock": clock, "job_id": job_id, "owner": "w"}
    jobs.claim(database=database, clock=clock, owner="w", lease=LEASE)
    jobs.fail(**owner, error="later", retry_in=timedelta(seconds=7))
    assert load_job(database, job_id).run_after == clock.now() + timedelta(seconds=7)
    clock.advance(seconds=7)
    jobs.claim(database=database, clock=clock, owner="w", lease=LEASE)
    assert jobs.fail(**owner, error="no such channel", permanent=True) == JobState.dead
    assert load_job(database, job_id).attempts == 2


def test_a_job_whose_worker_keeps_dying_goes_dead(database: Database, clock: FakeClock) -> None:
    job_id = enqueue_job(database, clock, "poison", max_attempts=2)
    for _ in range(2):
        assert jobs.claim(database=database, clock=clock, owner="w", lease=LEASE)
        clock.advance(seconds=61)
    assert jobs.claim(database=database, clock=clock, owner="w", lease=LEASE) is None
    dead = load_job(database, job_id)
    assert dead.state == JobState.dead
    assert dead.last_error and "expired" in dead.last_error


def test_postpone_gives_the_attempt_back(database: Database, clock: FakeClock) -> None:
    job_id = enqueue_job(database, clock, "k", max_attempts=1)
    for _ in range(3):
        jobs.claim(database=database, clock=clock, owner="w", lease=LEASE)
        until = clock.now() + timedelta(seconds=5)
        assert jobs.postpone(database=database, clock=clock, job_id=job_id, owner="w", until=until)
        row = load_job(database, job_id)
        assert (row.state, row.attempts, row.run_after) == ("pending", 0, until)
        clock.advance(seconds=5)
    # The one real attempt is still there.
    job = jobs.claim(database=database, clock=clock, owner="w", lease=LEASE)
    assert job is not None and job.attempts == 1


def test_retry_job_revives_only_dead_jobs(database: Database, clock: FakeClock) -> None:
    job_id = enqueue_job(database, clock, "k", max_attempts=1)
    with database.transaction() as session, pytest.raises(Conflict):
        jobs.retry_job(session=session, clock=clock, job_id=job_id)
    jobs.claim(database=database, clock=clock, owner="w", lease=LEASE)
    jobs.fail(database=database, clock=clock, job_id=job_id, owner="w", error="x")
    clock.advance(minutes=5)
    with database.transaction() as session:
        revived = jobs.retry_job(session=session, clock=clock, job_id=job_id)
        assert (revived.state, revived.attempts, revived.run_after) == (
            "pending",
            0,
            clock.now(),
        )
    job = jobs.claim(database=database, clock=clock, owner="w", lease=LEASE)
    assert job is not None and job.id == job_id


def test_list_and_count_by_state(database: Database, clock: FakeClock) -> None:
    done = enqueue_job(database, clock, "a", kind="render")
    enqueue_job(database, clock, "b", kind="deploy")
    enqueue_job(database, clock, "c", kind="render")
    jobs.claim(database=database, clock=clock, owner="w", lease=LEASE)
    jobs.complete(database=database, clock=clock, job_id=done, owner="w")
    with database.session() as session:
        assert jobs.counts_by_state(session=session) == {
            "pending": 2,
            "running": 0,
            "succeeded": 1,
            "dead": 0,
        }
        pending_renders = jobs.list_jobs(session=session, state="pending", kind="render")
        assert [job.idempotency_key for job in pending_renders] == ["c"]
        assert len(jobs.list_jobs(session=session, limit=2)) == 2


def test_backoff_grows_and_is_capped() -> None:
    rng = random.Random(7)
    for attempt, ceiling in [(1, 2), (2, 4), (5, 32), (10, 600), (60, 600)]:
        delay = jobs.backoff(attempt, rng=rng).total_seconds()
        assert ceiling / 2 <= delay <= ceiling


def test_last_error_is_redacted(database: Database, clock: FakeClock) -> None:
    job_id = enqueue_job(database, clock, "k")
    jobs.claim(database=database, clock=clock, owner="w", lease=LEASE)
    jobs.fail(
        database=database,
        clock=clock,
        job_id=job_id,
        owner="w",
        error="POST failed with token " + "xox" + "b-1234567890-abcdefghij",
    )
    last_error = load_job(database, job_id).last_error
    assert last_error is not None
    assert "1234567890-abcdefghij" not in last_error and "POST failed" in last_error
