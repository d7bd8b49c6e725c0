"""Bad and hostile requests, correctly signed: a 4xx or a polite answer, never a 500,
never a stack trace, and nothing changed."""

from __future__ import annotations

import json

import pytest

from tests.e2e.conftest import RunningBot
from workflows import audit

HOSTILE_BODIES = {
    "payload is not JSON": (b"payload=%7Bnot-json", "application/x-www-form-urlencoded"),
    "payload is a JSON list": (b"payload=%5B1%2C2%5D", "application/x-www-form-urlencoded"),
    "JSON body is garbage": (b'{"type": ', "application/json"),
    "JSON body is a string": (b'"hello"', "application/json"),
    "not UTF-8": (b"command=%2Fshipbot&text=\xff\xfe", "application/x-www-form-urlencoded"),
    "empty body": (b"", "application/x-www-form-urlencoded"),
    "block_actions without actions": (
        b"payload=" + json.dumps({"type": "block_actions", "user": {"id": "U0BOB"}}).encode(),
        "application/x-www-form-urlencoded",
    ),
}


@pytest.mark.parametrize("name", sorted(HOSTILE_BODIES))
def test_malformed_but_signed_requests_are_refused_cleanly(
    running_bot: RunningBot, name: str
) -> None:
    body, content_type = HOSTILE_BODIES[name]
    response = running_bot.post_signed(body, content_type=content_type)
    assert response.status_code < 500, (name, response.status_code, response.text)
    assert "Traceback" not in response.text
    with running_bot.runtime.database.session() as session:
        assert audit.entries(session=session) == []


def test_an_enormous_command_text_is_answered_not_crashed(running_bot: RunningBot) -> None:
    response = running_bot.command("x" * 200_000)
    assert response.status_code == 200
    answer = response.json()
    assert answer["response_type"] == "ephemeral"
    assert len(answer["text"]) < 4000  # the reply does not echo the flood back


def test_markup_in_command_text_is_not_echoed_as_mentions(running_bot: RunningBot) -> None:
    answer = running_bot.command("<!channel> <@U0BOB> *bold*").json()
    assert "<!channel>" not in answer["text"]


def test_unsigned_garbage_is_refused_as_unsigned_not_parsed(running_bot: RunningBot) -> None:
    response = running_bot.http.post(
        "/slack/events",
        content=b"payload=%7Bnot-json",
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 401


def test_signed_garbage_is_a_bad_request(running_bot: RunningBot) -> None:
    response = running_bot.post_signed(b"payload=%7Bnot-json")
    assert response.status_code == 400
    assert response.json() == {"error": "malformed request body"}
