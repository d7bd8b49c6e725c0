"""Issue 13's App Home and shortcuts through signed HTTP into the running app, the worker
running and the Slack fake answering, on both databases: bob approves from his Home (a
double click counts once), and carol's Home and the approvals channel lose their
buttons; a message shortcut on a message in #deploys cites it in the open incident's
timeline and postmortem."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlmodel import col, select

from bot.sandbox.shortcut_bodies import (
    global_shortcut_body,
    home_click_body,
    home_opened_body,
    message_shortcut_body,
)
from bot.sandbox.signing import view_submission_body
from bot.sandbox.slack.methods.chat import post_user_message
from bot.sandbox.slack.methods.home import published_home
from tests.e2e.conftest import RunningBot, wait_until
from tests.e2e.deploy_helpers import buttons, click, message_with
from workflows.deploys.models import DeployApproval, DeployState
from workflows.deploys.queries import get_deploy
from workflows.incidents.models import Incident, IncidentEvent
from workflows.incidents.postmortem import postmortem_markdown
from workflows.incidents.visibility import members
from workflows.store.models import AuditEntry

DEPLOYS, APPROVALS = "C0DEPLOYS", "C0APPROVE"
WAIT = 30.0


@pytest.fixture(autouse=True)
def fast_rollout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHIPBOT_ROLLOUT_SECONDS", "0.05")


def _home(slack: Any, user: str) -> dict[str, Any] | None:
    return published_home(slack.state, user)


def _home_buttons(slack: Any, user: str) -> dict[str, dict[str, Any]]:
    home = _home(slack, user)
    return buttons(home) if home else {}


def _home_text(slack: Any, user: str) -> str:
    return json.dumps(_home(slack, user) or {})


def _open_home(bot: RunningBot, slack: Any, user: str) -> dict[str, Any]:
    assert bot.post_signed(home_opened_body(user_id=user), content_type="application/json")
    home: dict[str, Any] = slack.wait_for(lambda: _home(slack, user), timeout=WAIT)
    return home


def _approvals(bot: RunningBot) -> list[str]:
    with bot.runtime.database.read_session() as session:
        return [a.approver for a in session.exec(select(DeployApproval))]


def test_bob_approves_from_home_and_every_home_loses_the_buttons(
    running_bot: RunningBot, slack: Any
) -> None:
    bot = running_bot
    bot.runtime.start_background(worker=True, scheduler=False)
    for user in ("U0BOB", "U0CAROL"):
        assert "No deploy is waiting" in json.dumps(_open_home(bot, slack, user))
    # The Messages tab is not the Home: nothing is published for it.
    bot.post_signed(
        home_opened_body(user_id="U0DAVE", tab="messages"), content_type="application/json"
    )

    asked = bot.command("web 1.2.3 to production", command="/deploy", user="U0ALICE")
    assert "waiting for 2 approval(s)" in asked.json()["text"]
    # The request shows on the Homes of the approvers who opened theirs, with buttons.
    for user in ("U0BOB", "U0CAROL"):
        slack.wait_for(lambda u=user: "deploy.approve" in _home_buttons(slack, u) or None, WAIT)
    assert _home_buttons(slack, "U0BOB")["deploy.approve"]["value"] == "1:1.2.3"

    # erin approves in the channel; bob approves from his Home, his click arriving twice.
    request = slack.wait_for(lambda: message_with(slack, APPROVALS, "Approval needed"))
    click(bot, slack, user="U0ERIN", message=request, channel=APPROVALS, action_id="deploy.approve")
    home = _home(slack, "U0BOB")
    assert home is not None
    value = _home_buttons(slack, "U0BOB")["deploy.approve"]["value"]
    for _ in range(2):
        clicked = bot.post_signed(
            home_click_body(
                user_id="U0BOB",
                view=home,
                action_id="deploy.approve",
                value=value,
                action_ts="1700000000.000042",
            )
        )
        assert clicked.status_code == 200
    assert sorted(_approvals(bot)) == ["U0BOB", "U0ERIN"]
    # A click on a Home that was stale (another click, not a retry) is refused in his DM.
    bot.post_signed(
        home_click_body(user_id="U0BOB", view=home, action_id="deploy.approve", value=value)
    )
    refused = slack.wait_for(lambda: _dm_texts(slack, "U0BOB") or None, WAIT)
    assert any("not waiting for approval" in t for t in refused), refused
    assert sorted(_approvals(bot)) == ["U0BOB", "U0ERIN"]

    # Decided: carol's Home, bob's Home and the approvals channel have no buttons left.
    for user in ("U0CAROL", "U0BOB"):
        slack.wait_for(lambda u=user: not _home_buttons(slack, u) or None, WAIT)
        assert "No deploy is waiting" in _home_text(slack, user)
    decided = slack.wait_for(
        lambda: [m for m in slack.messages(APPROVALS) if "Decided" in str(m.get("blocks"))], WAIT
    )
    assert buttons(decided[0]) == {}
    wait_until(lambda: _state(bot, 1) == DeployState.succeeded, timeout=WAIT, what="success")
    # alice's own deploys show on her Home with their state.
    alice = _open_home(bot, slack, "U0ALICE")
    slack.wait_for(lambda: "succeeded" in _home_text(slack, "U0ALICE") or None, WAIT)
    assert "deploy.approve" not in buttons(alice)
    with bot.runtime.database.read_session() as session:
        actions = [e.action for e in session.exec(select(AuditEntry))]
    assert actions.count("deploy.approved") == 2  # bob's repeated click is not among them
    assert slack.take_invalid() == []


def _dm_texts(slack: Any, user: str) -> list[str]:
    return [str(m.get("text", "")) for m in slack.messages(slack.state.im_channel(user).id)]


def _state(bot: RunningBot, deploy_id: int) -> str | None:
    with bot.runtime.database.read_session() as session:
        deploy = get_deploy(session=session, deploy_id=deploy_id)
        return deploy.state if deploy else None


def _incident(bot: RunningBot) -> Incident | None:
    with bot.runtime.database.read_session() as session:
        return session.exec(select(Incident)).first()


def _cited(bot: RunningBot) -> list[IncidentEvent]:
    with bot.runtime.database.read_session() as session:
        query = select(IncidentEvent).where(col(IncidentEvent.kind) == "message")
        return list(session.exec(query.order_by(col(IncidentEvent.id))))


def _members(bot: RunningBot, incident_id: int) -> set[str]:
    with bot.runtime.database.read_session() as session:
        return members(session=session, incident_id=incident_id)


def _typed(slack: Any, channel: str, user: str, text: str) -> dict[str, Any]:
    with slack.state.condition:
        message = post_user_message(
            slack.state, slack.state.data.channels[channel], user=user, text=text
        )
        return dict(message)


def test_message_shortcut_cites_a_message_in_the_timeline_and_postmortem(
    running_bot: RunningBot, slack: Any
) -> None:
    bot = running_bot
    bot.runtime.start_background(worker=True, scheduler=False)
    bot.command("declare SEV2 web Checkout errors", command="/incident", user="U0ALICE")
    wait_until(lambda: (_incident(bot) or Incident()).channel_id is not None, timeout=WAIT)
    incident = _incident(bot)
    assert incident is not None and incident.channel_id is not None

    # In #deploys (not an incident channel) the shortcut asks which incident.
    said = _typed(slack, DEPLOYS, "U0DAVE", "web 1.2.2 rolled out at 10:02 <!channel>")
    opened = bot.post_signed(
        message_shortcut_body(
            user_id="U0BOB", callback_id="add_to_timeline", channel_id=DEPLOYS, message=said
        )
    )
    assert opened.status_code == 200
    modal = slack.wait_for(
        lambda: next(
            (v for v in slack.views() if v.get("callback_id") == "incident.add_to_timeline"), None
        )
    )
    options = modal["blocks"][-1]["element"]["options"]
    assert [o["value"] for o in options] == [str(incident.id)]
    submitted = bot.post_signed(
        view_submission_body(
            user_id="U0BOB",
            callback_id=modal["callback_id"],
            state_values={
                "incident": {"incident": {"type": "static_select", "selected_option": options[0]}}
            },
            private_metadata=modal["private_metadata"],
            view=modal,
        )
    )
    assert submitted.status_code == 200 and not submitted.content.strip()

    # In the incident's channel it adds directly; citing the same message again does not.
    there = _typed(slack, incident.channel_id, "U0CAROL", "checkout p99 back under 300ms")
    for _ in range(2):
        bot.post_signed(
            message_shortcut_body(
                user_id="U0CAROL",
                callback_id="add_to_timeline",
                channel_id=incident.channel_id,
                message=there,
                response_url=slack.response_url(channel=incident.channel_id, user="U0CAROL"),
            )
        )
    wait_until(
        lambda: len(_cited(bot)) == 2 and all(e.data.get("permalink") for e in _cited(bot)),
        timeout=WAIT,
        what="two cited messages with permalinks",
    )
    first, second = _cited(bot)
    assert (first.data["channel"], first.data["ts"], first.actor) == (DEPLOYS, said["ts"], "U0BOB")
    assert second.data["ts"] == there["ts"]
    carol_heard = [p.body.get("text", "") for p in slack.response_posts() if p.user == "U0CAROL"]
    assert any("Added the message" in t for t in carol_heard)
    assert any("timeline already" in t for t in carol_heard)
    assert len(slack.calls_to("chat.getPermalink")) == 2

    # The card cites it, without letting its text notify the channel; so does the postmortem.
    card = slack.wait_for(
        lambda: next(
            (
                m
                for m in slack.messages(incident.channel_id)
                if first.data["permalink"] in json.dumps(m)
            ),
            None,
        ),
        WAIT,
    )
    assert "<!channel>" not in json.dumps(card)
    bot.command(
        "resolve rolled back", command="/incident", user="U0ALICE", channel=incident.channel_id
    )
    config = bot.runtime.deps.config
    assert config is not None
    with bot.runtime.database.read_session() as session:
        draft = postmortem_markdown(session=session, config=config, incident_id=incident.id or 0)
    assert f"([message]({first.data['permalink']}))" in draft
    assert "rolled out at 10:02" in draft and "dave said" in draft
    assert slack.take_invalid() == []


def test_global_shortcut_opens_the_declare_form(running_bot: RunningBot, slack: Any) -> None:
    bot = running_bot
    answer = bot.post_signed(
        global_shortcut_body(user_id="U0ALICE", callback_id="declare_incident")
    )
    assert answer.status_code == 200
    opened = slack.calls_to("views.open")
    assert len(opened) == 1
    assert opened[0].body["view"]["callback_id"] == "incident.declare"


def test_the_timeline_shortcut_never_offers_nor_accepts_a_private_incident_to_a_non_member(
    running_bot: RunningBot, slack: Any
) -> None:
    bot = running_bot
    bot.runtime.start_background(worker=True, scheduler=False)
    bot.command("declare --private SEV2 web Leaked key", command="/incident", user="U0ALICE")
    bot.command("declare SEV3 web Slow search", command="/incident", user="U0CAROL")
    with bot.runtime.database.read_session() as session:
        incidents = {i.title: i for i in session.exec(select(Incident))}
    secret, public = incidents["Leaked key"], incidents["Slow search"]
    assert secret.private and secret.id is not None
    # The invite job makes SEV2's responders (the sre group: bob among them) members; dave
    # is in no group. Waiting for it keeps the race between the job and the shortcut out.
    wait_until(lambda: "U0BOB" in _members(bot, secret.id or 0), timeout=WAIT, what="invite")
    assert "U0DAVE" not in _members(bot, secret.id)

    said = _typed(slack, DEPLOYS, "U0ALICE", "web 1.2.2 rolled out at 10:02")
    bot.post_signed(
        message_shortcut_body(
            user_id="U0DAVE", callback_id="add_to_timeline", channel_id=DEPLOYS, message=said
        )
    )
    modal = slack.wait_for(
        lambda: next(
            (v for v in slack.views() if v.get("callback_id") == "incident.add_to_timeline"), None
        )
    )
    options = modal["blocks"][-1]["element"]["options"]
    assert [o["value"] for o in options] == [str(public.id)]  # dave is not a member

    # A forged choice of the private incident's number is refused like a missing one.
    forged = {"text": {"type": "plain_text", "text": "x"}, "value": str(secret.id)}
    refused = bot.post_signed(
        view_submission_body(
            user_id="U0DAVE",
            callback_id=modal["callback_id"],
            state_values={
                "incident": {"incident": {"type": "static_select", "selected_option": forged}}
            },
            private_metadata=modal["private_metadata"],
            view=modal,
        )
    )
    answer = refused.json()
    assert answer["response_action"] == "errors"
    assert answer["errors"]["incident"] == f"There is no incident #{secret.id}."
    assert "Leaked" not in refused.text
    assert _cited(bot) == []
