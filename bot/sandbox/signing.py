"""Requests into the app exactly as Slack sends them: bodies and ``v0`` signatures.

Slack signs every request with ``v0=hex(HMAC-SHA256(signing_secret, "v0:{ts}:{body}"))``
and sends the timestamp alongside, so a verifier can reject replays older than five
minutes. The builders return the raw ``bytes`` Slack would POST, because the signature
covers the exact bytes: re-encoding a parsed body would not verify.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
import uuid
from typing import Any
from urllib.parse import urlencode

from bot.sandbox.workspace import (
    APP_ID,
    BOT_ID,
    BOT_USER_ID,
    TEAM_DOMAIN,
    TEAM_ID,
    VERIFICATION_TOKEN,
)
from workflows.clock import Clock

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
JSON_CONTENT_TYPE = "application/json"
TIMESTAMP_HEADER = "X-Slack-Request-Timestamp"
SIGNATURE_HEADER = "X-Slack-Signature"


def signature(body: bytes, *, signing_secret: str, timestamp: int) -> str:
    """Slack's ``v0`` signature of ``body``, worked out here from Slack's documentation
    rather than with slack_sdk, which the app verifies with: the tests then check one
    against the other. Any bytes can be signed (slack_sdk's signer takes UTF-8 only), so
    a test can send a correctly signed body that is not UTF-8."""
    base = b"v0:" + str(timestamp).encode() + b":" + body
    return "v0=" + hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()


def sign(body: bytes, *, signing_secret: str, timestamp: int | None = None) -> dict[str, str]:
    """The two headers Slack adds to a request carrying ``body``.

    ``timestamp`` defaults to now; pass an old one to build a stale (replayed) request."""
    ts = int(time.time()) if timestamp is None else int(timestamp)
    return {
        TIMESTAMP_HEADER: str(ts),
        SIGNATURE_HEADER: signature(body, signing_secret=signing_secret, timestamp=ts),
    }


class SlackRequestSigner:
    """Signs bodies with one secret, taking "now" from an injected clock."""

    def __init__(self, signing_secret: str, *, clock: Clock | None = None) -> None:
        self._secret = signing_secret
        self._clock = clock

    def signed(self, body: bytes, content_type: str) -> tuple[bytes, dict[str, str]]:
        """``body`` unchanged and the headers to send it with (signature and content type)."""
        now = self._clock.now().timestamp() if self._clock is not None else time.time()
        headers = sign(body, signing_secret=self._secret, timestamp=int(now))
        headers["Content-Type"] = content_type
        return body, headers


# --- generated ids -------------------------------------------------------------------------

_sequence = itertools.count(1)
_ts_lock = threading.Lock()
_last_ts_micros = 0


def _unique_ts() -> str:
    """A Slack-style ``"seconds.micros"`` timestamp, strictly increasing within the process."""
    global _last_ts_micros
    with _ts_lock:
        _last_ts_micros = max(_last_ts_micros + 1, int(time.time() * 1_000_000))
        seconds, micros = divmod(_last_ts_micros, 1_000_000)
    return f"{seconds}.{micros:06d}"


def new_trigger_id() -> str:
    """A unique trigger id shaped like Slack's (``"<n>.<n>.<hex>"``)."""
    return f"{next(_sequence)}.{int(time.time())}.{uuid.uuid4().hex}"


def new_event_id() -> str:
    return f"Ev{uuid.uuid4().hex[:16].upper()}"


def _response_url(kind: str) -> str:
    # Points nowhere routable on purpose: tests that need a working one pass the
    # fake's ``response_url(...)``.
    return f"https://hooks.slack.invalid/{kind}/{TEAM_ID}/{next(_sequence)}/{uuid.uuid4().hex}"


def _user(user_id: str, team_id: str) -> dict[str, str]:
    name = user_id.lower()
    return {"id": user_id, "username": name, "name": name, "team_id": team_id}


def _form(fields: dict[str, str]) -> bytes:
    return urlencode(fields).encode()


# --- bodies --------------------------------------------------------------------------------


def slash_command_body(
    *,
    command: str,
    text: str,
    user_id: str,
    channel_id: str,
    team_id: str = TEAM_ID,
    user_name: str | None = None,
    channel_name: str | None = None,
    trigger_id: str | None = None,
    response_url: str | None = None,
) -> bytes:
    """The form-encoded body of a slash command invocation, fields in Slack's order."""
    return _form(
        {
            "token": VERIFICATION_TOKEN,
            "team_id": team_id,
            "team_domain": TEAM_DOMAIN,
            "channel_id": channel_id,
            "channel_name": channel_name or channel_id.lower(),
            "user_id": user_id,
            "user_name": user_name or user_id.lower(),
            "command": command,
            "text": text,
            "api_app_id": APP_ID,
            "is_enterprise_install": "false",
            "response_url": response_url or _response_url("commands"),
            "trigger_id": trigger_id or new_trigger_id(),
        }
    )


def _interactive_body(payload: dict[str, Any]) -> bytes:
    return _form({"payload": json.dumps(payload, separators=(",", ":"))})


def block_actions_body(
    *,
    user_id: str,
    action_id: str,
    value: str | None = None,
    block_id: str | None = None,
    channel_id: str | None = None,
    message_ts: str | None = None,
    action_ts: str | None = None,
    trigger_id: str | None = None,
    response_url: str | None = None,
    team_id: str = TEAM_ID,
    message: dict[str, Any] | None = None,
    button_text: str | None = None,
    is_ephemeral: bool = False,
    view: dict[str, Any] | None = None,
) -> bytes:
    """A button click (``payload=`` form field, type ``block_actions``).

    With ``channel_id`` the click comes from a message (``container.type == "message"``;
    ``is_ephemeral`` for one only the clicker sees, which Slack does not echo back);
    without, from a modal (``view``: the modal clicked in, echoed back as Slack does).
    ``message`` overrides the clicked message Slack echoes back."""
    action = _button_action(
        action_id, value=value, block_id=block_id, action_ts=action_ts, button_text=button_text
    )
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": _user(user_id, team_id),
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "trigger_id": trigger_id or new_trigger_id(),
        "team": {"id": team_id, "domain": TEAM_DOMAIN},
        "enterprise": None,
        "is_enterprise_install": False,
        "state": {"values": {}},
        "actions": [action],
    }
    if channel_id is not None:
        payload.update(
            _message_container(
                channel_id,
                ts=message_ts or _unique_ts(),
                team_id=team_id,
                message=message,
                is_ephemeral=is_ephemeral,
            ),
            response_url=response_url or _response_url("actions"),
        )
    else:
        view_id = view["id"] if view else f"V{uuid.uuid4().hex[:10].upper()}"
        payload["container"] = {"type": "view", "view_id": view_id}
        if view is not None:
            payload["view"] = view
        if response_url is not None:
            payload["response_url"] = response_url
    return _interactive_body(payload)


def _button_action(
    action_id: str,
    *,
    value: str | None,
    block_id: str | None,
    action_ts: str | None,
    button_text: str | None,
) -> dict[str, Any]:
    action: dict[str, Any] = {
        "action_id": action_id,
        "block_id": block_id or f"b-{uuid.uuid4().hex[:8]}",
        "text": {"type": "plain_text", "text": button_text or action_id, "emoji": True},
        "type": "button",
        "action_ts": action_ts or _unique_ts(),
    }
    if value is not None:
        action["value"] = value
    return action


def _message_container(
    channel_id: str,
    *,
    ts: str,
    team_id: str,
    message: dict[str, Any] | None,
    is_ephemeral: bool,
) -> dict[str, Any]:
    """Where a click on a message came from, as Slack describes it: the container, the
    channel and (for a message everyone sees) the clicked message echoed back."""
    fields: dict[str, Any] = {
        "container": {
            "type": "message",
            "message_ts": ts,
            "channel_id": channel_id,
            "is_ephemeral": is_ephemeral,
        },
        "channel": {"id": channel_id, "name": channel_id.lower()},
    }
    if not is_ephemeral:
        fields["message"] = message or {
            "type": "message",
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "ts": ts,
            "text": "",
            "team": team_id,
        }
    return fields


def view_submission_body(
    *,
    user_id: str,
    callback_id: str,
    state_values: dict[str, Any],
    private_metadata: str = "",
    view_id: str | None = None,
    team_id: str = TEAM_ID,
    view: dict[str, Any] | None = None,
) -> bytes:
    """A modal submitted (``payload=`` form field, type ``view_submission``).

    ``state_values`` is Slack's ``view.state.values``: ``{block_id: {action_id: {...}}}``.
    ``view`` is the modal as the fake stores it (``views.open``'s answer); without it a
    stand-in view is built from ``callback_id``, ``private_metadata`` and ``view_id``."""
    vid = view_id or f"V{uuid.uuid4().hex[:10].upper()}"
    payload = {
        "type": "view_submission",
        "team": {"id": team_id, "domain": TEAM_DOMAIN},
        "user": _user(user_id, team_id),
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "trigger_id": new_trigger_id(),
        "view": {
            "id": vid,
            "team_id": team_id,
            "type": "modal",
            "blocks": [],
            "private_metadata": private_metadata,
            "callback_id": callback_id,
            "state": {"values": state_values},
            "hash": uuid.uuid4().hex[:20],
            "title": {"type": "plain_text", "text": callback_id[:24] or "modal"},
            "clear_on_close": False,
            "notify_on_close": False,
            "close": None,
            "submit": {"type": "plain_text", "text": "Submit"},
            "previous_view_id": None,
            "root_view_id": vid,
            "app_id": APP_ID,
            "external_id": "",
            "app_installed_team_id": team_id,
            "bot_id": BOT_ID,
        },
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }
    if view is not None:
        payload["view"] = {**view, "state": {"values": state_values}}
    return _interactive_body(payload)


def event_callback_body(
    *,
    event: dict[str, Any],
    event_id: str | None = None,
    team_id: str = TEAM_ID,
    event_time: int | None = None,
) -> bytes:
    """An Events API delivery (JSON, ``type: event_callback``) wrapping ``event``."""
    envelope = {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "api_app_id": APP_ID,
        "event": event,
        "type": "event_callback",
        "event_id": event_id or new_event_id(),
        "event_time": int(time.time()) if event_time is None else event_time,
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": team_id,
                "user_id": BOT_USER_ID,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": f"4-{uuid.uuid4().hex}",
    }
    return json.dumps(envelope, separators=(",", ":")).encode()
