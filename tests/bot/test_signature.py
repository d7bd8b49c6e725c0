"""The Slack endpoint's signature check (slack_sdk's ``SignatureVerifier`` at the edge of
``bot.http``): forged, stale and junk requests get 401 before Bolt parses anything, an
oversized body 413 before even the signature, and a signed one reaches the app."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from slack_bolt import Ack, App
from slack_bolt.request import BoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk import WebClient

from bot.http import MAX_SLACK_BODY, build_http_app
from bot.metrics import Metrics
from bot.sandbox import FakeSlackApi
from bot.sandbox.signing import FORM_CONTENT_TYPE, sign, slash_command_body
from bot.server_thread import ServerThread
from workflows.store.db import Database

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
BODY = slash_command_body(command="/shipbot", text="help", user_id="U0ALICE", channel_id="C1")


class CountingApp(App):
    """A real Bolt app that counts the requests handed to it (each is parsed by then)."""

    dispatched = 0

    def dispatch(self, req: BoltRequest) -> BoltResponse:
        self.dispatched += 1
        return super().dispatch(req)


@dataclass
class Endpoint:
    bolt: CountingApp
    http: httpx.Client

    def post(self, body: bytes, headers: dict[str, Any]) -> httpx.Response:
        return self.http.post(
            "/slack/events", content=body, headers={**headers, "Content-Type": FORM_CONTENT_TYPE}
        )


@pytest.fixture
def endpoint(tmp_path: Path, slack: FakeSlackApi) -> Iterator[Endpoint]:
    # Bolt asks auth.test who it is on the first request: the Slack fake answers.
    client = WebClient(token="xoxb-signature", base_url=slack.url, retry_handlers=[])
    bolt = CountingApp(signing_secret=SECRET, client=client, token_verification_enabled=False)

    @bolt.command("/shipbot")
    def answer(ack: Ack) -> None:
        ack("signed and heard")

    database = Database(f"sqlite:///{tmp_path / 'unused.db'}")
    app = build_http_app(bolt_app=bolt, signing_secret=SECRET, database=database, metrics=Metrics())
    with ServerThread(app) as server, httpx.Client(base_url=server.url) as http:
        yield Endpoint(bolt, http)


def test_a_signed_request_reaches_the_app(endpoint: Endpoint) -> None:
    response = endpoint.post(BODY, sign(BODY, signing_secret=SECRET))
    assert (response.status_code, response.text) == (200, "signed and heard")
    assert endpoint.bolt.dispatched == 1


def test_forged_stale_future_and_unsigned_requests_never_reach_the_app(
    endpoint: Endpoint,
) -> None:
    now = int(time.time())
    refused = {
        "forged": sign(BODY, signing_secret="another-secret"),
        "stale": sign(BODY, signing_secret=SECRET, timestamp=now - 6 * 60),
        "from the future": sign(BODY, signing_secret=SECRET, timestamp=now + 6 * 60),
        "unsigned": {},
        "timestamp only": {"X-Slack-Request-Timestamp": str(now)},
    }
    for what, headers in refused.items():
        assert endpoint.post(BODY, headers).status_code == 401, what
    tampered = BODY.replace(b"U0ALICE", b"U0DAVE0")
    assert endpoint.post(tampered, sign(BODY, signing_secret=SECRET)).status_code == 401
    assert endpoint.bolt.dispatched == 0


def test_junk_in_the_signature_headers_is_a_401_not_a_crash(endpoint: Endpoint) -> None:
    signed = sign(BODY, signing_secret=SECRET)
    junk: dict[str, dict[str, Any]] = {
        "a timestamp that is not a number": {**signed, "X-Slack-Request-Timestamp": "soon"},
        "a timestamp too long to be a number": {
            **signed,
            "X-Slack-Request-Timestamp": "9" * 5000,
        },
        "a signature that is not ASCII": {
            **signed,
            "X-Slack-Signature": "v0=\u00e9".encode("latin-1"),
        },
    }
    for what, headers in junk.items():
        assert endpoint.post(BODY, headers).status_code == 401, what
    assert endpoint.bolt.dispatched == 0


def test_a_correctly_signed_body_that_is_not_utf8_is_refused_not_crashed_on(
    endpoint: Endpoint,
) -> None:
    # Slack sends UTF-8 only; slack_sdk cannot verify other bytes, so they count as unsigned.
    body = b"command=%2Fshipbot&text=\xff\xfe"
    assert endpoint.post(body, sign(body, signing_secret=SECRET)).status_code == 401
    assert endpoint.bolt.dispatched == 0


def test_an_oversized_body_is_refused_before_its_signature_is_checked(
    endpoint: Endpoint,
) -> None:
    body = b"text=" + b"x" * MAX_SLACK_BODY
    assert endpoint.post(body, {}).status_code == 413
    assert endpoint.post(body, sign(body, signing_secret=SECRET)).status_code == 413
    assert endpoint.bolt.dispatched == 0
