"""Issue 4's scenario as written, one step after another, through signed requests to the
running app with the example config: an incident, its card, an alert in its channel, a
production deploy it blocks, and the block lifting when it is resolved."""

from __future__ import annotations

import json
from typing import Any

from sqlmodel import select

from tests.e2e.conftest import RunningBot, wait_until
from tests.workflows.alerts import samples
from workflows.incidents.models import Incident

BEARER = {"Authorization": "Bearer dev-alerts-token", "Content-Type": "application/json"}
WAIT = 15.0


def _incident(bot: RunningBot) -> Incident:
    with bot.runtime.database.read_session() as session:
        incident = session.exec(select(Incident)).first()
    assert incident is not None
    return incident


def _card(slack: Any, channel: str) -> dict[str, Any]:
    (card,) = [m for m in slack.messages(channel) if "Status" in json.dumps(m.get("blocks"))]
    return card


def _card_saying(slack: Any, channel: str, word: str) -> dict[str, Any] | None:
    card = _card(slack, channel)
    return card if word in json.dumps(card["blocks"]) else None


def _alertmanager(bot: RunningBot, status: str) -> None:
    body = json.dumps(
        samples.alertmanager_payload(samples.am_alert(fingerprint="w1", status=status))
    )
    response = bot.http.post("/hooks/alertmanager", content=body, headers=BEARER)
    assert response.status_code == 200, response.text


def test_issue_scenario(running_bot: RunningBot, slack: Any) -> None:
    bot = running_bot
    bot.runtime.start_background(worker=True, scheduler=False)

    # 1. alice declares: a new channel, bob and carol (sre responders) invited, card, announce.
    declared = bot.command("declare SEV2 web Checkout errors", command="/incident", user="U0ALICE")
    assert declared.status_code == 200
    wait_until(lambda: _incident(bot).channel_id is not None, timeout=WAIT, what="the channel")
    channel = _incident(bot).channel_id
    assert channel is not None
    slack.wait_for(lambda: {"U0BOB", "U0CAROL"} <= slack.state.channel(channel).members, WAIT)
    card = slack.wait_for(lambda: _card(slack, channel) if slack.messages(channel) else None, WAIT)
    slack.wait_for(
        lambda: [m for m in slack.messages("C0INCIDNT") if f"<#{channel}>" in m["text"]], WAIT
    )

    # 2. a status update in the channel updates the same card, and the timeline grows.
    bot.command(
        "status identified bad cache config", command="/incident", user="U0BOB", channel=channel
    )
    updated = slack.wait_for(
        lambda: _card_saying(slack, channel, "identified"),
        WAIT,
    )
    assert updated["ts"] == card["ts"]
    timeline = bot.command("timeline", command="/incident", user="U0BOB", channel=channel).json()
    assert "bad cache config" in json.dumps(timeline["blocks"])

    # 3. an Alertmanager webhook for service=web lands in the incident channel; resolved,
    # the same message says so.
    _alertmanager(bot, "firing")
    alert = slack.wait_for(
        lambda: [m for m in slack.messages(channel) if m["text"].startswith("FIRING")], WAIT
    )[0]
    _alertmanager(bot, "resolved")
    resolved_alert = slack.wait_for(
        lambda: [m for m in slack.messages(channel) if m["text"].startswith("RESOLVED")], WAIT
    )[0]
    assert resolved_alert["ts"] == alert["ts"]
    assert slack.messages("C0ALERTS") == []

    # 4. alice's production deploy is blocked, naming the incident.
    blocked = bot.command("web 2.0.0 to production", command="/deploy", user="U0ALICE").json()
    assert "Can't deploy web to production" in blocked["text"]
    assert (
        "Checkout errors" in blocked["text"] and f"incident #{_incident(bot).id}" in blocked["text"]
    )
    explain = bot.command("explain web production", command="/deploy", user="U0ALICE").json()
    assert "Checkout errors" in explain["text"]

    # 5. resolve: the card says resolved, a postmortem file is uploaded, the block lifts.
    bot.command(
        "resolve cache config reverted", command="/incident", user="U0ALICE", channel=channel
    )
    (postmortem,) = slack.wait_for(lambda: slack.files(), WAIT)
    text = (postmortem.content or b"").decode()
    assert "cache config reverted" in text and "HighErrorRate" in text
    slack.wait_for(lambda: _card_saying(slack, channel, "resolved"), WAIT)
    assert _card(slack, channel)["ts"] == card["ts"]
    accepted = bot.command("web 2.0.0 to production", command="/deploy", user="U0ALICE").json()
    assert "waiting for 2 approval(s)" in accepted["text"]
