"""Who may run an incident, through signed requests into the running app (issue 9).

Example config: alice declares (and so commands), bob and carol are the SEV1/SEV2
responders (sre), erin is an incident manager, dave is none of these. Lowering a SEV1
or resolving it lifts the production deploy block, so only the commander and a manager
may; every refusal says who may and is audited as ``denied``, once per delivery.
"""

from __future__ import annotations

import json
from typing import Any

from sqlmodel import col, select

from bot.sandbox.signing import block_actions_body, slash_command_body, view_submission_body
from tests.e2e.conftest import RunningBot, wait_until
from tests.e2e.deploy_helpers import ephemeral_texts
from workflows.audit import entries
from workflows.incidents.declare import channel_ready
from workflows.incidents.models import Incident
from workflows.incidents.queries import blocking_incident
from workflows.store.models import AuditEntry

WAIT = 15.0
ALICE, BOB, DAVE, ERIN = "U0ALICE", "U0BOB", "U0DAVE", "U0ERIN"


def _declare_sev1(bot: RunningBot) -> tuple[Incident, str]:
    answer = bot.command("declare SEV1 web Payments down", command="/incident", user=ALICE)
    assert "Declared SEV1 incident" in answer.json()["text"]
    wait_until(lambda: _incident(bot).channel_id is not None, timeout=WAIT, what="a channel")
    incident = _incident(bot)
    assert incident.channel_id is not None and incident.commander == ALICE
    return incident, incident.channel_id


def _incident(bot: RunningBot) -> Incident:
    with bot.runtime.database.read_session() as session:
        incident = session.exec(select(Incident)).first()
    assert incident is not None
    return incident


def _blocks_production(bot: RunningBot) -> bool:
    config = bot.runtime.deps.config
    assert config is not None
    with bot.runtime.database.read_session() as session:
        return blocking_incident(session=session, config=config, service="web") is not None


def _denied(bot: RunningBot, actor: str) -> list[AuditEntry]:
    with bot.runtime.database.read_session() as session:
        query = select(AuditEntry).where(
            col(AuditEntry.outcome) == "denied", col(AuditEntry.actor) == actor
        )
        return list(session.exec(query.order_by(col(AuditEntry.seq))))


def _say(bot: RunningBot, text: str, *, user: str, channel: str) -> str:
    response = bot.command(text, command="/incident", user=user, channel=channel)
    assert response.status_code == 200
    return str(response.json()["text"])


def _production_deploy(bot: RunningBot) -> str:
    return str(bot.command("web 2.0.0 to production", command="/deploy", user=ALICE).json()["text"])


def test_outsider_and_responder_cannot_lift_a_sev1_by_command(
    running_bot: RunningBot, slack: Any
) -> None:
    bot = running_bot
    bot.runtime.start_background(worker=True, scheduler=False)
    incident, channel = _declare_sev1(bot)
    target = f"incident:{incident.id}"

    lowered = _say(bot, "sev 3", user=DAVE, channel=channel)
    assert f"You may not change the severity of incident #{incident.id} (SEV1 → SEV3)" in lowered
    assert "that lifts its deploy block" in lowered
    assert f"the commander: <@{ALICE}>" in lowered
    assert f"incident managers: *incident-managers* (<@{ERIN}>)" in lowered
    resolved = _say(bot, "resolve nothing to see", user=DAVE, channel=channel)
    assert f"You may not resolve incident #{incident.id}" in resolved
    took = _say(bot, f"assign commander <@{DAVE}>", user=DAVE, channel=channel)
    assert f"You may not change the roles of incident #{incident.id}" in took
    assert f"SEV1 responders: *sre* (<@{BOB}>, <@U0CAROL>, <@{ERIN}>)" in took
    # A responder may run the incident but not end its block...
    assert "status is *identified*" in _say(bot, "status identified x", user=BOB, channel=channel)
    responder = _say(bot, "sev 4", user=BOB, channel=channel)
    assert "that lifts its deploy block" in responder and "SEV1 responders" not in responder

    assert [(e.action, e.target) for e in _denied(bot, DAVE)] == [
        ("incident.severity", target),
        ("incident.resolved", target),
        ("incident.assign", target),
    ]
    assert [e.action for e in _denied(bot, BOB)] == ["incident.severity"]
    first = _denied(bot, DAVE)[0]
    assert first.channel == channel and first.params["to"] == "SEV3"
    assert {"role": "the commander", "refs": [ALICE], "anyone": False} in first.params["allowed"]

    # ...so nothing changed and production stays blocked.
    stored = _incident(bot)
    assert (stored.severity, stored.status, stored.commander) == ("SEV1", "identified", ALICE)
    assert _blocks_production(bot)
    assert "Can't deploy web to production" in _production_deploy(bot)

    # A manager lowers it: the block lifts.
    assert "severity is *SEV3*" in _say(bot, "sev 3", user=ERIN, channel=channel)
    assert not _blocks_production(bot)
    assert "waiting for 2 approval(s)" in _production_deploy(bot)


def test_a_retried_refusal_is_audited_once(running_bot: RunningBot) -> None:
    bot = running_bot
    bot.runtime.start_background(worker=False, scheduler=False)
    incident, channel = _declare_without_worker(bot)
    body = slash_command_body(
        command="/incident", text="resolve done", user_id=DAVE, channel_id=channel
    )
    first = bot.post_signed(body)
    assert "You may not resolve" in first.json()["text"]
    retry = bot.post_signed(body, headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "x"})
    assert retry.status_code == 200
    assert [e.action for e in _denied(bot, DAVE)] == ["incident.resolved"]
    assert _incident(bot).status != "resolved" and incident.id == _incident(bot).id


def _declare_without_worker(bot: RunningBot) -> tuple[Incident, str]:
    """A declared SEV1 with its channel stored directly (no Slack round trip needed)."""
    bot.command("declare SEV1 web Payments down", command="/incident", user=ALICE)
    incident = _incident(bot)
    config = bot.runtime.deps.config
    assert config is not None and incident.id is not None
    with bot.runtime.database.transaction() as session:
        channel_ready(
            session=session,
            clock=bot.runtime.deps.clock,
            config=config,
            incident_id=incident.id,
            channel_id="C0INCPERM",
            channel_name="inc-payments-down",
        )
    return incident, "C0INCPERM"


def _card(slack: Any, channel: str) -> dict[str, Any]:
    return slack.wait_for(
        lambda: next(
            (m for m in slack.messages(channel) if "Status" in json.dumps(m.get("blocks"))), None
        ),
        WAIT,
    )


def _click(bot: RunningBot, slack: Any, *, user: str, action_id: str, channel: str) -> None:
    card = _card(slack, channel)
    body = block_actions_body(
        user_id=user,
        action_id=action_id,
        value=str(_incident(bot).id),
        channel_id=channel,
        message_ts=card["ts"],
        response_url=slack.response_url(channel=channel, user=user),
    )
    assert bot.post_signed(body).status_code == 200


def _submit(bot: RunningBot, *, user: str, callback_id: str, values: dict[str, Any]) -> Any:
    state = {block: {block: {"type": kind, **value}} for block, (kind, value) in values.items()}
    body = view_submission_body(
        user_id=user,
        callback_id=callback_id,
        private_metadata=str(_incident(bot).id),
        state_values=state,
    )
    response = bot.post_signed(body)
    assert response.status_code == 200
    return response.json() if response.content else None


def _modals(slack: Any, callback_id: str) -> list[dict[str, Any]]:
    return [v for v in slack.views() if v["callback_id"] == callback_id]


RESOLVE = {"summary": ("plain_text_input", {"value": "fixed"})}
RESOLVED_STATUS = {
    "status": ("static_select", {"selected_option": {"value": "resolved"}}),
    "message": ("plain_text_input", {"value": "fixed"}),
}


def test_card_buttons_and_forms_follow_the_same_rules(running_bot: RunningBot, slack: Any) -> None:
    bot = running_bot
    bot.runtime.start_background(worker=True, scheduler=False)
    incident, channel = _declare_sev1(bot)

    # dave's clicks open no form: each is refused, only to him, saying who may.
    for action_id in ("incident.open_resolve", "incident.open_assign"):
        _click(bot, slack, user=DAVE, action_id=action_id, channel=channel)
    texts = slack.wait_for(
        lambda: ephemeral_texts(slack, DAVE)[1:] and ephemeral_texts(slack, DAVE), WAIT
    )
    assert any("You may not resolve" in t and f"<@{ALICE}>" in t for t in texts)
    assert any("You may not change the roles" in t for t in texts)
    assert _modals(slack, "incident.resolve") == [] and _modals(slack, "incident.assign") == []

    # Forms submitted anyway (opened before a role changed hands) are refused over the form.
    refused = [
        _submit(bot, user=DAVE, callback_id="incident.resolve", values=RESOLVE),
        _submit(bot, user=DAVE, callback_id="incident.status", values=RESOLVED_STATUS),
        _submit(
            bot,
            user=DAVE,
            callback_id="incident.assign",
            values={"commander": ("users_select", {"selected_user": DAVE})},
        ),
    ]
    for answer in refused:
        assert answer["response_action"] == "push"
        assert "You may not" in json.dumps(answer["view"]) and f"<@{ERIN}>" in json.dumps(
            answer["view"]
        )
    assert [e.action for e in _denied(bot, DAVE)] == [
        "incident.resolved",
        "incident.assign",
        "incident.resolved",
        "incident.resolved",
        "incident.assign",
    ]
    assert _incident(bot).commander == ALICE and _blocks_production(bot)

    # The manager hands command to bob by the form; alice, no longer commander nor a
    # responder, may not resolve any more; bob, the commander now, may.
    assert (
        _submit(
            bot,
            user=ERIN,
            callback_id="incident.assign",
            values={"commander": ("users_select", {"selected_user": BOB})},
        )
        is None
    )
    assert _incident(bot).commander == BOB
    assert _submit(bot, user=ALICE, callback_id="incident.resolve", values=RESOLVE) is not None
    assert [e.action for e in _denied(bot, ALICE)] == ["incident.resolved"]
    assert _blocks_production(bot)
    _click(bot, slack, user=BOB, action_id="incident.open_resolve", channel=channel)
    slack.wait_for(lambda: _modals(slack, "incident.resolve") or None, WAIT)
    assert _submit(bot, user=BOB, callback_id="incident.resolve", values=RESOLVE) is None
    assert _incident(bot).status == "resolved" and not _blocks_production(bot)
    with bot.runtime.database.read_session() as session:
        done = entries(
            session=session, action="incident.resolved", target=f"incident:{incident.id}"
        )
    assert [(e.actor, e.outcome) for e in done] == [
        (BOB, "ok"),
        (ALICE, "denied"),
        (DAVE, "denied"),
        (DAVE, "denied"),
        (DAVE, "denied"),
    ]
