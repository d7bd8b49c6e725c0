"""Shortcut and App Home payloads exactly as Slack sends them (``bot.sandbox.signing``
signs them): a message shortcut (``message_action``), a global shortcut (``shortcut``),
``app_home_opened``, and a click on a button in the App Home."""

from __future__ import annotations

import json
import uuid
from typing import Any
from urllib.parse import urlencode

from bot.sandbox.signing import (
    block_actions_body,
    event_callback_body,
    new_trigger_id,
)
from bot.sandbox.workspace import APP_ID, TEAM_DOMAIN, TEAM_ID, VERIFICATION_TOKEN


def _interactive(payload: dict[str, Any]) -> bytes:
    return urlencode({"payload": json.dumps(payload, separators=(",", ":"))}).encode()


def _base(kind: str, callback_id: str, user_id: str, trigger_id: str | None) -> dict[str, Any]:
    return {
        "type": kind,
        "token": VERIFICATION_TOKEN,
        "action_ts": f"{uuid.uuid4().int % 10**10}.{uuid.uuid4().int % 10**6:06d}",
        "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN},
        "user": {"id": user_id, "username": user_id.lower(), "team_id": TEAM_ID},
        "api_app_id": APP_ID,
        "is_enterprise_install": False,
        "enterprise": None,
        "callback_id": callback_id,
        "trigger_id": trigger_id or new_trigger_id(),
    }


def message_shortcut_body(
    *,
    user_id: str,
    callback_id: str,
    channel_id: str,
    message: dict[str, Any],
    response_url: str | None = None,
    trigger_id: str | None = None,
) -> bytes:
    """A message shortcut used on ``message`` (as the fake stores it) in ``channel_id``."""
    payload = _base("message_action", callback_id, user_id, trigger_id)
    payload.update(
        channel={"id": channel_id, "name": channel_id.lower()},
        message_ts=message["ts"],
        message={k: message[k] for k in ("type", "user", "bot_id", "ts", "text") if k in message},
        response_url=response_url or f"https://hooks.slack.invalid/app/{uuid.uuid4().hex}",
    )
    return _interactive(payload)


def global_shortcut_body(*, user_id: str, callback_id: str, trigger_id: str | None = None) -> bytes:
    """A global shortcut (from the search bar or the composer's shortcut menu)."""
    return _interactive(_base("shortcut", callback_id, user_id, trigger_id))


def home_opened_body(*, user_id: str, tab: str = "home", event_id: str | None = None) -> bytes:
    """``app_home_opened``: ``user_id`` opened the app's Home (or Messages) tab."""
    event = {
        "type": "app_home_opened",
        "user": user_id,
        "channel": f"D{user_id[1:]}",
        "tab": tab,
        "event_ts": f"{uuid.uuid4().int % 10**10}.000100",
    }
    return event_callback_body(event=event, event_id=event_id)


def home_click_body(
    *,
    user_id: str,
    view: dict[str, Any],
    action_id: str,
    value: str,
    action_ts: str | None = None,
    trigger_id: str | None = None,
) -> bytes:
    """A click on a button of ``user_id``'s published Home ``view`` (no channel, no
    response_url: Slack sends neither for a Home)."""
    return block_actions_body(
        user_id=user_id,
        action_id=action_id,
        value=value,
        action_ts=action_ts,
        trigger_id=trigger_id,
        view=view,
    )
