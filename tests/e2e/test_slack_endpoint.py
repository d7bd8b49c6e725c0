"""POST /slack/events through real HTTP, signed exactly as Slack signs."""

from __future__ import annotations

import json
import logging
import re
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from slack_sdk.models.blocks import Block
from sqlmodel import select

from bot.sandbox.signing import block_actions_body, event_callback_body, sign, slash_command_body
from tests.e2e.conftest import FORM, SIGNING_SECRET, RunningBot
from workflows import audit
from workflows.deploys.models import Deploy


def _validate_blocks(blocks: list[dict]) -> None:
    for block in blocks:
        parsed = Block.parse(block)
        assert parsed is not None, block
        parsed.validate_json()


def test_health_and_readiness(running_bot: RunningBot) -> None:
    assert running_bot.http.get("/healthz").json() == {"status": "ok"}
    ready = running_bot.http.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"


def test_forged_signature_is_refused(running_bot: RunningBot) -> None:
    body = slash_command_body(
        command="/shipbot", text="help", user_id="U0ALICE", channel_id="C0DEPLOYS"
    )
    headers = sign(body, signing_secret="not-the-secret")
    response = running_bot.http.post(
        "/slack/events", content=body, headers={**headers, "content-type": FORM}
    )
    assert response.status_code == 401


def test_stale_request_is_refused(running_bot: RunningBot) -> None:
    body = slash_command_body(
        command="/shipbot", text="help", user_id="U0ALICE", channel_id="C0DEPLOYS"
    )
    six_minutes_ago = int(time.time()) - 6 * 60
    headers = sign(body, signing_secret=SIGNING_SECRET, timestamp=six_minutes_ago)
    response = running_bot.http.post(
        "/slack/events", content=body, headers={**headers, "content-type": FORM}
    )
    assert response.status_code == 401


def test_unsigned_request_is_refused(running_bot: RunningBot) -> None:
    body = slash_command_body(
        command="/shipbot", text="help", user_id="U0ALICE", channel_id="C0DEPLOYS"
    )
    response = running_bot.http.post("/slack/events", content=body, headers={"content-type": FORM})
    assert response.status_code == 401


def test_tampered_body_is_refused(running_bot: RunningBot) -> None:
    body = slash_command_body(
        command="/shipbot", text="help", user_id="U0ALICE", channel_id="C0DEPLOYS"
    )
    headers = sign(body, signing_secret=SIGNING_SECRET)
    tampered = body.replace(b"U0ALICE", b"U0DAVE0")
    response = running_bot.http.post(
        "/slack/events", content=tampered, headers={**headers, "content-type": FORM}
    )
    assert response.status_code == 401


def test_oversized_body_is_refused_before_parsing(running_bot: RunningBot) -> None:
    response = running_bot.post_signed(b"text=" + b"x" * (1024 * 1024 + 1))
    assert response.status_code == 413


def test_shipbot_help_lists_every_command(running_bot: RunningBot) -> None:
    response = running_bot.command("help")
    assert response.status_code == 200
    answer = response.json()
    assert answer["response_type"] == "ephemeral"
    for command in ("/deploy", "/incident", "/shipbot"):
        assert command in answer["text"]
    _validate_blocks(answer["blocks"])


@pytest.mark.parametrize("command", ["/deploy", "/incident", "/shipbot"])
def test_help_under_every_command(running_bot: RunningBot, command: str) -> None:
    answer = running_bot.command("help", command=command).json()
    assert answer["response_type"] == "ephemeral"
    assert f"{command} help" in answer["text"]
    _validate_blocks(answer["blocks"])


def test_unknown_subcommand_is_a_friendly_user_error(running_bot: RunningBot) -> None:
    answer = running_bot.command("versoin").json()
    assert answer["response_type"] == "ephemeral"
    assert "`/shipbot versoin` is not a command I know" in answer["text"]
    assert "Did you mean `/shipbot version`?" in answer["text"]


def test_user_error_on_a_button_is_shown_only_to_the_clicker(
    running_bot: RunningBot, slack
) -> None:  # type: ignore[no-untyped-def]
    body = block_actions_body(
        user_id="U0DAVE",
        action_id="forbidden",
        channel_id="C0APPROVE",
        response_url=slack.response_url(channel="C0APPROVE", user="U0DAVE"),
    )
    assert running_bot.post_signed(body).status_code == 200
    (post,) = slack.response_posts()
    assert post.body["response_type"] == "ephemeral"
    assert post.body["replace_original"] is False
    assert "Only the sre group may approve production deploys." in post.body["text"]
    assert "Ask in #sre." in post.body["text"]


def test_unexpected_error_gets_an_error_id_logged_and_shown(
    running_bot: RunningBot,
    slack,
    caplog: pytest.LogCaptureFixture,  # type: ignore[no-untyped-def]
) -> None:
    body = block_actions_body(
        user_id="U0BOB",
        action_id="explode",
        channel_id="C0DEPLOYS",
        response_url=slack.response_url(channel="C0DEPLOYS", user="U0BOB"),
    )
    with caplog.at_level(logging.ERROR, logger="shipbot.errors"):
        response = running_bot.post_signed(body)
    assert response.status_code == 200
    assert "Traceback" not in response.text
    (post,) = slack.response_posts()
    match = re.search(r"error id `([0-9a-f]{10})`", post.body["text"])
    assert match, post.body["text"]
    assert "hunter2" not in post.body["text"] and "Traceback" not in post.body["text"]
    logged = [r for r in caplog.records if match.group(1) in r.getMessage()]
    assert logged and logged[0].exc_info is not None


def _clicks(running_bot: RunningBot) -> list[str]:
    with running_bot.runtime.database.session() as session:
        return [e.target for e in audit.entries(session=session, action="test.click")]


def test_a_retried_click_runs_once(running_bot: RunningBot) -> None:
    body = block_actions_body(
        user_id="U0BOB",
        action_id="count_me",
        value="approve-1",
        channel_id="C0APPROVE",
        action_ts="1767000000.000001",
    )
    assert running_bot.post_signed(body).status_code == 200
    retry = running_bot.post_signed(
        body, headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    )
    assert retry.status_code == 200
    assert _clicks(running_bot) == ["approve-1"]


def test_a_double_click_delivered_concurrently_runs_once(running_bot: RunningBot) -> None:
    body = block_actions_body(
        user_id="U0CAROL",
        action_id="count_me",
        value="approve-2",
        channel_id="C0APPROVE",
        action_ts="1767000000.000002",
    )
    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = list(pool.map(lambda _: running_bot.post_signed(body).status_code, range(6)))
    assert statuses == [200] * 6
    assert _clicks(running_bot) == ["approve-2"]


def test_distinct_clicks_each_count(running_bot: RunningBot) -> None:
    for ts, user in (("1767000000.000010", "U0BOB"), ("1767000000.000011", "U0CAROL")):
        body = block_actions_body(
            user_id=user,
            action_id="count_me",
            value=f"c-{user}",
            channel_id="C0APPROVE",
            action_ts=ts,
        )
        assert running_bot.post_signed(body).status_code == 200
    assert sorted(_clicks(running_bot)) == ["c-U0BOB", "c-U0CAROL"]


def test_a_redelivered_event_runs_once(running_bot: RunningBot) -> None:
    event = {
        "type": "app_mention",
        "user": "U0ALICE",
        "text": "<@U0SHIPBOT> hi",
        "channel": "C0DEPLOYS",
        "ts": "1767000000.000100",
    }
    body = event_callback_body(event=event, event_id="Ev0SHIPBOT01")
    content_type = "application/json"
    assert running_bot.post_signed(body, content_type=content_type).status_code == 200
    retried = running_bot.post_signed(
        body, content_type=content_type, headers={"X-Slack-Retry-Num": "2"}
    )
    assert retried.status_code == 200
    assert _clicks(running_bot) == ["mention"]


def test_url_verification_handshake(running_bot: RunningBot) -> None:
    body = json.dumps({"type": "url_verification", "challenge": "abc123", "token": "x"}).encode()
    response = running_bot.post_signed(body, content_type="application/json")
    assert response.status_code == 200
    assert "abc123" in response.text


def test_metrics_count_acks_and_jobs(running_bot: RunningBot) -> None:
    running_bot.command("help")
    text = running_bot.http.get("/metrics").text
    assert re.search(r'shipbot_slack_ack_seconds_count\{kind="command"\} [1-9]', text), text
    assert re.search(
        r'shipbot_http_requests_total\{route="/slack/events",status="200"\} [1-9]', text
    )
    assert "# TYPE shipbot_jobs gauge" in text


def test_a_command_delivered_twice_without_a_retry_header_stores_one_deploy(
    running_bot: RunningBot,
) -> None:
    """A first command skips the early look (no retry header), so a repeat of it is
    refused by the flow's own claim in the same transaction as the deploy."""
    body = slash_command_body(
        command="/deploy",
        text="web 1.2.3 to staging",
        user_id="U0ALICE",
        channel_id="C0DEPLOYS",
        trigger_id="13345224609.738474920.8088930838d88f008e0",
    )
    first = running_bot.post_signed(body)
    again = running_bot.post_signed(body)
    assert (first.status_code, again.status_code) == (200, 200)
    assert "web" in first.text and again.text == ""
    with running_bot.runtime.database.read_session() as session:
        assert len(session.exec(select(Deploy)).all()) == 1
