"""Emulated ``conversations.archive`` and ``conversations.members`` (incident channels
archived after resolving; who is in a private incident's channel)."""

from __future__ import annotations

from typing import Any

from bot.sandbox.slack.methods.base import ApiError, Args, MethodRegistry, require_channel
from bot.sandbox.slack.state import SlackState
from bot.sandbox.workspace import BOT_USER_ID

METHODS = MethodRegistry()


@METHODS.method("conversations.archive")
def archive(state: SlackState, args: Args) -> dict[str, Any]:
    """As Slack: only a member may archive, a DM cannot be, and twice is an error."""
    channel = require_channel(state, args)
    if channel.im_user is not None:
        raise ApiError("method_not_supported_for_channel_type")
    if BOT_USER_ID not in channel.members:
        raise ApiError("not_in_channel")
    if channel.is_archived:
        raise ApiError("already_archived")
    channel.is_archived = True
    return {}


@METHODS.method("conversations.members")
def members(state: SlackState, args: Args) -> dict[str, Any]:
    channel = require_channel(state, args)
    return {"members": sorted(channel.members), "response_metadata": {"next_cursor": ""}}
