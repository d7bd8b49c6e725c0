"""Shortcuts and Events API deliveries as plain values (no Slack payload beyond this
point), next to ``reply.SlashCommand``/``Action``/``Submission``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Shortcut:
    """A global shortcut (``type: shortcut``) or a message shortcut (``message_action``);
    for a message shortcut, the message it was used on."""

    callback_id: str
    user_id: str
    trigger_id: str = ""
    channel_id: str = ""
    message_ts: str = ""
    message_text: str = ""
    message_user: str = ""
    delivery_key: str = ""

    @property
    def on_message(self) -> bool:
        return bool(self.channel_id and self.message_ts)

    @classmethod
    def from_payload(cls, body: dict[str, Any], *, delivery_key: str = "") -> Shortcut:
        message = body.get("message") or {}
        return cls(
            callback_id=str(body.get("callback_id", "")),
            user_id=str((body.get("user") or {}).get("id", "")),
            trigger_id=str(body.get("trigger_id", "")),
            channel_id=str((body.get("channel") or {}).get("id", "")),
            message_ts=str(message.get("ts") or body.get("message_ts") or ""),
            message_text=str(message.get("text", "")),
            message_user=str(message.get("user") or message.get("bot_id") or ""),
            delivery_key=delivery_key,
        )


@dataclass(frozen=True)
class AppEvent:
    """An Events API event: its type, the user it is about and, for ``app_home_opened``,
    the tab that was opened."""

    type: str
    user_id: str
    tab: str = ""
    delivery_key: str = ""
    channel_id: str = ""  # the channel it happened in (``member_joined_channel``)

    @classmethod
    def from_payload(cls, body: dict[str, Any], *, delivery_key: str = "") -> AppEvent:
        event = body.get("event") or {}
        return cls(
            type=str(event.get("type", "")),
            user_id=str(event.get("user", "")),
            tab=str(event.get("tab", "")),
            delivery_key=delivery_key,
            channel_id=str(event.get("channel", "")),
        )
