"""Issue 3's scenario, as written, through signed HTTP into the running app with the
example config and the real `command` backend running examples/rollout.sh."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import col, select

from bot.cli import main
from tests.e2e.conftest import RunningBot, wait_until
from tests.e2e.deploy_helpers import buttons, click, message_with, nothing_due
from workflows.deploys.models import Deploy, DeployApproval
from workflows.store.models import AuditEntry

DEPLOYS, APPROVALS = "C0DEPLOYS", "C0APPROVE"


@pytest.fixture(autouse=True)
def fast_rollout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHIPBOT_ROLLOUT_SECONDS", "0.05")


def _deploy_message(slack: Any, deploy_id: int) -> dict[str, Any] | None:
    return message_with(slack, DEPLOYS, f"Deploy #{deploy_id}:")


def _wait_state(bot: RunningBot, slack: Any, deploy_id: int, label: str) -> dict[str, Any]:
    """Wait until the deploy's one message says ``label`` (its state, rendered)."""

    def shown() -> dict[str, Any] | None:
        message = _deploy_message(slack, deploy_id)
        return message if message and message["text"].endswith(label) else None

    return slack.wait_for(shown, timeout=30)


def _dm(slack: Any, user: str) -> list[dict[str, Any]]:
    """Messages in the bot's direct-message channel with ``user``."""
    return slack.messages(slack.state.im_channel(user).id)


def _deploys(bot: RunningBot) -> list[Deploy]:
    with bot.runtime.database.read_session() as session:
        return list(session.exec(select(Deploy).order_by(col(Deploy.id))))


def _approvals(bot: RunningBot, deploy_id: int) -> list[DeployApproval]:
    with bot.runtime.database.read_session() as session:
        return list(
            session.exec(select(DeployApproval).where(col(DeployApproval.deploy_id) == deploy_id))
        )


def _approve_through(bot: RunningBot, slack: Any, deploy_id: int, users: list[str]) -> None:
    for user in users:
        request = slack.wait_for(lambda: message_with(slack, APPROVALS, "Approval needed"))
        click(bot, slack, user=user, message=request, channel=APPROVALS, action_id="deploy.approve")


def test_issue_scenario(
    running_bot: RunningBot, slack: Any, capsys: pytest.CaptureFixture[str], monkeypatch: Any
) -> None:
    bot = running_bot
    bot.runtime.start_background(worker=True, scheduler=False)

    # 1. staging: no approval, the message ends succeeded.
    answer = bot.command("web 1.2.3 to staging", command="/deploy", user="U0ALICE")
    assert answer.status_code == 200 and "is starting" in answer.json()["text"]
    staging = _wait_state(bot, slack, 1, "succeeded")
    assert "Roll back" in [b["text"]["text"] for b in buttons(staging).values()]
    # The rollout's output is in the deploy's thread, as a reply.
    output = slack.wait_for(lambda: message_with(slack, DEPLOYS, "Output of deploy #1"))
    assert output["thread_ts"] == staging["ts"]
    assert "web 1.2.3 is live in staging" in output["blocks"][0]["text"]["text"]

    # 2. production: an approval request with Approve and Reject, in the channel and DMs.
    answer = bot.command("web 1.2.3 to production", command="/deploy", user="U0ALICE")
    assert "waiting for 2 approval(s)" in answer.json()["text"]
    request = slack.wait_for(lambda: message_with(slack, APPROVALS, "Approval needed"))
    assert set(buttons(request)) == {"deploy.approve", "deploy.reject"}
    for approver in ("U0BOB", "U0CAROL"):
        dm = slack.wait_for(lambda a=approver: _dm(slack, a) or None)
        assert set(buttons(dm[0])) == {"deploy.approve", "deploy.reject"}

    # 3. alice (her own deploy) and dave (not an approver) are refused; nothing counts.
    click(
        bot, slack, user="U0ALICE", message=request, channel=APPROVALS, action_id="deploy.approve"
    )
    click(bot, slack, user="U0DAVE", message=request, channel=APPROVALS, action_id="deploy.approve")
    alice_said = [p.body["text"] for p in slack.response_posts() if p.user == "U0ALICE"]
    dave_said = [p.body["text"] for p in slack.response_posts() if p.user == "U0DAVE"]
    assert any("your approval does not count" in t for t in alice_said)
    assert any("Only members of sre may approve" in t for t in dave_said)
    assert _approvals(bot, 2) == []

    # 4. bob's click arrives twice (a Slack retry of the same action): it counts once.
    for _ in range(2):
        click(
            bot,
            slack,
            user="U0BOB",
            message=request,
            channel=APPROVALS,
            action_id="deploy.approve",
            action_ts="1700000000.000001",
        )
    assert [a.approver for a in _approvals(bot, 2)] == ["U0BOB"]
    click(
        bot, slack, user="U0CAROL", message=request, channel=APPROVALS, action_id="deploy.approve"
    )
    _wait_state(bot, slack, 2, "succeeded")
    decided = slack.wait_for(
        lambda: [m for m in slack.messages(APPROVALS) if "Decided" in str(m.get("blocks"))]
    )
    assert buttons(decided[0]) == {}  # no live buttons once decided
    for approver in ("U0BOB", "U0CAROL"):
        slack.wait_for(lambda a=approver: "Decided" in str(_dm(slack, a)[0]["blocks"]))
        assert buttons(_dm(slack, approver)[0]) == {}
    assert len([m for m in slack.messages(DEPLOYS) if "Deploy #2:" in m["text"]]) == 1

    # 5. a lock refuses alice's next production deploy, naming it, its author and reason.
    locked = bot.command("lock production web db migration", command="/deploy", user="U0BOB")
    assert "locked" in locked.json()["text"]
    refused = bot.command("web 1.2.4 to production", command="/deploy", user="U0ALICE")
    text = refused.json()["text"]
    assert "locked by <@U0BOB>" in text and "db migration" in text

    # 6. after unlock, a rollback goes through the same policy (two approvals) and deploys
    # the previous good version. Production has run only 1.2.3, so there is none yet: the
    # answer says so and how to name one; then a second release gives it one.
    # Only bob (who locked it) or break-glass may lift bob's lock.
    unlocked = bot.command("unlock production web", command="/deploy", user="U0BOB").json()
    assert "unlocked by <@U0BOB>" in unlocked["text"]
    none_yet = bot.command("rollback web production", command="/deploy", user="U0ALICE")
    assert "nothing earlier to roll back to" in none_yet.json()["text"]
    bot.command("web 1.2.4 to production", command="/deploy", user="U0ALICE")
    _approve_through(bot, slack, 3, ["U0BOB", "U0CAROL"])
    _wait_state(bot, slack, 3, "succeeded")

    rolled = bot.command("rollback web production", command="/deploy", user="U0ALICE")
    assert "waiting for 2 approval(s)" in rolled.json()["text"]
    _approve_through(bot, slack, 4, ["U0BOB", "U0CAROL"])
    _wait_state(bot, slack, 4, "succeeded")
    _wait_state(bot, slack, 3, "rolled back")
    rollback = _deploys(bot)[3]
    assert (rollback.kind, rollback.version, rollback.rollback_of) == ("rollback", "1.2.3", 3)

    # Every step is in the audit log, and the chain verifies.
    wait_until(lambda: nothing_due(bot), timeout=30, what="due jobs to finish")
    with bot.runtime.database.read_session() as session:
        actions = [e.action for e in session.exec(select(AuditEntry).order_by(col(AuditEntry.seq)))]
    for expected in (
        "deploy.requested",
        "deploy.approved",
        "deploy.started",
        "deploy.succeeded",
        "deploy.locked",
        "deploy.unlocked",
    ):
        assert expected in actions
    assert actions.count("deploy.approved") == 6  # bob's retry is not among them
    monkeypatch.setenv("SHIPBOT_DATABASE_URL", bot.runtime.database.url)
    assert main(["audit", "verify"]) == 0
    assert "audit log intact" in capsys.readouterr().out
