"""Emulated ``conversations.*``, ``users.info`` and ``usergroups.users.list``."""

from __future__ import annotations

import base64
import copy
import re
from typing import Any

from bot.sandbox.slack.methods.base import (
    ApiError,
    Args,
    MethodRegistry,
    require_channel,
    require_message,
)
from bot.sandbox.slack.state import Channel, SlackState
from bot.sandbox.workspace import BOT_USER_ID

METHODS = MethodRegistry()

MAX_CHANNEL_NAME = 80
MAX_TOPIC = 250
_NAME_CHARS = re.compile(r"^[a-z0-9_\-]+$")


def _check_name(name: str) -> None:
    if not name:
        raise ApiError("invalid_name_required")
    if len(name) > MAX_CHANNEL_NAME:
        raise ApiError("invalid_name_maxlength")
    if not _NAME_CHARS.match(name):
        raise ApiError("invalid_name_specials")
    if not name.strip("-_"):
        raise ApiError("invalid_name_punctuation")


@METHODS.method("conversations.create")
def create(state: SlackState, args: Args) -> dict[str, Any]:
    name = args.get("name") or ""
    _check_name(name)
    if state.data.channel_by_name(name) is not None:
        raise ApiError("name_taken")
    channel_id = state.add_channel(name, is_private=args.flag("is_private"))
    return {"channel": state.data.channels[channel_id].to_api()}


@METHODS.method("conversations.invite")
def invite(state: SlackState, args: Args) -> dict[str, Any]:
    channel = require_channel(state, args)
    if BOT_USER_ID not in channel.members:
        raise ApiError("not_in_channel")
    users = [u for u in args.require("users", error="no_user").split(",") if u]
    unknown = [u for u in users if u not in state.data.users]
    if unknown:
        raise ApiError("user_not_found", errors=[{"user": u, "ok": False} for u in unknown])
    new = [u for u in users if u not in channel.members]
    if not new and not args.flag("force"):
        raise ApiError("already_in_channel")
    channel.members.update(new)
    return {"channel": channel.to_api()}


@METHODS.method("conversations.join")
def join(state: SlackState, args: Args) -> dict[str, Any]:
    channel = require_channel(state, args)
    if channel.is_private or channel.im_user is not None:
        raise ApiError("method_not_supported_for_channel_type")
    body: dict[str, Any] = {}
    if BOT_USER_ID in channel.members:
        body = {"warning": "already_in_channel"}
    channel.members.add(BOT_USER_ID)
    return {"channel": channel.to_api(), **body}


@METHODS.method("conversations.setTopic")
def set_topic(state: SlackState, args: Args) -> dict[str, Any]:
    channel = require_channel(state, args)
    if BOT_USER_ID not in channel.members:
        raise ApiError("not_in_channel")
    topic = args.get("topic") or ""
    if len(topic) > MAX_TOPIC:
        raise ApiError("too_long")
    channel.topic = topic
    return {"channel": channel.to_api()}


@METHODS.method("conversations.list")
def list_conversations(state: SlackState, args: Args) -> dict[str, Any]:
    """Channels of the requested ``types`` (default public); private ones only if the bot
    is a member, as Slack shows them."""
    types = set((args.get("types") or "public_channel").split(","))
    channels = [
        channel.to_api()
        for channel in state.data.channels.values()
        if channel.im_user is None
        and (
            ("private_channel" in types and channel.is_private and BOT_USER_ID in channel.members)
            or ("public_channel" in types and not channel.is_private)
        )
    ]
    page = _page(channels, args, default_limit=100)
    return {"channels": page["messages"], "response_metadata": page["response_metadata"]}


@METHODS.method("conversations.info")
def info(state: SlackState, args: Args) -> dict[str, Any]:
    return {"channel": require_channel(state, args).to_api()}


def _visible(message: dict[str, Any], include_metadata: bool) -> dict[str, Any]:
    shown = copy.deepcopy(message)
    if not include_metadata:
        # Slack only returns message metadata to callers who ask for it.
        shown.pop("metadata", None)
    return shown


def _window(messages: list[dict[str, Any]], args: Args) -> list[dict[str, Any]]:
    oldest = args.number("oldest", 0.0)
    latest = args.number("latest", float("inf"))
    inclusive = args.flag("inclusive")

    def inside(message: dict[str, Any]) -> bool:
        ts = float(message["ts"])
        if inclusive:
            return oldest <= ts <= latest
        return oldest < ts < latest

    return [m for m in messages if inside(m)]


def _page(items: list[dict[str, Any]], args: Args, *, default_limit: int) -> dict[str, Any]:
    """One page of ``items`` with Slack's cursor pagination (an opaque offset)."""
    cursor = args.get("cursor")
    try:
        start = int(base64.b64decode(cursor).decode().removeprefix("offset:")) if cursor else 0
    except ValueError as exc:
        raise ApiError("invalid_cursor") from exc
    limit = int(args.number("limit", default_limit)) or default_limit
    page = items[start : start + limit]
    has_more = start + limit < len(items)
    next_cursor = base64.b64encode(f"offset:{start + limit}".encode()).decode() if has_more else ""
    return {
        "messages": page,
        "has_more": has_more,
        "response_metadata": {"next_cursor": next_cursor},
    }


def _require_member(channel: Channel) -> None:
    if BOT_USER_ID not in channel.members and channel.is_private:
        raise ApiError("channel_not_found")


@METHODS.method("conversations.history")
def history(state: SlackState, args: Args) -> dict[str, Any]:
    channel = require_channel(state, args)
    _require_member(channel)
    top_level = [
        m
        for m in state.data.messages.get(channel.id, [])
        if m.get("thread_ts", m["ts"]) == m["ts"] or m.get("subtype") == "thread_broadcast"
    ]
    include = args.flag("include_all_metadata")
    newest_first = [_visible(m, include) for m in reversed(_window(top_level, args))]
    return {"pin_count": _pin_count(state, channel), **_page(newest_first, args, default_limit=100)}


def _pin_count(state: SlackState, channel: Channel) -> int:
    return sum(channel.id in m.get("pinned_to", ()) for m in state.data.messages[channel.id])


@METHODS.method("conversations.replies")
def replies(state: SlackState, args: Args) -> dict[str, Any]:
    channel = require_channel(state, args)
    _require_member(channel)
    ts = args.require("ts", error="thread_not_found")
    try:
        message = require_message(state, channel, ts)
    except ApiError as exc:
        raise ApiError("thread_not_found") from exc
    root = message.get("thread_ts", message["ts"])
    thread = [
        m for m in state.data.messages[channel.id] if m["ts"] == root or m.get("thread_ts") == root
    ]
    include = args.flag("include_all_metadata")
    visible = [_visible(m, include) for m in _window(thread, args)]
    return _page(visible, args, default_limit=1000)


@METHODS.method("users.info")
def users_info(state: SlackState, args: Args) -> dict[str, Any]:
    user = state.data.users.get(args.require("user", error="user_not_found"))
    if user is None:
        raise ApiError("user_not_found")
    return {"user": copy.deepcopy(user)}


@METHODS.method("usergroups.users.list")
def usergroup_users(state: SlackState, args: Args) -> dict[str, Any]:
    group = state.data.usergroups.get(args.require("usergroup", error="no_such_subteam"))
    if group is None:
        raise ApiError("no_such_subteam")
    return {"users": list(group["users"])}
