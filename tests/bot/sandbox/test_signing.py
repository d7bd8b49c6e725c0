"""Requests built by ``bot.sandbox.signing`` verify with slack_sdk and parse like Slack's."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from urllib.parse import parse_qs

import pytest
from slack_sdk.signature import SignatureVerifier

from bot.sandbox.signing import (
    FORM_CONTENT_TYPE,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SlackRequestSigner,
    block_actions_body,
    event_callback_body,
    sign,
    slash_command_body,
    view_submission_body,
)
from workflows.clock import FakeClock

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
NOW = 1_767_225_600


class FixedClock:
    """slack_sdk's verifier clock, pinned so "stale" does not depend on the wall clock."""

    def now(self) -> float:
        return float(NOW)


def verifier(secret: str = SECRET) -> SignatureVerifier:
    return SignatureVerifier(secret, clock=FixedClock())


def test_signature_is_the_one_in_slacks_documentation() -> None:
    # The worked example of https://api.slack.com/authentication/verifying-requests-from-slack
    # (same secret, timestamp and body), so the signer is checked against Slack itself, not
    # only against slack_sdk's verifier.
    body = (
        b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow"
        b"&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner"
        b"&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com"
        b"%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
        b"&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
    )
    assert sign(body, signing_secret=SECRET, timestamp=1531420618) == {
        TIMESTAMP_HEADER: "1531420618",
        SIGNATURE_HEADER: "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
    }


def test_signature_verifies_with_slack_sdk() -> None:
    body = b"token=x&command=%2Fdeploy&text=api+prod"
    headers = sign(body, signing_secret=SECRET, timestamp=NOW)
    assert headers[SIGNATURE_HEADER].startswith("v0=")
    assert verifier().is_valid_request(body, headers)


def test_request_older_than_five_minutes_is_rejected() -> None:
    body = b"text=hello"
    assert verifier().is_valid_request(body, sign(body, signing_secret=SECRET, timestamp=NOW - 299))
    assert not verifier().is_valid_request(
        body, sign(body, signing_secret=SECRET, timestamp=NOW - 301)
    )


def test_forged_requests_are_rejected() -> None:
    body = b"text=hello"
    wrong_secret = sign(body, signing_secret="not-the-secret", timestamp=NOW)
    assert not verifier().is_valid_request(body, wrong_secret)
    tampered = sign(body, signing_secret=SECRET, timestamp=NOW)
    assert not verifier().is_valid_request(b"text=hellO", tampered)


def test_signer_takes_time_from_the_injected_clock() -> None:
    clock = FakeClock(datetime.fromtimestamp(NOW, UTC))
    body, headers = SlackRequestSigner(SECRET, clock=clock).signed(b"a=1", FORM_CONTENT_TYPE)
    assert headers[TIMESTAMP_HEADER] == str(NOW)
    assert headers["Content-Type"] == FORM_CONTENT_TYPE
    assert verifier().is_valid_request(body, headers)
    clock.advance(minutes=6)
    _, late = SlackRequestSigner(SECRET, clock=clock).signed(b"a=1", FORM_CONTENT_TYPE)
    assert not verifier().is_valid_request(body, late)


def test_slash_command_body_parses_back_to_the_given_fields() -> None:
    body = slash_command_body(
        command="/deploy",
        text="api prod --ref v1.2.3 & more",
        user_id="U123",
        channel_id="C456",
        user_name="alice",
        channel_name="deploys",
        trigger_id="1.2.abc",
        response_url="http://127.0.0.1:1/response/R1",
    )
    fields = {k: v[0] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}
    assert fields["command"] == "/deploy"
    assert fields["text"] == "api prod --ref v1.2.3 & more"
    assert (fields["user_id"], fields["user_name"]) == ("U123", "alice")
    assert (fields["channel_id"], fields["channel_name"]) == ("C456", "deploys")
    assert fields["trigger_id"] == "1.2.abc"
    assert fields["response_url"] == "http://127.0.0.1:1/response/R1"
    assert fields["team_id"] == "T0SHIPBOT"
    assert set(fields) == {
        "token", "team_id", "team_domain", "channel_id", "channel_name", "user_id",
        "user_name", "command", "text", "api_app_id", "is_enterprise_install",
        "response_url", "trigger_id",
    }  # fmt: skip


def test_slash_command_empty_text_is_sent_as_an_empty_field() -> None:
    body = slash_command_body(command="/incident", text="", user_id="U1", channel_id="C1")
    assert parse_qs(body.decode(), keep_blank_values=True)["text"] == [""]


def _payload(body: bytes) -> dict:
    (raw,) = parse_qs(body.decode())["payload"]
    return json.loads(raw)


def test_block_actions_body_carries_the_clicked_button() -> None:
    body = block_actions_body(
        user_id="U1",
        action_id="approve",
        value="deploy:42",
        block_id="approval",
        channel_id="C1",
        message_ts="1767000000.000100",
        response_url="http://127.0.0.1:1/response/R2",
    )
    payload = _payload(body)
    assert payload["type"] == "block_actions"
    (action,) = payload["actions"]
    assert action["action_id"] == "approve"
    assert action["value"] == "deploy:42"
    assert action["block_id"] == "approval"
    assert action["type"] == "button"
    assert payload["container"] == {
        "type": "message",
        "message_ts": "1767000000.000100",
        "channel_id": "C1",
        "is_ephemeral": False,
    }
    assert payload["channel"]["id"] == "C1"
    assert payload["message"]["ts"] == "1767000000.000100"
    assert payload["user"]["id"] == "U1"
    assert payload["team"]["id"] == "T0SHIPBOT"
    assert payload["response_url"] == "http://127.0.0.1:1/response/R2"


def test_generated_ids_are_unique_per_call() -> None:
    clicks = [
        _payload(block_actions_body(user_id="U1", action_id="a", channel_id="C1"))
        for _ in range(50)
    ]
    assert len({c["trigger_id"] for c in clicks}) == 50
    assert len({c["actions"][0]["action_ts"] for c in clicks}) == 50
    events = [json.loads(event_callback_body(event={"type": "app_mention"})) for _ in range(50)]
    assert len({e["event_id"] for e in events}) == 50


def test_view_submission_body_carries_state_and_metadata() -> None:
    values = {"reason": {"reason_input": {"type": "plain_text_input", "value": "hotfix"}}}
    payload = _payload(
        view_submission_body(
            user_id="U9",
            callback_id="deploy_modal",
            state_values=values,
            private_metadata='{"deploy": 7}',
            view_id="V1",
        )
    )
    assert payload["type"] == "view_submission"
    assert payload["view"]["id"] == "V1"
    assert payload["view"]["callback_id"] == "deploy_modal"
    assert payload["view"]["state"]["values"] == values
    assert payload["view"]["private_metadata"] == '{"deploy": 7}'
    assert payload["user"]["id"] == "U9"


@pytest.mark.parametrize("team_id", ["T0SHIPBOT", "T0OTHER"])
def test_event_callback_body_is_an_envelope_around_the_event(team_id: str) -> None:
    event = {"type": "app_mention", "user": "U1", "text": "<@U0SHIPBOT> status", "ts": "1.2"}
    envelope = json.loads(event_callback_body(event=event, event_id="Ev1", team_id=team_id))
    assert envelope["type"] == "event_callback"
    assert envelope["event"] == event
    assert envelope["event_id"] == "Ev1"
    assert envelope["team_id"] == team_id
