"""The ``home.publish`` job against the loopback Slack fake with the real ``WebClient``,
on both databases: changes coalesce into one publish, publishes to one person are paced,
and a 429 postpones the publish without losing it. The fake shares the test's clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.web import SlackResponse
from sqlmodel import col, select

from bot.sandbox.slack.api import FakeSlackApi
from bot.sandbox.slack.methods.home import published_home
from bot.sandbox.slack.state import SlackState
from bot.slack_errors import slack_errors_as_job_outcomes
from bot.worker import Worker
from commands.home.publish import Publisher
from tests.workflows.deploys.conftest import config_from, example_data
from workflows import views
from workflows.clock import FakeClock
from workflows.deploys.directory import NoDirectory
from workflows.home.fanout import HomePorts
from workflows.home.refresh import PUBLISH_JOB, request_home
from workflows.store.db import Database
from workflows.store.models import Job


@pytest.fixture
def fake(clock: FakeClock) -> Iterator[FakeSlackApi]:
    with FakeSlackApi(state=SlackState(clock=clock)) as api:
        api.add_user("U0BOB", name="bob")
        yield api
        assert not api.take_surprises()


class HookedClient(WebClient):
    """A real ``WebClient`` that runs the next queued hook just before a publish."""

    def __init__(self, *args: Any, hooks: list[Callable[[], None]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.hooks = hooks

    def views_publish(self, **kwargs: Any) -> SlackResponse:  # type: ignore[override]
        if self.hooks:
            self.hooks.pop(0)()
        return super().views_publish(**kwargs)


class Harness:
    def __init__(self, database: Database, clock: FakeClock, fake: FakeSlackApi) -> None:
        self.database, self.clock, self.fake = database, clock, fake
        self.sleeps: list[float] = []
        self.before_publish: list[Callable[[], None]] = []
        publisher = Publisher(
            client_factory=lambda: HookedClient(
                token="xoxb-test", base_url=fake.url, hooks=self.before_publish
            ),
            ports=HomePorts(config=config_from(example_data()), directory=NoDirectory()),
            sleep=self._sleep,
        )
        self.worker = Worker(
            database,
            clock=clock,
            handlers={PUBLISH_JOB: slack_errors_as_job_outcomes(publisher.handle)},
        )

    def _sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.clock.advance(seconds=seconds)

    def change(self, user: str = "U0BOB") -> None:
        with self.database.transaction() as session:
            request_home(session=session, clock=self.clock, user_id=user)

    def publishes(self) -> int:
        return len(self.fake.calls_to("views.publish"))

    def pending(self) -> list[Job]:
        with self.database.read_session() as session:
            return list(session.exec(select(Job).where(col(Job.state) == "pending")))


@pytest.fixture
def harness(database: Database, clock: FakeClock, fake: FakeSlackApi) -> Harness:
    return Harness(database, clock, fake)


def test_changes_made_before_the_publish_coalesce_into_one(harness: Harness) -> None:
    for _ in range(3):
        harness.change()
    harness.worker.run_pending()
    assert harness.publishes() == 1
    home = published_home(harness.fake.state, "U0BOB")
    assert home is not None and "Waiting on you" in str(home["blocks"])
    assert harness.pending() == []


def test_publishes_to_one_person_are_paced(harness: Harness) -> None:
    harness.change()
    harness.worker.run_pending()
    harness.change()
    harness.worker.run_pending()
    assert harness.publishes() == 2
    assert harness.sleeps == [pytest.approx(1.0)]  # the second waited for its slot


def test_a_429_postpones_the_publish_without_losing_it(harness: Harness) -> None:
    harness.fake.fail_next("views.publish", status=429, retry_after=3)
    harness.change()
    harness.worker.run_pending()
    (waiting,) = harness.pending()
    assert waiting.attempts == 0  # a 429 uses no attempt
    assert waiting.run_after >= harness.clock.now() + timedelta(seconds=2)
    harness.clock.advance(seconds=3)
    harness.worker.run_pending()
    assert harness.publishes() == 2  # the refused one and the one that went through
    assert published_home(harness.fake.state, "U0BOB") is not None
    assert harness.pending() == []


def test_a_change_made_while_publishing_is_published_too(harness: Harness) -> None:
    harness.change()
    harness.before_publish.append(harness.change)  # lands while the first publish runs
    harness.worker.run_pending()
    # The change shared the running job (keyed on the version Slack showed), so that job
    # was put back instead of finished, and published again.
    assert harness.publishes() == 2
    assert harness.pending() == []
    row = views.load_message(database=harness.database, view_key="home:U0BOB")
    assert row is not None and (row.desired_version, row.rendered_version) == (2, 2)
