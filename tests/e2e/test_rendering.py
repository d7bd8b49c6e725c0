"""A change made in a Slack request reaches Slack through the running worker: posted once,
then updated in place (rule 3), with the audit chain intact afterwards."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import text

from bot.cli import main
from bot.sandbox.signing import block_actions_body
from tests.e2e.conftest import RunningBot, jobs_drained, wait_until
from tests.e2e.listeners import render_widget


def _click_status(running_bot: RunningBot, status: str) -> None:
    body = block_actions_body(
        user_id="U0BOB", action_id="set_status", value=status, channel_id="C0DEPLOYS"
    )
    assert running_bot.post_signed(body).status_code == 200


def test_a_change_is_posted_once_then_updated_in_place(running_bot: RunningBot, slack) -> None:  # type: ignore[no-untyped-def]
    running_bot.runtime.renderers.register("widget:", render_widget)
    running_bot.runtime.start_background(worker=True, scheduler=False)

    _click_status(running_bot, "building")
    slack.wait_for(
        lambda: [m for m in slack.messages("C0DEPLOYS") if m["text"] == "widget is building"]
    )
    _click_status(running_bot, "done")
    slack.wait_for(
        lambda: [m for m in slack.messages("C0DEPLOYS") if m["text"] == "widget is done"]
    )

    (message,) = slack.messages("C0DEPLOYS")  # one message, updated, not a second post
    assert message["blocks"][0]["text"]["text"] == "*widget* is done"
    assert len(slack.calls_to("chat.postMessage")) == 1
    assert len(slack.calls_to("chat.update")) >= 1
    assert slack.calls_to("chat.update")[-1].body["ts"] == message["ts"]

    wait_until(lambda: jobs_drained(running_bot.runtime), what="render jobs to finish")
    metrics = running_bot.http.get("/metrics").text
    assert re.search(
        r'shipbot_slack_api_calls_total\{method="chat.postMessage",status="200"\} 1', metrics
    )
    assert re.search(
        r'shipbot_jobs_finished_total\{kind="render",state="succeeded"\} [1-9]', metrics
    )


def test_audit_verify_after_activity_through_http_then_after_a_hand_edit(
    running_bot: RunningBot, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for status in ("queued", "running", "finished"):
        _click_status(running_bot, status)
    database = running_bot.runtime.database
    monkeypatch.setenv("SHIPBOT_DATABASE_URL", database.url)
    assert main(["audit", "verify"]) == 0
    assert "audit log intact: 3 entries" in capsys.readouterr().out

    with database.engine.begin() as connection:
        connection.execute(text("UPDATE audit_entries SET actor = 'U0MALLORY' WHERE seq = 2"))
    assert main(["audit", "verify"]) == 1
    assert "entry 2" in capsys.readouterr().err
