"""What the Web API fake's tests share: a WebClient on the fake and a seeded channel."""

from __future__ import annotations

import pytest
from slack_sdk import WebClient

from bot.sandbox import FakeSlackApi

CHANNEL = "C0DEPLOYS"


@pytest.fixture
def client(slack: FakeSlackApi) -> WebClient:
    # No retry handlers: each test sees exactly what the fake answered.
    return WebClient(token="xoxb-test", base_url=slack.url, retry_handlers=[])


@pytest.fixture
def channel(slack: FakeSlackApi) -> str:
    slack.add_user("U1", name="alice", email="alice@example.com")
    return slack.add_channel("deploys", channel_id=CHANNEL, members=["U1"])
