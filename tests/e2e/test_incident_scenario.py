"""The incident issue's scenario end to end: signed HTTP into the running app, the worker
running, the Slack fake answering, on both databases."""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select

from bot.sandbox.signing import block_actions_body, view_submission_body
from tests.e2e.conftest import RunningBot, wait_until
from workflows.incidents.models import Incident, IncidentEvent
from workflows.incidents.queries import blocking_incident

ANNOUNCE = "C0INCIDNT"
WAIT = 15.0


def _incident(bot: RunningBot) -> Incident | None:
    with bot.runtime.database.read_session() as session:
        return session.exec(select(Incident)).first()


def _timeline(bot: RunningBot, incident_id: int) -> list[str]:
    with bot.runtime.database.read_session() as session:
        query = select(IncidentEvent).where(col(IncidentEvent.incident_id) == incident_id)
        return [e.kind for e in session.exec(query.order_by(col(IncidentEvent.id)))]


def _blocking(bot: RunningBot) -> Incident | None:
    config = bot.runtime.deps.config
    assert config is not None
    with bot.runtime.database.read_session() as session:
        return blocking_incident(session=session, config=config, service="web")


def _cards(slack: Any, channel: str) -> list[dict[str, Any]]:
    return [m for m in slack.messages(channel) if m.get("blocks") and not m.get("upload")]


def _status_field(card: dict[str, Any]) -> str:
    return str(card["blocks"][1]["fields"][0]["text"])


def _card_with_status(slack: Any, channel: str, status: str) -> dict[str, Any] | None:
    cards = _cards(slack, channel)
    return cards[0] if cards and _status_field(cards[0]) == f"*Status*\n{status}" else None


def test_declare_update_resolve(running_bot: RunningBot, slack: Any) -> None:
    bot = running_bot
    bot.runtime.start_background(worker=True, scheduler=False)

    answer = bot.command("declare SEV2 web Checkout errors", command="/incident", user="U0ALICE")
    assert answer.status_code == 200
    assert "Declared SEV2 incident #1" in answer.json()["text"]
    assert answer.json()["response_type"] == "ephemeral"

    wait_until(lambda: (_incident(bot) or Incident()).channel_id is not None, what="a channel")
    incident = _incident(bot)
    assert incident is not None and incident.id is not None and incident.channel_id
    channel = incident.channel_id
    assert incident.channel_name and incident.channel_name.endswith("-checkout-errors")
    assert incident.channel_name.startswith("inc-")
    slack.wait_for(
        lambda: {"U0ALICE", "U0BOB", "U0CAROL"} <= slack.state.channel(channel).members, WAIT
    )
    card = slack.wait_for(lambda: _card_with_status(slack, channel, "investigating"), WAIT)
    slack.wait_for(lambda: _cards(slack, channel)[0].get("pinned_to") == [channel], WAIT)
    slack.wait_for(
        lambda: [m for m in slack.messages(ANNOUNCE) if f"<#{channel}>" in m["text"]], WAIT
    )
    assert _blocking(bot) is not None and _blocking(bot).id == incident.id  # type: ignore[union-attr]

    answer = bot.command(
        "status identified bad cache config", command="/incident", user="U0BOB", channel=channel
    )
    assert "status is *identified*" in answer.json()["text"]
    updated = slack.wait_for(lambda: _card_with_status(slack, channel, "identified"), WAIT)
    assert updated["ts"] == card["ts"] and len(_cards(slack, channel)) == 1
    assert "bad cache config" in str(updated["blocks"])
    assert _timeline(bot, incident.id) == ["declared", "status"]
    slack.wait_for(lambda: [m for m in slack.messages(ANNOUNCE) if "identified" in m["text"]], WAIT)

    # The card's button opens a modal; submitting it updates the same card.
    click = block_actions_body(
        user_id="U0CAROL",
        action_id="incident.open_status",
        value=str(incident.id),
        channel_id=channel,
        message_ts=card["ts"],
    )
    assert bot.post_signed(click).status_code == 200
    (modal,) = slack.wait_for(
        lambda: [v for v in slack.views() if v["callback_id"] == "incident.status"], WAIT
    )
    submission = view_submission_body(
        user_id="U0CAROL",
        callback_id="incident.status",
        private_metadata=modal["private_metadata"],
        state_values={
            "status": {
                "status": {"type": "static_select", "selected_option": {"value": "monitoring"}}
            },
            "message": {"message": {"type": "plain_text_input", "value": "fix deployed"}},
        },
    )
    assert bot.post_signed(submission).status_code == 200
    slack.wait_for(lambda: _card_with_status(slack, channel, "monitoring"), WAIT)
    assert _timeline(bot, incident.id) == ["declared", "status", "status"]

    answer = bot.command(
        "resolve cache config reverted", command="/incident", user="U0ALICE", channel=channel
    )
    assert "resolved" in answer.json()["text"]
    (upload,) = slack.wait_for(lambda: slack.files(), WAIT)
    assert upload.channels == [channel]
    assert "cache config reverted" in (upload.content or b"").decode()
    resolved = slack.wait_for(lambda: _card_with_status(slack, channel, "resolved"), WAIT)
    assert resolved["ts"] == card["ts"]
    assert "Resolved" in str(resolved["blocks"])
    assert not [b for b in resolved["blocks"] if b["type"] == "actions"]
    assert _blocking(bot) is None
    slack.wait_for(lambda: [m for m in slack.messages(ANNOUNCE) if "*resolved*" in m["text"]], WAIT)
