"""The records and stores of the emulated Slack workspace (see ``state``).

Slack objects (messages, channels, users, views) are kept as dicts in Slack's own shapes,
so the sandbox can render them exactly as ``conversations.history`` returns them; the
records the fake adds for tests (calls, ephemerals, uploads) are dataclasses."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from bot.sandbox.workspace import BOT_USER_ID, TEAM_ID


@dataclass(frozen=True)
class Call:
    """One request the fake received.

    ``body`` holds the parameters (query, form or JSON) with the JSON-encoded ones
    (``blocks``, ``attachments``, ``metadata``, ``view``, ``files``) already decoded."""

    method: str
    body: dict[str, Any]
    headers: dict[str, str]
    at: float


@dataclass(frozen=True)
class Ephemeral:
    """A message only ``user`` sees (``chat.postEphemeral`` or an ephemeral response_url)."""

    channel: str
    user: str
    text: str
    blocks: list[dict[str, Any]] | None
    thread_ts: str | None
    message_ts: str


@dataclass(frozen=True)
class ResponsePost:
    """A POST to a ``response_url`` the fake handed out."""

    url_id: str
    channel: str
    user: str | None
    body: dict[str, Any]
    at: float


@dataclass(frozen=True)
class InvalidBlocks:
    """Blocks the fake refused, with Slack-style error strings."""

    method: str
    errors: list[str]
    blocks: Any


@dataclass(frozen=True)
class ScriptedFailure:
    """How the next call to one method misbehaves (see ``SlackState.fail_next``)."""

    status: int | None
    error: str | None
    retry_after: int | None
    delay: float


@dataclass
class Channel:
    id: str
    name: str
    is_private: bool = False
    members: set[str] = field(default_factory=set)
    topic: str = ""
    purpose: str = ""
    created: int = 0
    creator: str = BOT_USER_ID
    im_user: str | None = None
    is_archived: bool = False  # conversations.archive (methods/archive.py)

    def to_api(self, *, viewer: str = BOT_USER_ID) -> dict[str, Any]:
        """The channel object Slack's ``conversations.*`` methods return."""
        is_im = self.im_user is not None
        return {
            "id": self.id,
            "name": self.name,
            "name_normalized": self.name,
            "is_channel": not self.is_private and not is_im,
            "is_group": self.is_private,
            "is_im": is_im,
            "is_private": self.is_private or is_im,
            "is_archived": self.is_archived,
            "is_general": False,
            "is_member": viewer in self.members,
            "created": self.created,
            "creator": self.creator,
            "user": self.im_user,
            "num_members": len(self.members),
            "topic": {"value": self.topic, "creator": self.creator, "last_set": self.created},
            "purpose": {"value": self.purpose, "creator": self.creator, "last_set": self.created},
        }


@dataclass
class UploadedFile:
    id: str
    filename: str
    length: int
    title: str = ""
    alt_txt: str | None = None
    content: bytes | None = None
    channels: list[str] = field(default_factory=list)
    completed: bool = False


@dataclass
class ResponseUrl:
    id: str
    channel: str
    user: str | None
    message_ts: str | None
    uses: int = 0


@dataclass
class Workspace:
    """The raw stores. Read or change them only while holding ``SlackState.lock``."""

    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    channels: dict[str, Channel] = field(default_factory=dict)
    # Per channel, every message (top level and thread replies) in ts order.
    messages: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    files: dict[str, UploadedFile] = field(default_factory=dict)
    views: dict[str, dict[str, Any]] = field(default_factory=dict)
    view_stacks: dict[str, list[str]] = field(default_factory=dict)
    # Who issued a trigger_id, and so whose screen a modal opened with it is on (by root id).
    trigger_users: dict[str, str] = field(default_factory=dict)
    view_users: dict[str, str] = field(default_factory=dict)
    # Each user's published App Home, by user id: the id of its view in ``views``.
    home_views: dict[str, str] = field(default_factory=dict)
    ephemerals: list[Ephemeral] = field(default_factory=list)
    usergroups: dict[str, dict[str, Any]] = field(default_factory=dict)
    response_urls: dict[str, ResponseUrl] = field(default_factory=dict)
    response_posts: list[ResponsePost] = field(default_factory=list)

    def channel_by_name(self, name: str) -> Channel | None:
        return next((c for c in self.channels.values() if c.name == name), None)

    def find_message(self, channel: str, ts: str) -> dict[str, Any] | None:
        return next((m for m in self.messages.get(channel, ()) if m["ts"] == ts), None)


def user_object(
    user_id: str,
    *,
    name: str,
    real_name: str | None,
    email: str | None,
    is_bot: bool,
    is_admin: bool,
    tz: str,
) -> dict[str, Any]:
    real = real_name or name
    profile: dict[str, Any] = {
        "real_name": real,
        "display_name": name,
        "real_name_normalized": real,
    }
    if email is not None:
        profile["email"] = email
    return {
        "id": user_id,
        "team_id": TEAM_ID,
        "name": name,
        "real_name": real,
        "deleted": False,
        "is_bot": is_bot,
        "is_admin": is_admin,
        "is_app_user": False,
        "tz": tz,
        "profile": profile,
    }
