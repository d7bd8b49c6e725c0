"""Message views on both databases: render requests, render leases, channel pacing."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlmodel import col

from workflows import jobs, views
from workflows.clock import FakeClock
from workflows.store.db import Database
from workflows.store.models import Job, JobState, SlackMessage

LEASE = timedelta(seconds=30)


def _request(database: Database, clock: FakeClock, key: str = "deploy:1", **kw: str) -> int:
    with database.transaction() as session:
        message = views.request_render(
            session=session, clock=clock, view_key=key, channel=kw.get("channel", "C1")
        )
        return message.desired_version


def _message(database: Database, key: str = "deploy:1") -> SlackMessage:
    message = views.load_message(database=database, view_key=key)
    assert message is not None
    return message


def test_changes_before_a_render_share_one_job(database: Database, clock: FakeClock) -> None:
    assert _request(database, clock) == 1
    assert _request(database, clock, channel="C-other") == 2
    message = _message(database)
    assert (message.channel, message.desired_version, message.rendered_version) == ("C1", 2, 0)
    queued = _render_jobs(database)
    assert [job.idempotency_key for job in queued] == ["render:deploy:1:after:0"]
    assert queued[0].max_attempts == views.RENDER_MAX_ATTEMPTS
    assert queued[0].payload == {"view_key": "deploy:1"}


def _render_jobs(database: Database) -> list[Job]:
    with database.session() as session:
        return sorted(jobs.list_jobs(session=session, kind="render"), key=lambda job: job.id or 0)


def _render(database: Database, clock: FakeClock, version: int) -> None:
    """What a render job does: take the lease, record ``version`` as shown, let go."""
    assert views.acquire_render(
        database=database, clock=clock, view_key="deploy:1", owner="r", lease=LEASE
    )
    assert views.record_rendered(
        database=database, clock=clock, view_key="deploy:1", owner="r", version=version, ts="1.0"
    )
    assert views.release_render(database=database, view_key="deploy:1", owner="r")


def _set_job_state(database: Database, key: str, state: JobState) -> None:
    with database.transaction() as session:
        session.exec(
            update(Job).where(col(Job.idempotency_key) == key).values(state=state, attempts=3)
        )


def test_a_change_after_a_render_waits_in_a_job_of_its_own(
    database: Database, clock: FakeClock
) -> None:
    _request(database, clock)
    _set_job_state(database, "render:deploy:1:after:0", JobState.succeeded)
    _render(database, clock, 1)
    _request(database, clock)
    assert [(job.idempotency_key, job.state) for job in _render_jobs(database)] == [
        ("render:deploy:1:after:0", "succeeded"),
        ("render:deploy:1:after:1", "pending"),
    ]


def test_a_running_job_is_left_to_show_the_change(database: Database, clock: FakeClock) -> None:
    _request(database, clock)
    _set_job_state(database, "render:deploy:1:after:0", JobState.running)
    _request(database, clock)
    [job] = _render_jobs(database)
    assert (job.state, job.attempts) == ("running", 3)


@pytest.mark.parametrize("finished", [JobState.dead, JobState.succeeded])
def test_a_finished_job_of_the_shown_version_is_rearmed(
    database: Database, clock: FakeClock, finished: JobState
) -> None:
    _request(database, clock)
    _set_job_state(database, "render:deploy:1:after:0", finished)
    clock.advance(minutes=5)
    _request(database, clock)
    [job] = _render_jobs(database)
    assert (job.state, job.attempts, job.run_after) == ("pending", 0, clock.now())
    assert job.max_attempts == views.RENDER_MAX_ATTEMPTS


def test_request_render_rides_in_the_callers_transaction(
    database: Database, clock: FakeClock
) -> None:
    with pytest.raises(RuntimeError), database.transaction() as session:
        views.request_render(session=session, clock=clock, view_key="k", channel="C1")
        raise RuntimeError("the change failed")
    assert views.load_message(database=database, view_key="k") is None
    with database.session() as session:
        assert jobs.list_jobs(session=session) == []


def test_concurrent_requests_for_a_new_view_make_one_row(
    database: Database, clock: FakeClock
) -> None:
    versions: list[int] = []
    barrier = threading.Barrier(4)

    def request() -> None:
        barrier.wait()
        versions.append(_request(database, clock, "incident:7"))

    threads = [threading.Thread(target=request) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(versions) == [1, 2, 3, 4]
    assert _message(database, "incident:7").desired_version == 4


def test_render_lease_is_exclusive_until_it_expires(database: Database, clock: FakeClock) -> None:
    _request(database, clock)
    args = {"database": database, "clock": clock, "view_key": "deploy:1", "lease": LEASE}
    held = views.acquire_render(**args, owner="A")
    assert held is not None and held.render_owner == "A"
    assert views.acquire_render(**args, owner="B") is None
    assert views.acquire_render(**args, owner="A") is not None  # the owner may extend

    clock.advance(seconds=31)
    assert views.acquire_render(**args, owner="B") is not None
    record = {"database": database, "clock": clock, "view_key": "deploy:1", "version": 1}
    assert views.record_rendered(**record, owner="A", ts="1.000") is False
    assert views.release_render(database=database, view_key="deploy:1", owner="A") is False
    assert views.record_rendered(**record, owner="B", ts="2.000") is True
    assert views.release_render(database=database, view_key="deploy:1", owner="B") is True
    message = _message(database)
    assert (message.ts, message.rendered_version, message.render_owner) == ("2.000", 1, None)
    assert views.acquire_render(**args, owner="A") is not None


def test_acquire_render_of_an_unknown_view_is_none(database: Database, clock: FakeClock) -> None:
    assert (
        views.acquire_render(database=database, clock=clock, view_key="x", owner="A", lease=LEASE)
        is None
    )


def test_post_started_keeps_the_earliest_start_until_rendered(
    database: Database, clock: FakeClock
) -> None:
    _request(database, clock)
    views.acquire_render(
        database=database, clock=clock, view_key="deploy:1", owner="A", lease=LEASE
    )
    first = clock.now()
    marker = {"database": database, "clock": clock, "view_key": "deploy:1", "owner": "A"}
    assert views.mark_post_started(**marker)
    clock.advance(seconds=5)
    assert views.mark_post_started(**marker)
    assert _message(database).post_started_at == first
    assert views.record_rendered(**marker, version=1, ts="9.1")
    message = _message(database)
    assert (message.post_started_at, message.ts) == (None, "9.1")
    assert views.record_render_error(**marker, error="channel_not_found")
    assert _message(database).last_error == "channel_not_found"


def test_send_slots_are_spaced_per_channel(database: Database, clock: FakeClock) -> None:
    start = clock.now()
    slots = [
        views.reserve_send_slot(database=database, clock=clock, channel="C1") for _ in range(5)
    ]
    assert slots == [start + timedelta(seconds=n) for n in range(5)]
    # Another channel has its own pace.
    assert views.reserve_send_slot(database=database, clock=clock, channel="C2") == start
    # An idle channel's slot is now, not in the past.
    clock.advance(minutes=1)
    assert views.reserve_send_slot(database=database, clock=clock, channel="C1") == clock.now()


def test_concurrent_slot_reservations_never_collide(database: Database, clock: FakeClock) -> None:
    slots: list[object] = []
    barrier = threading.Barrier(4)

    def reserve() -> None:
        barrier.wait()
        for _ in range(5):
            slots.append(views.reserve_send_slot(database=database, clock=clock, channel="C1"))

    threads = [threading.Thread(target=reserve) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(slots) == [clock.now() + timedelta(seconds=n) for n in range(20)]  # type: ignore[type-var]


def test_push_back_holds_the_channel_and_never_pulls_it_forward(
    database: Database, clock: FakeClock
) -> None:
    pace = {"database": database, "clock": clock, "channel": "C1"}
    until = clock.now() + timedelta(seconds=30)
    views.push_back_channel(**pace, until=until)
    views.push_back_channel(**pace, until=clock.now() + timedelta(seconds=2))
    assert views.reserve_send_slot(**pace) == until


def test_several_messages_are_asked_for_and_rearmed_together(
    database: Database, clock: FakeClock
) -> None:
    targets = [views.RenderTarget(view_key=f"alert-group:{n}", channel="C1") for n in (1, 2)]
    for _ in range(2):
        with database.transaction() as session:
            views.request_renders(session=session, clock=clock, targets=targets)
        for job in _render_jobs(database):
            _set_job_state(database, job.idempotency_key, JobState.dead)
    queued = _render_jobs(database)
    assert [(job.idempotency_key, job.state) for job in queued] == [
        ("render:alert-group:1:after:0", "dead"),
        ("render:alert-group:2:after:0", "dead"),
    ]
    with database.transaction() as session:
        rows = views.request_renders(session=session, clock=clock, targets=targets)
    assert {key: row.desired_version for key, row in rows.items()} == {
        "alert-group:1": 3,
        "alert-group:2": 3,
    }
    assert [job.state for job in _render_jobs(database)] == ["pending", "pending"]
