"""``SHIPBOT_ACK_MODE=deferred`` through signed HTTP on both databases: a write is stored
and acked "received", the worker runs it and answers through the request's response_url,
each delivery counts once, and what the text alone shows to be wrong is refused in the ack."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, func, select

from bot.deferred import ACTION_JOB, COMMAND_JOB
from bot.sandbox.signing import block_actions_body, new_trigger_id, slash_command_body
from bot.sandbox.slack.api import FakeSlackApi
from tests.e2e.conftest import EXAMPLE_CONFIG, RunningBot, serving
from tests.e2e.deploy_helpers import message_with
from workflows.config import load_config
from workflows.deploys.models import Deploy, DeployApproval
from workflows.incidents.models import Incident
from workflows.store.db import Database
from workflows.store.models import AuditEntry, Job

DEPLOYS, APPROVALS = "C0DEPLOYS", "C0APPROVE"


@pytest.fixture
def deferred_bot(database: Database, slack: FakeSlackApi, tmp_path: Path) -> Iterator[RunningBot]:
    with serving(
        load_config(EXAMPLE_CONFIG), database, slack, tmp_path, ack_mode="deferred"
    ) as bot:
        yield bot


def _count(bot: RunningBot, model: Any) -> int:
    with bot.runtime.database.read_session() as session:
        return int(session.exec(select(func.count()).select_from(model)).one())


def _jobs(bot: RunningBot, kind: str) -> list[Job]:
    with bot.runtime.database.read_session() as session:
        return list(session.exec(select(Job).where(col(Job.kind) == kind)))


def _command_body(
    slack: FakeSlackApi, text: str, *, command: str, user: str, channel: str
) -> bytes:
    return slash_command_body(
        command=command,
        text=text,
        user_id=user,
        channel_id=channel,
        trigger_id=new_trigger_id(),
        response_url=slack.response_url(channel=channel, user=user),
    )


def _answers(slack: FakeSlackApi, user: str) -> list[str]:
    return [str(post.body.get("text", "")) for post in slack.response_posts() if post.user == user]


def test_a_deploy_request_is_stored_acked_then_answered_once_even_when_slack_retries(
    deferred_bot: RunningBot, slack: FakeSlackApi
) -> None:
    bot = deferred_bot
    body = _command_body(
        slack, "web 1.2.3 to production", command="/deploy", user="U0ALICE", channel=DEPLOYS
    )
    ack = bot.post_signed(body)
    assert ack.status_code == 200
    assert "Received `/deploy web 1.2.3 to production`" in ack.json()["text"]
    # Stored as one job, not yet a deploy: the flow runs in the worker.
    assert len(_jobs(bot, COMMAND_JOB)) == 1 and _count(bot, Deploy) == 0
    retry = bot.post_signed(body, headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "x"})
    assert retry.status_code == 200 and len(_jobs(bot, COMMAND_JOB)) == 1

    bot.runtime.worker.run_pending()
    answers = _answers(slack, "U0ALICE")
    assert len(answers) == 1 and "waiting for 2 approval(s)" in answers[0]
    assert _count(bot, Deploy) == 1
    with bot.runtime.database.read_session() as session:
        actions = list(session.exec(select(AuditEntry.action)))
    assert actions.count("deploy.requested") == 1
    assert slack.wait_for(lambda: message_with(slack, APPROVALS, "Approval needed"))


def test_a_typo_is_refused_in_the_ack_and_nothing_is_stored(
    deferred_bot: RunningBot, slack: FakeSlackApi
) -> None:
    bot = deferred_bot
    for text, expected in (
        ("wbe 1.2.3 to staging", "There is no service `wbe`"),
        ("web $(reboot) staging", "is not a version I can deploy"),
    ):
        body = _command_body(slack, text, command="/deploy", user="U0ALICE", channel=DEPLOYS)
        assert expected in bot.post_signed(body).json()["text"]
    body = _command_body(
        slack, "declare SEV9 broken", command="/incident", user="U0ALICE", channel="C0INCIDNT"
    )
    assert ":warning:" in bot.post_signed(body).json()["text"]
    assert _jobs(bot, COMMAND_JOB) == [] and _count(bot, Deploy) == 0


def test_a_refusal_found_by_the_flow_comes_back_through_response_url(
    deferred_bot: RunningBot, slack: FakeSlackApi
) -> None:
    bot = deferred_bot
    # Sub-commands answer inline: the lock is in place when the ack says so.
    lock = bot.command("lock production db migration", command="/deploy", user="U0BOB")
    assert "locked" in lock.json()["text"].lower()
    body = _command_body(
        slack, "web 1.2.3 to production", command="/deploy", user="U0ALICE", channel=DEPLOYS
    )
    assert "Received" in bot.post_signed(body).json()["text"]
    bot.runtime.worker.run_pending()
    (answer,) = _answers(slack, "U0ALICE")
    assert answer.startswith(":warning:") and "db migration" in answer
    assert _count(bot, Deploy) == 0
    (job,) = _jobs(bot, COMMAND_JOB)
    assert job.state == "succeeded"  # a refusal is an answer, not a failure to retry


def test_an_approve_click_is_acked_empty_and_counted_once_on_a_double_click(
    deferred_bot: RunningBot, slack: FakeSlackApi
) -> None:
    bot = deferred_bot
    body = _command_body(
        slack, "web 1.2.3 to production", command="/deploy", user="U0ALICE", channel=DEPLOYS
    )
    bot.post_signed(body)
    bot.runtime.worker.run_pending()
    (deploy_id,) = [d.id for d in _all(bot, Deploy)]
    click = block_actions_body(
        user_id="U0BOB",
        action_id="deploy.approve",
        value=f"{deploy_id}:1.2.3",
        channel_id=APPROVALS,
        action_ts="1700000000.000100",
        response_url=slack.response_url(channel=APPROVALS, user="U0BOB"),
    )
    first, second = bot.post_signed(click), bot.post_signed(click)
    assert first.status_code == second.status_code == 200
    assert first.text == second.text == ""
    assert len(_jobs(bot, ACTION_JOB)) == 1 and _count(bot, DeployApproval) == 0
    bot.runtime.worker.run_pending()
    with bot.runtime.database.read_session() as session:
        approvals = list(session.exec(select(DeployApproval)))
    assert [(a.deploy_id, a.approver) for a in approvals] == [(deploy_id, "U0BOB")]
    # A late repeat, after the job ran, stores nothing new either.
    assert bot.post_signed(click).status_code == 200
    bot.runtime.worker.run_pending()
    assert len(_jobs(bot, ACTION_JOB)) == 1 and _count(bot, DeployApproval) == 1


def test_an_incident_declared_with_its_severity_runs_after_the_ack(
    deferred_bot: RunningBot, slack: FakeSlackApi
) -> None:
    bot = deferred_bot
    body = _command_body(
        slack,
        "declare SEV2 checkout is down",
        command="/incident",
        user="U0ALICE",
        channel="C0INCIDNT",
    )
    assert "Received" in bot.post_signed(body).json()["text"]
    assert _count(bot, Incident) == 0
    bot.runtime.worker.run_pending()
    (incident,) = _all(bot, Incident)
    assert incident.title == "checkout is down"
    (answer,) = _answers(slack, "U0ALICE")
    assert f"#{incident.id}" in answer


def test_sub_commands_still_answer_in_the_ack(deferred_bot: RunningBot) -> None:
    bot = deferred_bot
    assert "/deploy status" in bot.command("help", command="/deploy").json()["text"]
    assert "Received" not in bot.command("history web", command="/deploy").json()["text"]
    assert _jobs(bot, COMMAND_JOB) == []


def _all(bot: RunningBot, model: Any) -> list[Any]:
    with bot.runtime.database.read_session() as session:
        return list(session.exec(select(model)))
