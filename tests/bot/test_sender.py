"""Render jobs against the loopback Slack fake with the real ``WebClient``.

The fake shares the test's ``FakeClock``, so Slack's message ``ts`` and the recorded call
times (``Call.at``) are on the same timeline as the app's pace slots and leases.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.web import SlackResponse
from sqlalchemy import update
from sqlmodel import Session, col

from bot.sandbox.slack.api import FakeSlackApi
from bot.sandbox.slack.state import SlackState
from bot.sender import RendererRegistry, make_render_handler
from bot.worker import Worker
from commands.common.seams import RenderedMessage
from workflows import jobs, views
from workflows.clock import FakeClock
from workflows.store.db import Database
from workflows.store.models import ChannelPace, Job, SlackMessage


@pytest.fixture
def fake(clock: FakeClock) -> Iterator[FakeSlackApi]:
    with FakeSlackApi(state=SlackState(clock=clock)) as api:
        yield api
        problems = api.take_surprises()
        assert not problems, problems


@pytest.fixture
def channel(fake: FakeSlackApi) -> str:
    return fake.add_channel("deploys")


def render_view(session: Session, view_key: str) -> RenderedMessage | None:
    """A renderer reading only stored state: the message row's latest version."""
    message = views.get_message(session=session, view_key=view_key)
    if message is None:
        return None
    text = f"{view_key} v{message.desired_version}"
    return RenderedMessage(text=text, blocks=[{"type": "section", "text": _mrkdwn(text)}])


def _mrkdwn(text: str) -> dict[str, str]:
    return {"type": "mrkdwn", "text": text}


class GatedClient(WebClient):
    """A real ``WebClient`` whose next ``chat.update`` can be held open by a test."""

    def __init__(self, *args: Any, gate: dict[str, threading.Event], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.gate = gate

    def api_call(self, api_method: str, *args: Any, **kwargs: Any) -> SlackResponse:  # type: ignore[override]
        if api_method == "chat.update" and self.gate.pop("armed", None):
            self.gate["entered"].set()
            assert self.gate["proceed"].wait(timeout=30)
        return super().api_call(api_method, *args, **kwargs)


class Harness:
    def __init__(
        self, database: Database, clock: FakeClock, fake: FakeSlackApi, max_rounds: int = 3
    ) -> None:
        self.database = database
        self.clock = clock
        self.fake = fake
        self.sleeps: list[float] = []
        self.sleep_moves_clock = True
        self.gate: dict[str, threading.Event] = {
            "entered": threading.Event(),
            "proceed": threading.Event(),
        }
        registry = RendererRegistry()
        registry.register("deploy:", render_view)
        self.handler = make_render_handler(
            client_factory=self.client, registry=registry, sleep=self._sleep, max_rounds=max_rounds
        )

    def client(self) -> WebClient:
        return GatedClient(token="xoxb-test", base_url=self.fake.url, gate=self.gate)

    def _sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if self.sleep_moves_clock:
            self.clock.advance(seconds=seconds)

    def worker(self, name: str = "w", **options: Any) -> Worker:
        return Worker(
            self.database,
            clock=self.clock,
            handlers={"render": self.handler},
            owner_prefix=name,
            **options,
        )

    def book(self, channel: str, seconds: int) -> None:
        """Another replica books ``channel`` for the next ``seconds``."""
        for _ in range(seconds):
            views.reserve_send_slot(database=self.database, clock=self.clock, channel=channel)

    def posted_at(self, start: datetime) -> list[float]:
        """When each ``chat.postMessage`` came, in seconds after ``start``."""
        return [call.at - start.timestamp() for call in self.fake.calls_to("chat.postMessage")]

    def change(self, view_key: str, channel: str, thread_ts: str | None = None) -> int:
        with self.database.transaction() as session:
            message = views.request_render(
                session=session,
                clock=self.clock,
                view_key=view_key,
                channel=channel,
                thread_ts=thread_ts,
            )
            return message.desired_version

    def message(self, view_key: str) -> SlackMessage:
        message = views.load_message(database=self.database, view_key=view_key)
        assert message is not None
        return message

    def job(self, view_key: str, after: int) -> Job:
        """The render job of ``view_key`` while Slack shows version ``after``."""
        key = views.render_job_key("render", view_key, after)
        with self.database.session() as session:
            found = [
                job
                for job in jobs.list_jobs(session=session, kind="render")
                if job.idempotency_key == key
            ]
            assert len(found) == 1
            return found[0]

    def texts(self, method: str) -> list[str]:
        return [call.body["text"] for call in self.fake.calls_to(method)]


@pytest.fixture
def harness(database: Database, clock: FakeClock, fake: FakeSlackApi) -> Harness:
    return Harness(database, clock, fake)


def test_first_render_posts_then_changes_update_in_place(harness: Harness, channel: str) -> None:
    harness.change("deploy:1", channel)
    assert harness.worker().run_pending() == 1
    posted = harness.message("deploy:1")
    assert posted.ts is not None and posted.rendered_version == 1
    [call] = harness.fake.calls_to("chat.postMessage")
    assert call.body["metadata"] == {
        "event_type": "shipbot_view",
        "event_payload": {"view_key": "deploy:1"},
    }

    harness.change("deploy:1", channel)
    assert harness.worker().run_pending() == 1
    [update_call] = harness.fake.calls_to("chat.update")
    assert (update_call.body["ts"], update_call.body["text"]) == (posted.ts, "deploy:1 v2")
    [shown] = harness.fake.messages(channel)
    assert (shown["ts"], shown["text"]) == (posted.ts, "deploy:1 v2")
    assert harness.message("deploy:1").rendered_version == 2


def test_changes_before_the_render_coalesce_into_one_post(harness: Harness, channel: str) -> None:
    for _ in range(3):
        harness.change("deploy:1", channel)
    assert harness.worker().run_pending() == 1  # the three changes share one job
    assert harness.texts("chat.postMessage") == ["deploy:1 v3"]
    assert harness.fake.calls_to("chat.update") == []
    assert harness.job("deploy:1", 0).state == "succeeded"


def test_rate_limit_postpones_without_using_an_attempt(harness: Harness, channel: str) -> None:
    harness.fake.fail_next("chat.postMessage", status=429, retry_after=1)
    harness.change("deploy:1", channel)
    worker = harness.worker()
    assert worker.run_pending() == 1
    job = harness.job("deploy:1", 0)
    assert (job.state, job.attempts) == ("pending", 0)
    assert job.run_after == harness.clock.now() + timedelta(seconds=1)
    assert worker.run_pending() == 0  # not before Retry-After

    harness.clock.advance(seconds=1)
    assert worker.run_pending() == 1
    assert harness.job("deploy:1", 0).state == "succeeded"
    assert len(harness.fake.calls_to("chat.postMessage")) == 2
    assert [m["text"] for m in harness.fake.messages(channel)] == ["deploy:1 v1"]


def test_server_errors_are_retried_and_deliver_once(harness: Harness, channel: str) -> None:
    harness.fake.fail_next("chat.postMessage", status=500, count=2)
    harness.change("deploy:1", channel)
    worker = harness.worker()
    for attempt in (1, 2):
        assert worker.run_pending() == 1
        job = harness.job("deploy:1", 0)
        assert (job.state, job.attempts) == ("pending", attempt)
        assert job.last_error and "internal_error" in job.last_error
        harness.clock.advance(minutes=10)
    assert worker.run_pending() == 1
    assert harness.job("deploy:1", 0).state == "succeeded"
    assert [m["text"] for m in harness.fake.messages(channel)] == ["deploy:1 v1"]
    # Each retry first looked for a post the failed attempt might have made.
    assert len(harness.fake.calls_to("conversations.history")) == 2


def test_a_post_whose_ts_was_lost_is_adopted_not_repeated(harness: Harness, channel: str) -> None:
    started = harness.clock.now()
    harness.change("deploy:1", channel)
    harness.worker().run_pending()
    original = harness.message("deploy:1").ts
    # The crash: Slack took the post, but the process died before storing its ts.
    with harness.database.transaction() as session:
        session.exec(
            update(SlackMessage)
            .where(col(SlackMessage.view_key) == "deploy:1")
            .values(ts=None, rendered_version=0, post_started_at=started)
        )
    harness.clock.advance(seconds=5)
    harness.change("deploy:1", channel)
    assert harness.worker().run_pending() == 1

    assert len(harness.fake.calls_to("chat.postMessage")) == 1
    [lookup] = harness.fake.calls_to("conversations.history")
    assert float(lookup.body["oldest"]) == started.timestamp() - 1
    [update_call] = harness.fake.calls_to("chat.update")
    assert (update_call.body["ts"], update_call.body["text"]) == (original, "deploy:1 v2")
    recovered = harness.message("deploy:1")
    assert (recovered.ts, recovered.rendered_version, recovered.post_started_at) == (
        original,
        2,
        None,
    )


def test_a_deleted_message_is_posted_anew(harness: Harness, channel: str) -> None:
    harness.change("deploy:1", channel)
    harness.worker().run_pending()
    first = harness.message("deploy:1").ts
    WebClient(token="xoxb-test", base_url=harness.fake.url).chat_delete(channel=channel, ts=first)

    harness.change("deploy:1", channel)
    assert harness.worker().run_pending() == 1
    [shown] = harness.fake.messages(channel)
    assert shown["text"] == "deploy:1 v2" and shown["ts"] != first
    assert harness.message("deploy:1").ts == shown["ts"]


def test_a_missing_channel_kills_the_job_with_slacks_reason(harness: Harness) -> None:
    harness.change("deploy:1", "C-gone")
    assert harness.worker().run_pending() == 1
    job = harness.job("deploy:1", 0)
    assert (job.state, job.attempts) == ("dead", 1)
    assert job.last_error and "channel_not_found" in job.last_error
    message = harness.message("deploy:1")
    assert message.last_error and "channel_not_found" in message.last_error
    assert message.render_owner is None


def test_messages_to_one_channel_are_paced(harness: Harness, channel: str) -> None:
    start = harness.clock.now()
    for number in range(5):
        harness.change(f"deploy:{number}", channel)
    assert harness.worker().run_pending() == 5
    assert harness.posted_at(start) == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert harness.sleeps == [1.0] * 4


def test_a_render_lets_requests_in_flight_go_first_after_its_slot_wait(
    harness: Harness, channel: str
) -> None:
    """The worker gives way before it claims a job; a render claimed before a burst of
    Slack requests and then asleep for its pace slot gives way again before it posts."""
    seen: list[tuple[int, int]] = []  # (posts, slot waits) each time the render gave way

    class Acks:
        def wait_until_quiet(self, timeout: float) -> bool:
            seen.append((len(harness.fake.calls_to("chat.postMessage")), len(harness.sleeps)))
            return True

    harness.change("deploy:1", channel)
    harness.change("deploy:2", channel)
    worker = harness.worker(acks_in_flight=Acks())
    assert worker.run_pending() == 2
    assert harness.sleeps == [1.0]  # the second waited for its slot ...
    assert seen == [(0, 0), (1, 1)]  # ... then gave way, then posted
    assert len(harness.fake.calls_to("chat.postMessage")) == 2


def test_a_far_pace_slot_is_kept_and_the_render_postponed_to_it(
    harness: Harness, channel: str
) -> None:
    start = harness.clock.now()
    harness.book(channel, seconds=3)
    harness.change("deploy:1", channel)
    worker = harness.worker()
    assert worker.run_pending() == 1
    job = harness.job("deploy:1", 0)
    assert (job.state, job.attempts) == ("pending", 0)
    assert job.run_after == start + timedelta(seconds=3)
    assert harness.fake.calls_to("chat.postMessage") == []
    assert next_free_slot(harness, channel) == start + timedelta(seconds=4)  # booked

    harness.clock.advance(seconds=3)
    assert worker.run_pending() == 1
    assert harness.posted_at(start) == [3.0]
    assert next_free_slot(harness, channel) == start + timedelta(seconds=4)  # not booked twice
    assert harness.sleeps == []


def test_cards_queued_for_a_busy_channel_each_run_at_their_own_slot(
    harness: Harness, channel: str
) -> None:
    """Ten cards behind a channel booked for 3 s: each is claimed once to book its slot
    and once at that slot. (Postponed to the next free slot without booking it, all ten
    came back at each free slot and all but one or two were postponed again: 40 runs.)"""
    start = harness.clock.now()
    harness.book(channel, seconds=3)
    for number in range(10):
        harness.change(f"deploy:{number}", channel)
    runs: list[str] = []
    worker = harness.worker(on_job_finished=lambda kind, state, seconds: runs.append(state))
    harness.sleep_moves_clock = False  # as in a worker thread that others overtake
    while (due := next_run_after(harness)) is not None:
        harness.clock.advance(seconds=max((due - harness.clock.now()).total_seconds(), 0))
        worker.run_pending()
    assert runs.count("succeeded") == 10
    assert len(runs) <= 20
    posted = harness.posted_at(start)
    assert len(posted) == 10
    assert all(later - earlier >= 1.0 for earlier, later in itertools.pairwise(posted))


def test_a_slot_spent_before_a_retry_is_not_used_again(harness: Harness, channel: str) -> None:
    harness.book(channel, seconds=3)
    harness.change("deploy:1", channel)
    worker = harness.worker()
    assert worker.run_pending() == 1  # books the slot at 3 s
    harness.clock.advance(seconds=3)
    harness.fake.fail_next("chat.postMessage", status=429, retry_after=1)
    assert worker.run_pending() == 1  # spends it on a post Slack refuses
    assert harness.job("deploy:1", 0).payload == {"view_key": "deploy:1"}
    harness.clock.advance(seconds=1)
    assert worker.run_pending() == 1  # books a new slot instead of reusing the spent one
    assert next_free_slot(harness, channel) == harness.clock.now() + timedelta(seconds=1)
    assert len(harness.fake.calls_to("chat.postMessage")) == 2


def test_a_slot_booked_by_a_failed_attempt_is_not_used_again(
    harness: Harness, channel: str
) -> None:
    """A failed attempt may have spent its slot without saying so (it leaves the payload
    as it was): the retry, a new attempt, books anew."""
    harness.book(channel, seconds=3)
    harness.change("deploy:1", channel)
    worker = harness.worker()
    assert worker.run_pending() == 1  # books the slot at 3 s
    harness.clock.advance(seconds=3)
    harness.fake.fail_next("chat.postMessage", status=500)
    assert worker.run_pending() == 1  # spends it on a post that fails
    assert harness.job("deploy:1", 0).attempts == 1
    harness.clock.advance(minutes=10)
    assert worker.run_pending() == 1
    assert next_free_slot(harness, channel) == harness.clock.now() + timedelta(seconds=1)
    assert harness.job("deploy:1", 0).state == "succeeded"


def test_a_slot_come_a_whole_interval_late_is_booked_anew(harness: Harness, channel: str) -> None:
    """The worker may claim a postponed render late (it gives way to Slack requests first):
    a slot used an interval or more after its time could put three messages in a second."""
    start = harness.clock.now()
    harness.book(channel, seconds=3)
    harness.change("deploy:1", channel)
    worker = harness.worker()
    assert worker.run_pending() == 1  # books the slot at 3 s, the channel free from 4 s
    harness.clock.advance(seconds=5)
    assert worker.run_pending() == 1
    assert harness.posted_at(start) == [5.0]
    assert next_free_slot(harness, channel) == start + timedelta(seconds=6)  # booked anew


def test_a_slot_that_passed_while_the_render_gave_way_is_booked_anew(
    harness: Harness, channel: str
) -> None:
    """Requests in flight held the second render past its slot: it posts on a new one,
    so the third card still comes a whole interval after it."""
    start = harness.clock.now()
    held = [1.5]  # the first give-way after a slot wait lasts 1.5 s

    class Acks:
        def wait_until_quiet(self, timeout: float) -> bool:
            if harness.sleeps and held:
                harness.clock.advance(seconds=held.pop())
            return True

    for number in range(3):
        harness.change(f"deploy:{number}", channel)
    worker = harness.worker(acks_in_flight=Acks())
    assert worker.run_pending() == 3
    posted = harness.posted_at(start)
    assert posted == [0.0, 2.5, 3.5]


def next_free_slot(harness: Harness, channel: str) -> datetime:
    with harness.database.session() as session:
        pace = session.get(ChannelPace, channel)
        assert pace is not None
        return pace.next_at.replace(tzinfo=harness.clock.now().tzinfo)


def next_run_after(harness: Harness) -> datetime | None:
    with harness.database.session() as session:
        pending = jobs.list_jobs(session=session, state="pending", kind="render")
        return min((job.run_after for job in pending), default=None)


def test_thread_replies_are_posted_in_their_thread(harness: Harness, channel: str) -> None:
    parent = WebClient(token="xoxb-test", base_url=harness.fake.url).chat_postMessage(
        channel=channel, text="incident"
    )
    harness.change("deploy:1", channel, thread_ts=parent["ts"])
    harness.worker().run_pending()
    [call] = harness.fake.calls_to("chat.postMessage")[1:]
    assert call.body["thread_ts"] == parent["ts"]
    assert harness.message("deploy:1").ts != parent["ts"]


@contextmanager
def rendering_v2(harness: Harness, channel: str) -> Iterator[None]:
    """Inside: worker A renders v2 (the job of "after v1") and is held inside
    ``chat.update``; on leaving, it is let go and its job ends."""
    harness.change("deploy:1", channel)
    harness.worker("a").run_pending()
    harness.change("deploy:1", channel)
    harness.gate["armed"] = threading.Event()
    thread = threading.Thread(target=harness.worker("a").run_pending, kwargs={"max_jobs": 1})
    thread.start()
    assert harness.gate["entered"].wait(timeout=30)
    yield
    harness.gate["proceed"].set()
    thread.join(timeout=30)
    assert not thread.is_alive()


def test_a_change_made_during_a_render_joins_its_job(harness: Harness, channel: str) -> None:
    with rendering_v2(harness, channel):
        harness.change("deploy:1", channel)
        # Slack still shows v1, so v3 shares the running job: nothing new for B to run.
        assert harness.worker("b").run_pending() == 0
    # A saw v3 arrive while it worked and rendered it too, after v2, in the same job.
    assert harness.texts("chat.update") == ["deploy:1 v2", "deploy:1 v3"]
    assert harness.message("deploy:1").rendered_version == 3
    assert harness.job("deploy:1", 1).state == "succeeded"
    harness.clock.advance(seconds=2)
    assert harness.worker("b").run_pending() == 0
    assert [m["text"] for m in harness.fake.messages(channel)] == ["deploy:1 v3"]


def test_a_render_that_ends_behind_runs_again(
    database: Database, clock: FakeClock, fake: FakeSlackApi, channel: str
) -> None:
    harness = Harness(database, clock, fake, max_rounds=1)
    with rendering_v2(harness, channel):
        harness.change("deploy:1", channel)  # v3 joins the running job of "after v1"
    # One round allowed: A showed v2 and, still behind, put the job back without an attempt.
    assert harness.texts("chat.update") == ["deploy:1 v2"]
    job = harness.job("deploy:1", 1)
    assert (job.state, job.attempts) == ("pending", 0)
    assert harness.worker("b").run_pending() == 1
    assert harness.texts("chat.update") == ["deploy:1 v2", "deploy:1 v3"]
    assert harness.job("deploy:1", 1).state == "succeeded"


def test_registry_picks_the_longest_prefix() -> None:
    registry = RendererRegistry()
    registry.register("deploy:", render_view)
    registry.register("deploy:approval:", lambda _s, _k: None)
    assert registry.resolve("deploy:7") is render_view
    assert registry.resolve("deploy:approval:7") is not render_view
    assert registry.resolve("incident:7") is None
    with pytest.raises(ValueError):
        registry.register("deploy:", render_view)
