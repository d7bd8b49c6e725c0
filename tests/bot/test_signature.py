"""Slack's v0 signature over raw bytes, cross-checked with slack_sdk's own verifier."""

from __future__ import annotations

import time

from slack_sdk.signature import SignatureVerifier

from bot.sandbox.signing import sign
from bot.signature import is_valid_signature

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
BODY = b"token=x&team_id=T0SHIPBOT&command=%2Fshipbot&text=help"


def lower(headers: dict[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def test_agrees_with_slack_sdk_on_a_valid_request() -> None:
    now = time.time()
    headers = sign(BODY, signing_secret=SECRET, timestamp=int(now))
    assert is_valid_signature(BODY, lower(headers), signing_secret=SECRET, now=now)
    assert SignatureVerifier(SECRET).is_valid_request(BODY, headers)


def test_refuses_forged_stale_future_and_missing() -> None:
    now = time.time()
    forged = sign(BODY, signing_secret="another-secret", timestamp=int(now))
    stale = sign(BODY, signing_secret=SECRET, timestamp=int(now) - 301)
    future = sign(BODY, signing_secret=SECRET, timestamp=int(now) + 301)
    for headers in (forged, stale, future, {}, {"X-Slack-Request-Timestamp": "soon"}):
        assert not is_valid_signature(BODY, lower(headers), signing_secret=SECRET, now=now)


def test_refuses_a_body_changed_after_signing() -> None:
    now = time.time()
    headers = lower(sign(BODY, signing_secret=SECRET, timestamp=int(now)))
    assert not is_valid_signature(BODY + b"&x=1", headers, signing_secret=SECRET, now=now)


def test_bytes_that_are_not_utf8_are_verified_not_crashed_on() -> None:
    now = time.time()
    body = b"text=\xff\xfe"
    headers = lower(sign(body, signing_secret=SECRET, timestamp=int(now)))
    assert is_valid_signature(body, headers, signing_secret=SECRET, now=now)
