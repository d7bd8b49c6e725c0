"""The fake's private incident channels: created private, archived once, and shown in the
browser sandbox only to their members."""

from __future__ import annotations

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.sandbox import FakeSlackApi
from bot.sandbox.web.mrkdwn import Directory
from bot.sandbox.web.page_state import page_state


def test_a_private_channel_is_archived_once(slack: FakeSlackApi, client: WebClient) -> None:
    slack.add_user("U1", name="alice")
    created = client.conversations_create(name="inc-leak", is_private=True)["channel"]
    assert created["is_private"] and created["id"].startswith("G")
    client.conversations_invite(channel=created["id"], users=["U1"])
    assert "U1" in client.conversations_members(channel=created["id"])["members"]
    client.conversations_archive(channel=created["id"])
    assert client.conversations_info(channel=created["id"])["channel"]["is_archived"]
    with pytest.raises(SlackApiError) as again:
        client.conversations_archive(channel=created["id"])
    assert again.value.response["error"] == "already_archived"


def test_the_browser_lists_a_private_channel_only_to_its_members(slack: FakeSlackApi) -> None:
    slack.add_user("U1", name="alice")
    slack.add_user("U2", name="carol")
    secret = slack.add_channel("inc-leak", members=["U1"], is_private=True)
    public = slack.add_channel("deploys", members=["U1", "U2"])
    listed = {
        user: [c["id"] for c in page_state(
            slack.state, user=user, channel=None, directory=Directory(), channel_order=[]
        )["channels"]]
        for user in ("U1", "U2")
    }  # fmt: skip
    assert secret in listed["U1"] and public in listed["U1"]
    assert secret not in listed["U2"] and public in listed["U2"]
