"""What a command answers: plain values that the edge turns into a Slack response."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass(frozen=True)
class Reply:
    """An answer to the person who asked. ``modal``, when set, is a view the edge opens
    with the request's trigger_id (within Slack's 3-second window) instead of replying."""

    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)
    response_type: Literal["ephemeral", "in_channel"] = "ephemeral"
    modal: dict[str, Any] | None = None

    def as_response(self) -> dict[str, Any]:
        body: dict[str, Any] = {"response_type": self.response_type, "text": self.text}
        if self.blocks:
            body["blocks"] = self.blocks
        return body


@dataclass(frozen=True)
class SlashCommand:
    """A slash command as plain values (no Slack payload beyond this point)."""

    command: str
    text: str
    user_id: str
    channel_id: str
    team_id: str = ""
    trigger_id: str = ""
    delivery_key: str = ""

    @property
    def words(self) -> list[str]:
        return self.text.split()

    @classmethod
    def from_payload(cls, payload: dict[str, Any], *, delivery_key: str = "") -> SlashCommand:
        return cls(
            command=str(payload.get("command", "")),
            text=str(payload.get("text", "")).strip(),
            user_id=str(payload.get("user_id", "")),
            channel_id=str(payload.get("channel_id", "")),
            team_id=str(payload.get("team_id", "")),
            trigger_id=str(payload.get("trigger_id", "")),
            delivery_key=delivery_key,
        )


@dataclass(frozen=True)
class Action:
    """A button click as plain values."""

    action_id: str
    value: str
    user_id: str
    channel_id: str = ""
    message_ts: str = ""
    trigger_id: str = ""
    delivery_key: str = ""

    @classmethod
    def from_payload(cls, body: dict[str, Any], *, delivery_key: str = "") -> Action:
        action = (body.get("actions") or [{}])[0]
        value = action.get("value")
        if value is None:  # a select menu carries its choice here
            value = (action.get("selected_option") or {}).get("value", "")
        return cls(
            action_id=str(action.get("action_id", "")),
            value=str(value),
            user_id=str((body.get("user") or {}).get("id", "")),
            channel_id=str((body.get("channel") or {}).get("id", "")),
            message_ts=str((body.get("message") or {}).get("ts", "")),
            trigger_id=str(body.get("trigger_id", "")),
            delivery_key=delivery_key,
        )


@dataclass(frozen=True)
class Submission:
    """A submitted modal as plain values: each input's value by its action_id."""

    callback_id: str
    user_id: str
    values: dict[str, str]
    private_metadata: str = ""
    delivery_key: str = ""

    @classmethod
    def from_payload(cls, body: dict[str, Any], *, delivery_key: str = "") -> Submission:
        view = body.get("view") or {}
        values: dict[str, str] = {}
        for block in ((view.get("state") or {}).get("values") or {}).values():
            for action_id, element in (block or {}).items():
                values[str(action_id)] = _element_value(element or {})
        return cls(
            callback_id=str(view.get("callback_id", "")),
            user_id=str((body.get("user") or {}).get("id", "")),
            values=values,
            private_metadata=str(view.get("private_metadata", "")),
            delivery_key=delivery_key,
        )


def _element_value(element: dict[str, Any]) -> str:
    for key in ("value", "selected_user", "selected_channel", "selected_conversation"):
        if element.get(key):
            return str(element[key])
    option = element.get("selected_option")
    if isinstance(option, dict):
        return str(option.get("value", ""))
    # Checkboxes and multi-selects: the chosen values, comma-separated.
    options = element.get("selected_options")
    if isinstance(options, list):
        return ",".join(str(o.get("value", "")) for o in options if isinstance(o, dict))
    return ""


def escape(text: str) -> str:
    """User text made inert in mrkdwn: no mentions, links or broadcasts (Slack's rules)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def quote_input(text: str, *, limit: int = 60) -> str:
    """A user's words, shortened and escaped, for echoing back in an answer."""
    shortened = text if len(text) <= limit else text[: limit - 1] + "…"
    return escape(shortened).replace("`", "'")


def section(markdown: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": markdown}}


def context(markdown: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": markdown}]}


def header(text: str) -> dict[str, Any]:
    # Escaped like mrkdwn: Slack reads entities in plain_text too, and a header is often
    # built from a title someone typed.
    return {"type": "header", "text": {"type": "plain_text", "text": escape(text)[:150]}}


DIVIDER: dict[str, Any] = {"type": "divider"}
