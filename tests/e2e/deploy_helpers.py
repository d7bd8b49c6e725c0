"""Clicking through the deploy flow as Slack would: find the live buttons in the fake's
messages and send signed ``block_actions`` for them."""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select

from bot.sandbox.signing import block_actions_body
from tests.e2e.conftest import RunningBot
from workflows.store.models import Job


def buttons(message: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The message's live buttons by action_id."""
    found: dict[str, dict[str, Any]] = {}
    for block in message.get("blocks") or []:
        if block.get("type") == "actions":
            for element in block.get("elements", []):
                found[element["action_id"]] = element
    return found


def message_with(slack: Any, channel: str, fragment: str) -> dict[str, Any] | None:
    for message in slack.messages(channel):
        if fragment in message.get("text", ""):
            return message
    return None


def click(
    bot: RunningBot,
    slack: Any,
    *,
    user: str,
    message: dict[str, Any],
    channel: str,
    action_id: str,
    action_ts: str | None = None,
) -> Any:
    button = buttons(message)[action_id]
    body = block_actions_body(
        user_id=user,
        action_id=action_id,
        value=button["value"],
        channel_id=channel,
        message_ts=message["ts"],
        action_ts=action_ts,
        response_url=slack.response_url(channel=channel, user=user),
    )
    response = bot.post_signed(body)
    assert response.status_code == 200
    return response


def ephemeral_texts(slack: Any, user: str) -> list[str]:
    texts = [post.body.get("text", "") for post in slack.response_posts() if post.user == user]
    texts += [e.text for e in slack.ephemerals(user)]
    return texts


def nothing_due(bot: RunningBot) -> bool:
    """No job is running or due now (approval expiries, reminders wait for hours)."""
    now = bot.runtime.clock.now()
    with bot.runtime.database.read_session() as session:
        busy = session.exec(
            select(Job)
            .where(col(Job.state).in_(["pending", "running"]))
            .where((col(Job.state) == "running") | (col(Job.run_after) <= now))
        ).first()
    return busy is None
