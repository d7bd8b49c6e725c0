"""What a command answers: plain values that the edge turns into a Slack response."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass(frozen=True)
class Reply:
    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)
    response_type: Literal["ephemeral", "in_channel"] = "ephemeral"

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
    return {"type": "header", "text": {"type": "plain_text", "text": text[:150]}}


DIVIDER: dict[str, Any] = {"type": "divider"}
