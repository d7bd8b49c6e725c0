"""Slack user groups expanded through the real slack_sdk client against the fake."""

from __future__ import annotations

from typing import Any

from bot.slack_client import make_client
from commands.common.directory import SlackDirectory
from workflows.clock import FakeClock


def _directory(slack: Any, clock: FakeClock) -> SlackDirectory:
    client = make_client(token="xoxb-e2e", base_url=slack.url, metrics=None)
    return SlackDirectory(client, clock=clock)


def test_members_are_asked_once_then_cached_until_the_ttl(slack: Any, clock: FakeClock) -> None:
    slack.add_user("U0ERIN", name="erin")
    slack.add_usergroup("S0ONCALL", handle="oncall", users=["U0ERIN"])
    directory = _directory(slack, clock)
    assert directory.usergroup_members("S0ONCALL") == {"U0ERIN"}
    assert directory.usergroup_members("S0ONCALL") == {"U0ERIN"}
    assert len(slack.calls_to("usergroups.users.list")) == 1
    clock.advance(minutes=6)
    assert directory.usergroup_members("S0ONCALL") == {"U0ERIN"}
    assert len(slack.calls_to("usergroups.users.list")) == 2


def test_when_slack_fails_the_last_known_members_are_used_else_nobody(
    slack: Any, clock: FakeClock
) -> None:
    slack.add_usergroup("S0ONCALL", handle="oncall", users=["U0ERIN"])
    directory = _directory(slack, clock)
    assert directory.usergroup_members("S0ONCALL") == {"U0ERIN"}
    clock.advance(minutes=6)
    slack.fail_next("usergroups.users.list", error="ratelimited")
    assert directory.usergroup_members("S0ONCALL") == {"U0ERIN"}
    assert directory.usergroup_members("S0NOSUCH") == frozenset()  # fails closed


def test_a_slow_slack_falls_back_instead_of_holding_the_ack(slack: Any, clock: FakeClock) -> None:
    slack.add_usergroup("S0ONCALL", handle="oncall", users=["U0ERIN"])
    client = make_client(token="xoxb-e2e", base_url=slack.url, metrics=None, timeout=1)
    directory = SlackDirectory(client, clock=clock)
    assert directory.usergroup_members("S0ONCALL") == {"U0ERIN"}
    clock.advance(minutes=6)
    slack.fail_next("usergroups.users.list", delay=3)  # slower than the client waits
    assert directory.usergroup_members("S0ONCALL") == {"U0ERIN"}
