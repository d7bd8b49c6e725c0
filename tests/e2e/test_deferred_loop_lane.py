"""Deferred requests dispatched in the event loop (bot/loop_lane.py), through signed HTTP
on both databases: the ack waits for its row's commit without holding the loop, a request
that turns out to need a thread is dispatched again in one, and a row that does not
commit is answered with an error id."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError
from sqlmodel import col, select

from bot import deferred
from bot import errors as bot_errors
from bot.deferred import ACTION_JOB, COMMAND_JOB
from bot.sandbox.signing import block_actions_body, slash_command_body
from bot.sandbox.slack.api import FakeSlackApi
from tests.e2e.conftest import EXAMPLE_CONFIG, RunningBot, serving
from workflows.config import load_config
from workflows.deploys.models import Deploy, DeployApproval
from workflows.store.db import Database
from workflows.store.models import Job

SETTLE = 10.0  # generous bound on waiting for a thread; never a measured figure


@pytest.fixture
def bot(database: Database, slack: FakeSlackApi, tmp_path: Path) -> Iterator[RunningBot]:
    with serving(
        load_config(EXAMPLE_CONFIG), database, slack, tmp_path, ack_mode="deferred"
    ) as running:
        # Bolt calls auth.test on its first dispatch: that one runs in a thread, and the
        # lane opens once the answer is kept.
        assert "/deploy status" in running.command("help", command="/deploy").json()["text"]
        yield running


class _HeldCommits:
    """Wraps the group commit's write: records the thread that commits each batch and
    holds the batches open until ``release`` (or fails them, with ``fail``)."""

    def __init__(self, bot: RunningBot, *, fail: bool = False) -> None:
        self.group = bot.runtime.deps.job_intake._group
        self._insert = self.group._write
        self.group._write = self.write
        self.entered, self.release = threading.Event(), threading.Event()
        self.threads: list[str] = []
        self.fail = fail

    def write(self, connection: Connection, rows: Sequence[dict[str, Any]]) -> None:
        self.threads.append(threading.current_thread().name)
        self.entered.set()
        assert self.release.wait(SETTLE)
        if self.fail:
            raise OperationalError("INSERT", {}, ConnectionError("server closed the connection"))
        self._insert(connection, rows)


def _deploy(slack: FakeSlackApi, text: str) -> bytes:
    return slash_command_body(
        command="/deploy",
        text=text,
        user_id="U0ALICE",
        channel_id="C0DEPLOYS",
        response_url=slack.response_url(channel="C0DEPLOYS", user="U0ALICE"),
    )


def _jobs(bot: RunningBot, kind: str) -> list[Job]:
    with bot.runtime.database.read_session() as session:
        return list(session.exec(select(Job).where(col(Job.kind) == kind)))


def test_the_ack_waits_for_its_commit_and_the_loop_stays_free(
    bot: RunningBot, slack: FakeSlackApi
) -> None:
    held = _HeldCommits(bot)
    with ThreadPoolExecutor(1) as pool:
        ack = pool.submit(bot.post_signed, _deploy(slack, "web 1.2.3 to staging"))
        assert held.entered.wait(SETTLE)
        # The row is being written and the ack has not been sent; the event loop still
        # answers other requests meanwhile.
        assert not ack.done() and _jobs(bot, COMMAND_JOB) == []
        assert bot.http.get("/healthz").json() == {"status": "ok"}
        assert not ack.done()
        held.release.set()
        answer = ack.result(SETTLE)
    assert "Received `/deploy web 1.2.3 to staging`" in answer.json()["text"]
    assert len(_jobs(bot, COMMAND_JOB)) == 1
    # Committed by the group's own thread: the request was not dispatched in a pool
    # thread (which would have led its own batch).
    assert held.threads == ["shipbot-commit_0"]


def test_a_burst_in_the_loop_stores_each_request_once(bot: RunningBot, slack: FakeSlackApi) -> None:
    bodies = [_deploy(slack, f"web 1.2.{n} to staging") for n in range(12)]
    bodies += bodies[:4]  # Slack delivered four of them twice
    with ThreadPoolExecutor(8) as pool:
        acks = list(pool.map(bot.post_signed, bodies))
    assert all("Received" in ack.json()["text"] for ack in acks)
    versions = sorted(job.payload["text"].split()[1] for job in _jobs(bot, COMMAND_JOB))
    assert versions == sorted(f"1.2.{n}" for n in range(12))


def _record_transactions(bot: RunningBot, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The name of the thread of each write transaction opened from now on (the event
    loop runs in the server's thread, "uvicorn")."""
    names: list[str] = []
    database = bot.runtime.database
    transaction = database.transaction

    def recorded(*args: Any, **kwargs: Any) -> Any:
        names.append(threading.current_thread().name)
        return transaction(*args, **kwargs)

    monkeypatch.setattr(database, "transaction", recorded)
    return names


def test_a_sub_command_is_dispatched_again_in_a_thread(
    bot: RunningBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened_in = _record_transactions(bot, monkeypatch)
    lock = bot.command("lock production db migration", command="/deploy", user="U0BOB")
    assert "locked" in lock.json()["text"].lower()
    assert opened_in and "uvicorn" not in opened_in
    status = bot.command("status", command="/deploy").json()["text"]
    assert "db migration" in status
    assert _jobs(bot, COMMAND_JOB) == []


def test_a_deferrable_click_without_a_response_url_runs_in_a_thread(
    bot: RunningBot, slack: FakeSlackApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A click from a view has no response_url to answer through: it is not deferred, so
    its listener asks for a thread and the approval is stored before the ack, in a pool
    thread, never in the server's event loop."""
    bot.post_signed(_deploy(slack, "web 1.2.3 to production"))
    bot.runtime.worker.run_pending()
    with bot.runtime.database.read_session() as session:
        (deploy_id,) = session.exec(select(Deploy.id)).all()
    opened_in = _record_transactions(bot, monkeypatch)
    click = block_actions_body(
        user_id="U0BOB", action_id="deploy.approve", value=f"{deploy_id}:1.2.3"
    )
    assert bot.post_signed(click).status_code == 200
    assert opened_in and "uvicorn" not in opened_in
    with bot.runtime.database.read_session() as session:
        approvals = session.exec(select(DeployApproval.approver)).all()
    assert approvals == ["U0BOB"]
    assert _jobs(bot, ACTION_JOB) == []


def test_a_row_that_does_not_commit_is_answered_with_an_error_id(
    bot: RunningBot, slack: FakeSlackApi
) -> None:
    held = _HeldCommits(bot, fail=True)
    held.release.set()
    answer = bot.post_signed(_deploy(slack, "web 1.2.3 to staging"))
    assert answer.status_code == 200
    text = answer.json()["text"]
    assert "Something went wrong on shipbot's side (error id" in text and "Received" not in text
    assert held.threads == ["shipbot-commit_0"]
    assert _jobs(bot, COMMAND_JOB) == []


def test_a_retry_is_not_taken_by_the_lane(bot: RunningBot, slack: FakeSlackApi) -> None:
    """A retried delivery gets the early look, which reads the store: it runs in a pool
    thread, which leads its own batch."""
    held = _HeldCommits(bot)
    held.release.set()
    body = _deploy(slack, "web 1.2.3 to staging")
    retry = bot.post_signed(body, headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "x"})
    assert "Received" in retry.json()["text"]
    assert held.threads and not held.threads[0].startswith("shipbot-commit")


def test_a_click_that_fails_in_the_loop_is_told_from_a_thread(
    bot: RunningBot, slack: FakeSlackApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Telling the clicker about an unexpected error calls Slack (its response_url): the
    error handler sends the request to a pool thread instead of blocking the loop."""

    def broken(*_: Any, **__: Any) -> None:
        raise RuntimeError("the store is on fire")

    told_in: list[str] = []
    tell = bot_errors._tell_clicker

    def recorded(*args: Any) -> None:
        told_in.append(threading.current_thread().name)
        tell(*args)

    monkeypatch.setattr(deferred, "store_action", broken)
    monkeypatch.setattr(bot_errors, "_tell_clicker", recorded)
    click = block_actions_body(
        user_id="U0BOB",
        action_id="deploy.approve",
        value="1:1.2.3",
        channel_id="C0APPROVE",
        response_url=slack.response_url(channel="C0APPROVE", user="U0BOB"),
    )
    assert bot.post_signed(click).status_code == 200
    assert len(told_in) == 1 and told_in[0] != "uvicorn"
    (answer,) = [post.body["text"] for post in slack.response_posts() if post.user == "U0BOB"]
    assert "Something went wrong on shipbot's side (error id" in answer
