"""Emulated ``auth.test``, ``chat.*``, ``pins.add`` and ``reactions.add``, plus what a POST
to a ``response_url`` does to the workspace."""

from __future__ import annotations

import copy
from typing import Any

from bot.sandbox.slack.methods.base import (
    ApiError,
    Args,
    MethodRegistry,
    checked_blocks,
    require_channel,
    require_message,
)
from bot.sandbox.slack.state import Channel, Ephemeral, SlackState
from bot.sandbox.workspace import (
    APP_ID,
    BOT_ID,
    BOT_USER_ID,
    BOT_USER_NAME,
    TEAM_DOMAIN,
    TEAM_ID,
    TEAM_NAME,
)

METHODS = MethodRegistry()
WORKSPACE_URL = f"https://{TEAM_DOMAIN}.slack.com/"


@METHODS.method("auth.test")
def auth_test(state: SlackState, args: Args) -> dict[str, Any]:
    return {
        "url": WORKSPACE_URL,
        "team": TEAM_NAME,
        "user": BOT_USER_NAME,
        "team_id": TEAM_ID,
        "user_id": BOT_USER_ID,
        "bot_id": BOT_ID,
        "is_enterprise_install": False,
    }


def _metadata(args: Args) -> dict[str, Any] | None:
    metadata = args.structured("metadata")
    if metadata is None:
        return None
    if (
        not isinstance(metadata, dict)
        or not isinstance(metadata.get("event_type"), str)
        or not isinstance(metadata.get("event_payload", {}), dict)
    ):
        raise ApiError("invalid_metadata_format")
    return {
        "event_type": metadata["event_type"],
        "event_payload": metadata.get("event_payload", {}),
    }


def post_bot_message(
    state: SlackState,
    channel: Channel,
    *,
    text: str,
    blocks: list[dict[str, Any]] | None = None,
    attachments: list[dict[str, Any]] | None = None,
    metadata: dict[str, Any] | None = None,
    thread_ts: str | None = None,
    reply_broadcast: bool = False,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Append a message from the bot to ``channel`` (threading it) and return it."""
    message: dict[str, Any] = {
        "type": "message",
        "user": BOT_USER_ID,
        "bot_id": BOT_ID,
        "app_id": APP_ID,
        "team": TEAM_ID,
        "text": text,
    }
    for key, value in (("blocks", blocks), ("attachments", attachments), ("metadata", metadata)):
        if value is not None:
            message[key] = value
    if extra:
        message.update(extra)
    return _append(state, channel, message, thread_ts=thread_ts, reply_broadcast=reply_broadcast)


def post_user_message(
    state: SlackState, channel: Channel, *, user: str, text: str, thread_ts: str | None = None
) -> dict[str, Any]:
    """Append a message a person typed (the browser sandbox's composer) and return it."""
    message = {"type": "message", "user": user, "team": TEAM_ID, "text": text}
    return _append(state, channel, message, thread_ts=thread_ts, reply_broadcast=False)


def _append(
    state: SlackState,
    channel: Channel,
    message: dict[str, Any],
    *,
    thread_ts: str | None,
    reply_broadcast: bool,
) -> dict[str, Any]:
    parent = None
    if thread_ts is not None:
        parent = require_message(state, channel, thread_ts)
        # Replying to a reply lands in the parent's thread, as in Slack.
        thread_ts = parent.get("thread_ts", parent["ts"])
        parent = require_message(state, channel, thread_ts)
    message["ts"] = state.next_ts()
    if parent is not None:
        message["thread_ts"] = thread_ts
        message["parent_user_id"] = parent["user"]
        if reply_broadcast:
            message["subtype"] = "thread_broadcast"
        parent["thread_ts"] = parent["ts"]
        parent["reply_count"] = parent.get("reply_count", 0) + 1
        parent["reply_users"] = sorted({*parent.get("reply_users", []), message["user"]})
        parent["reply_users_count"] = len(parent["reply_users"])
        parent["latest_reply"] = message["ts"]
    state.data.messages[channel.id].append(message)
    return message


@METHODS.method("chat.postMessage")
def post_message(state: SlackState, args: Args) -> dict[str, Any]:
    channel = require_channel(state, args)
    blocks = checked_blocks(state, "chat.postMessage", args)
    attachments = args.structured("attachments")
    text = args.get("text")
    if text is None and not blocks and not attachments:
        raise ApiError("no_text")
    thread_ts = args.get("thread_ts")
    if thread_ts is not None and state.data.find_message(channel.id, thread_ts) is None:
        raise ApiError("thread_not_found")
    message = post_bot_message(
        state,
        channel,
        text=text or "",
        blocks=blocks,
        attachments=attachments,
        metadata=_metadata(args),
        thread_ts=thread_ts,
        reply_broadcast=args.flag("reply_broadcast"),
    )
    return {"channel": channel.id, "ts": message["ts"], "message": copy.deepcopy(message)}


@METHODS.method("chat.update")
def update_message(state: SlackState, args: Args) -> dict[str, Any]:
    channel = require_channel(state, args)
    message = require_message(state, channel, args.require("ts", error="message_not_found"))
    if message.get("user") != BOT_USER_ID:
        raise ApiError("cant_update_message")
    blocks = checked_blocks(state, "chat.update", args)
    text = args.get("text")
    attachments = args.structured("attachments")
    metadata = _metadata(args)
    # Fields left out keep their old value; an empty list clears blocks/attachments.
    if text is not None:
        message["text"] = text
    for key, value in (("blocks", blocks), ("attachments", attachments), ("metadata", metadata)):
        if value is not None:
            message[key] = value
    message["edited"] = {"user": BOT_USER_ID, "ts": state.next_ts()}
    return {
        "channel": channel.id,
        "ts": message["ts"],
        "text": message["text"],
        "message": copy.deepcopy(message),
    }


def delete_message(state: SlackState, channel: Channel, ts: str) -> None:
    message = require_message(state, channel, ts)
    state.data.messages[channel.id].remove(message)


@METHODS.method("chat.delete")
def chat_delete(state: SlackState, args: Args) -> dict[str, Any]:
    channel = require_channel(state, args)
    ts = args.require("ts", error="message_not_found")
    message = require_message(state, channel, ts)
    if message.get("user") != BOT_USER_ID:
        raise ApiError("cant_delete_message")
    delete_message(state, channel, ts)
    return {"channel": channel.id, "ts": ts}


def record_ephemeral(
    state: SlackState,
    *,
    channel: str,
    user: str,
    text: str,
    blocks: list[dict[str, Any]] | None,
    thread_ts: str | None,
) -> Ephemeral:
    ephemeral = Ephemeral(channel, user, text, blocks, thread_ts, state.next_ts())
    state.data.ephemerals.append(ephemeral)
    return ephemeral


@METHODS.method("chat.postEphemeral")
def post_ephemeral(state: SlackState, args: Args) -> dict[str, Any]:
    channel = require_channel(state, args)
    user = args.require("user", error="user_not_found")
    if user not in state.data.users:
        raise ApiError("user_not_found")
    if user not in channel.members:
        raise ApiError("user_not_in_channel")
    blocks = checked_blocks(state, "chat.postEphemeral", args)
    text = args.get("text")
    if text is None and not blocks and not args.structured("attachments"):
        raise ApiError("no_text")
    ephemeral = record_ephemeral(
        state,
        channel=channel.id,
        user=user,
        text=text or "",
        blocks=blocks,
        thread_ts=args.get("thread_ts"),
    )
    return {"message_ts": ephemeral.message_ts}


@METHODS.method("chat.getPermalink")
def get_permalink(state: SlackState, args: Args) -> dict[str, Any]:
    channel = require_channel(state, args)
    ts = args.require("message_ts", error="message_not_found")
    message = require_message(state, channel, ts)
    link = f"{WORKSPACE_URL}archives/{channel.id}/p{ts.replace('.', '')}"
    if "thread_ts" in message and message["thread_ts"] != ts:
        link += f"?thread_ts={message['thread_ts']}&cid={channel.id}"
    return {"channel": channel.id, "permalink": link}


@METHODS.method("pins.add")
def pins_add(state: SlackState, args: Args) -> dict[str, Any]:
    channel = require_channel(state, args)
    message = require_message(state, channel, args.require("timestamp", error="no_item_specified"))
    pinned = message.setdefault("pinned_to", [])
    if channel.id in pinned:
        raise ApiError("already_pinned")
    pinned.append(channel.id)
    return {}


@METHODS.method("reactions.add")
def reactions_add(state: SlackState, args: Args) -> dict[str, Any]:
    channel = require_channel(state, args)
    message = require_message(state, channel, args.require("timestamp", error="no_item_specified"))
    name = args.require("name", error="invalid_name").strip(":")
    reactions = message.setdefault("reactions", [])
    reaction = next((r for r in reactions if r["name"] == name), None)
    if reaction is None:
        reaction = {"name": name, "users": [], "count": 0}
        reactions.append(reaction)
    if BOT_USER_ID in reaction["users"]:
        raise ApiError("already_reacted")
    reaction["users"].append(BOT_USER_ID)
    reaction["count"] += 1
    return {}


# --- response_url ---------------------------------------------------------------------------

# Slack lets an app use one response_url up to five times.
RESPONSE_URL_USES = 5


def apply_response_post(state: SlackState, url_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """What Slack does with a POST to a response_url; call while holding ``state.lock``.

    ``in_channel`` posts to the channel, ``replace_original`` / ``delete_original`` act on
    the message the URL came from, anything else is an ephemeral for the invoking user."""
    target = state.data.response_urls.get(url_id)
    if target is None:
        raise ApiError("expired_url")
    if target.uses >= RESPONSE_URL_USES:
        raise ApiError("used_url")
    target.uses += 1
    channel = state.data.channels.get(target.channel)
    if channel is None:
        raise ApiError("channel_not_found")
    blocks = checked_blocks(state, "response_url", Args(body))
    text = body.get("text") or ""
    original = target.message_ts
    if _truthy(body.get("delete_original")):
        if original is None:
            raise ApiError("no_original_message")
        delete_message(state, channel, original)
    elif _truthy(body.get("replace_original")) and original is not None:
        message = require_message(state, channel, original)
        message["text"] = text
        message["blocks"] = blocks or []
        message["edited"] = {"user": BOT_USER_ID, "ts": state.next_ts()}
    elif body.get("response_type") == "in_channel":
        post_bot_message(
            state, channel, text=text, blocks=blocks, thread_ts=body.get("thread_ts") or None
        )
    else:
        record_ephemeral(
            state,
            channel=channel.id,
            user=target.user or BOT_USER_ID,
            text=text,
            blocks=blocks,
            thread_ts=body.get("thread_ts"),
        )
    return {}


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() in ("1", "true")
