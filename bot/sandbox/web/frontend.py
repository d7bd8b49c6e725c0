"""What Slack's client and servers do when a person in the sandbox types or clicks.

``SlackFrontend`` builds the request Slack would send (a slash command, ``block_actions``,
``view_submission``), signs it with the app's signing secret exactly as Slack does
(``bot.sandbox.signing``), POSTs it to the app's real ``/slack/events``, and applies the
app's synchronous answer to the emulated workspace the way Slack would: a command's
answer becomes an ephemeral message (or a channel message for ``in_channel``), a
submission's answer closes, updates or pushes the modal or shows its field errors.
Both the browser page and the terminal prompt of ``shipbot dev`` use it.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from bot.sandbox.signing import (
    FORM_CONTENT_TYPE,
    SlackRequestSigner,
    block_actions_body,
    new_trigger_id,
    slash_command_body,
    view_submission_body,
)
from bot.sandbox.slack.api import FakeSlackApi
from bot.sandbox.slack.methods.base import ApiError
from bot.sandbox.slack.methods.chat import post_bot_message, post_user_message, record_ephemeral
from bot.sandbox.slack.methods.views_files import apply_submission_answer, close_view
from bot.sandbox.web.blocks_html import block_of, find_element
from bot.sandbox.web.modal_html import missing_required, state_values
from bot.sandbox.web.mrkdwn import Directory

log = logging.getLogger("shipbot.sandbox")

EVENTS_PATH = "/slack/events"


class SandboxError(Exception):
    """Something the person should be told (the page shows it; nothing was sent)."""


@dataclass
class Outcome:
    """What happened to one request: the app's HTTP status and, for a modal submission,
    the field errors it asked to show."""

    status: int
    errors: dict[str, str] = field(default_factory=dict)


def escaped_commands(manifest: Path) -> frozenset[str]:
    """The slash commands the app manifest declares with ``should_escape: true``."""
    try:
        data = yaml.safe_load(manifest.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return frozenset()
    commands = (data.get("features") or {}).get("slash_commands") or []
    return frozenset(c["command"] for c in commands if c.get("should_escape"))


def escape_command_text(text: str, *, should_escape: bool, directory: Directory) -> str:
    """The ``text`` field as Slack sends it: ``& < >`` always escaped; with
    ``should_escape``, ``@name`` and ``#channel`` turned into ``<@U..|name>`` and
    ``<#C..|channel>``."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if not should_escape:
        return text
    users = {name: user_id for user_id, name in directory.users.items()}
    channels = {name: channel_id for channel_id, name in directory.channels.items()}

    def mention(match: re.Match[str]) -> str:
        sigil, name = match.group(1), match.group(2)
        if sigil == "@" and name in users:
            return f"<@{users[name]}|{name}>"
        if sigil == "#" and name in channels:
            return f"<#{channels[name]}|{name}>"
        return match.group(0)

    return re.sub(r"(?<![\w<])([@#])([\w\-]+(?:\.[\w\-]+)*)", mention, text)


class SlackFrontend:
    """Sends signed Slack requests to the app at ``app_url`` on behalf of workspace users."""

    def __init__(
        self,
        fake: FakeSlackApi,
        *,
        app_url: str,
        signing_secret: str,
        should_escape: frozenset[str] = frozenset(),
        timeout: float = 10.0,
    ) -> None:
        self.fake = fake
        self.state = fake.state
        self.app_url = app_url.rstrip("/")
        self.signer = SlackRequestSigner(signing_secret)
        self.should_escape = should_escape
        self.http = httpx.Client(base_url=self.app_url, timeout=timeout)

    def close(self) -> None:
        self.http.close()

    # --- who is who ------------------------------------------------------------------------

    def directory(self) -> Directory:
        with self.state.lock:
            users = {uid: str(u.get("name", uid)) for uid, u in self.state.data.users.items()}
            channels = {
                c.id: c.name for c in self.state.data.channels.values() if c.im_user is None
            }
        return Directory(users=users, channels=channels)

    def require_user(self, user: str) -> str:
        with self.state.lock:
            found = self.state.data.users.get(user)
        if found is None or found.get("is_bot"):
            raise SandboxError(f"unknown user {user!r}")
        return str(found["name"])

    def _channel_name(self, channel: str) -> str:
        found = self.state.channel(channel)
        if found is None:
            raise SandboxError(f"unknown channel {channel!r}")
        return "directmessage" if found.im_user else found.name

    def _post(self, body: bytes) -> httpx.Response:
        body, headers = self.signer.signed(body, FORM_CONTENT_TYPE)
        try:
            return self.http.post(EVENTS_PATH, content=body, headers=headers)
        except httpx.HTTPError as error:
            raise SandboxError(f"the app did not answer ({error.__class__.__name__})") from error

    @staticmethod
    def _failed(response: httpx.Response, what: str) -> SandboxError:
        return SandboxError(f"{what} failed: the app answered HTTP {response.status_code}")

    # --- typing ----------------------------------------------------------------------------

    def slash_command(self, *, user: str, channel: str, line: str) -> Outcome:
        """``line`` (``/deploy web 1.2.3 to production``) typed by ``user`` in ``channel``."""
        command, _, text = line.strip().partition(" ")
        user_name = self.require_user(user)
        channel_name = self._channel_name(channel)
        trigger_id = new_trigger_id()
        self.state.register_trigger(trigger_id, user=user)
        body = slash_command_body(
            command=command,
            text=escape_command_text(
                text.strip(),
                should_escape=command in self.should_escape,
                directory=self.directory(),
            ),
            user_id=user,
            user_name=user_name,
            channel_id=channel,
            channel_name=channel_name,
            trigger_id=trigger_id,
            response_url=self.fake.response_url(channel=channel, user=user),
        )
        response = self._post(body)
        if response.status_code != 200:
            raise self._failed(response, command)
        self._show_command_answer(user=user, channel=channel, response=response)
        return Outcome(response.status_code)

    def _show_command_answer(self, *, user: str, channel: str, response: httpx.Response) -> None:
        if not response.content:
            return
        try:
            answer = response.json()
        except json.JSONDecodeError:
            answer = {"text": response.text}
        if not isinstance(answer, dict):
            return
        text = str(answer.get("text") or "")
        blocks = answer.get("blocks") if isinstance(answer.get("blocks"), list) else None
        if not text and not blocks:
            return
        with self.state.condition:
            found = self.state.data.channels.get(channel)
            if found is not None and answer.get("response_type") == "in_channel":
                post_bot_message(self.state, found, text=text, blocks=blocks)
            else:
                record_ephemeral(
                    self.state, channel=channel, user=user, text=text, blocks=blocks, thread_ts=None
                )
            self.state.condition.notify_all()

    def post_message(
        self, *, user: str, channel: str, text: str, thread_ts: str | None = None
    ) -> None:
        """A plain message typed by ``user`` (the app is not subscribed to message events,
        so it only shows in the channel)."""
        self.require_user(user)
        with self.state.condition:
            found = self.state.data.channels.get(channel)
            if found is None:
                raise SandboxError(f"unknown channel {channel!r}")
            try:
                post_user_message(
                    self.state,
                    found,
                    user=user,
                    # Slack escapes what people type and links their @mentions.
                    text=escape_command_text(text, should_escape=True, directory=self.directory()),
                    thread_ts=thread_ts,
                )
            except ApiError as error:
                raise SandboxError(f"could not post: {error.code}") from error
            self.state.condition.notify_all()

    # --- clicking --------------------------------------------------------------------------

    def _clicked_message(
        self, *, user: str, channel: str | None, ts: str | None, ephemeral: bool
    ) -> dict[str, Any]:
        """A copy of the message a click outside any modal was on, as ``user`` sees it."""
        if not (channel and ts):
            raise SandboxError("a click needs a message or a modal")
        with self.state.lock:
            if ephemeral:
                found = next(
                    (
                        {"ts": e.message_ts, "text": e.text, "blocks": e.blocks or []}
                        for e in self.state.data.ephemerals
                        if e.message_ts == ts and e.user == user and e.channel == channel
                    ),
                    None,
                )
            else:
                found = self.state.data.find_message(channel, ts)
            if found is None:
                raise SandboxError("that message is gone")
            return copy.deepcopy(found)

    def click(
        self,
        *,
        user: str,
        path: str,
        action_id: str,
        channel: str | None = None,
        ts: str | None = None,
        ephemeral: bool = False,
        view_id: str | None = None,
    ) -> Outcome:
        """``user`` clicks the button at ``path`` in a message (``channel`` + ``ts``) or in
        a modal (``view_id``). ``action_id`` is what the page showed: a button that moved
        meanwhile (the message was updated) is refused rather than mistaken for another."""
        self.require_user(user)
        view = self._owned_view(user, view_id) if view_id else None
        container = (
            view
            if view is not None
            else self._clicked_message(user=user, channel=channel, ts=ts, ephemeral=ephemeral)
        )
        element = find_element(container, path)
        if element is None or element.get("action_id") != action_id:
            raise SandboxError("that button is not there any more")
        block = block_of(container, path) or {}
        trigger_id = new_trigger_id()
        self.state.register_trigger(trigger_id, user=user)
        text = (element.get("text") or {}).get("text")
        if view is not None:
            body = block_actions_body(
                user_id=user,
                action_id=action_id,
                value=element.get("value"),
                block_id=block.get("block_id") or f"b{path.replace('/', '-')}",
                trigger_id=trigger_id,
                button_text=text,
                view=view,
            )
        else:
            assert channel is not None and ts is not None
            body = block_actions_body(
                user_id=user,
                action_id=action_id,
                value=element.get("value"),
                block_id=block.get("block_id") or f"b{path.replace('/', '-')}",
                channel_id=channel,
                message_ts=ts,
                trigger_id=trigger_id,
                response_url=self.fake.response_url(
                    channel=channel, user=user, message_ts=None if ephemeral else ts
                ),
                message=None if ephemeral else container,
                button_text=text,
                is_ephemeral=ephemeral,
            )
        response = self._post(body)
        if response.status_code != 200:
            raise self._failed(response, "the click")
        return Outcome(response.status_code)

    # --- modals ----------------------------------------------------------------------------

    def _owned_view(self, user: str, view_id: str | None) -> dict[str, Any]:
        for view in self.state.open_views(user):
            if view["id"] == view_id:
                return view
        raise SandboxError("that form is closed")

    def submit_view(self, *, user: str, view_id: str, entered: dict[str, Any]) -> Outcome:
        """``user`` submits their open modal with what they ``entered`` per block id."""
        self.require_user(user)
        view = self._owned_view(user, view_id)
        values = state_values(view, entered)
        missing = missing_required(view, values)
        if missing:  # Slack checks required fields itself; the app never sees the attempt
            return Outcome(0, missing)
        body = view_submission_body(
            user_id=user,
            callback_id=str(view.get("callback_id") or ""),
            state_values=values,
            private_metadata=str(view.get("private_metadata") or ""),
            view_id=view_id,
            view=view,
        )
        response = self._post(body)
        if response.status_code != 200:
            raise self._failed(response, "the submission")
        try:
            answer = response.json() if response.content else {}
        except json.JSONDecodeError:
            answer = {}
        with self.state.condition:
            try:
                errors = apply_submission_answer(
                    self.state, view_id, answer if isinstance(answer, dict) else {}
                )
            except ApiError as error:
                raise SandboxError(f"the app's answer was refused: {error.code}") from error
            finally:
                self.state.condition.notify_all()
        return Outcome(response.status_code, errors)

    def close_view(self, *, user: str, view_id: str) -> None:
        """``user`` presses the modal's Close (the app asks for no ``view_closed``)."""
        self._owned_view(user, view_id)
        with self.state.condition:
            with contextlib.suppress(ApiError):  # closed meanwhile
                close_view(self.state, view_id)
            self.state.condition.notify_all()
