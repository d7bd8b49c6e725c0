"""bot.deferred's job side on its own: what a deferred handler's outcome becomes, answered
through a real response_url of the Slack fake."""

from __future__ import annotations

import pytest

from bot.deferred import _run
from bot.sandbox.slack.api import FakeSlackApi
from commands.common.reply import Reply
from workflows.clock import SystemClock
from workflows.errors import DuplicateDelivery, UserError
from workflows.jobs import JobContext
from workflows.store.db import Database
from workflows.store.models import Job


def _context(database: Database, slack: FakeSlackApi, *, attempts: int) -> JobContext:
    url = slack.response_url(channel="C0DEPLOYS", user="U0ALICE")
    job = Job(
        id=7,
        kind="slack.deferred_command",
        payload={"response_url": url},
        idempotency_key="deferred:k",
        attempts=attempts,
        max_attempts=5,
    )
    return JobContext(job=job, database=database, clock=SystemClock())


def _texts(slack: FakeSlackApi) -> list[str]:
    return [str(post.body.get("text")) for post in slack.response_posts()]


def _boom() -> Reply:
    raise RuntimeError("database went away")


def test_an_unexpected_error_is_retried_and_only_the_last_attempt_tells_the_person(
    database: Database, slack: FakeSlackApi
) -> None:
    with pytest.raises(RuntimeError):
        _run(_context(database, slack, attempts=4), _boom)
    assert _texts(slack) == []
    _run(_context(database, slack, attempts=5), _boom)
    (text,) = _texts(slack)
    assert "Something went wrong on shipbot's side (error id `" in text
    assert "database went away" not in text


def test_a_refusal_is_the_answer_and_a_repeat_answers_nothing(
    database: Database, slack: FakeSlackApi
) -> None:
    def refuse() -> Reply:
        raise UserError("production is locked", hint="Ask <@U0BOB>.")

    def repeat() -> Reply:
        raise DuplicateDelivery("slack:command:x")

    _run(_context(database, slack, attempts=1), refuse)
    _run(_context(database, slack, attempts=1), repeat)
    assert _texts(slack) == [":warning: production is locked\nAsk <@U0BOB>."]


def test_the_answer_is_redacted_on_its_way_out(database: Database, slack: FakeSlackApi) -> None:
    secret = "xoxb-" + "1234567890-" * 3 + "abcdef"
    _run(_context(database, slack, attempts=1), lambda: Reply(text=f"token {secret}"))
    (text,) = _texts(slack)
    assert secret not in text and "[redacted]" in text
