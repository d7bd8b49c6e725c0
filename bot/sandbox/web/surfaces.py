"""The App Home tab and shortcuts in the browser sandbox.

What Slack's client does for them: opening the Home sends ``app_home_opened``; the Home
shows the view the app last published (``views.publish``); a click in it is a
``block_actions`` from a ``home`` view; a message shortcut (``message_action``) or a
global shortcut (``shortcut``) carries a trigger_id registered to the person, so a
modal the app opens with it shows on their screen, and a ``response_url`` whose answer
shows as an ephemeral message in the channel.
"""

from __future__ import annotations

import copy
from typing import Any

from bot.sandbox.shortcut_bodies import (
    global_shortcut_body,
    home_click_body,
    home_opened_body,
    message_shortcut_body,
)
from bot.sandbox.signing import JSON_CONTENT_TYPE, new_trigger_id
from bot.sandbox.slack.methods.home import published_home
from bot.sandbox.web.blocks_html import blocks_html, find_element
from bot.sandbox.web.frontend import EVENTS_PATH, Outcome, SandboxError, SlackFrontend
from bot.sandbox.web.mrkdwn import escape

# The shortcuts the page offers (app_manifest.yaml declares them for a real workspace).
MESSAGE_SHORTCUTS = {"add_to_timeline": "Add to incident timeline"}
GLOBAL_SHORTCUTS = {"declare_incident": "Declare incident"}


def _send(frontend: SlackFrontend, body: bytes, what: str, *, json_body: bool = False) -> Outcome:
    if json_body:
        signed_body, headers = frontend.signer.signed(body, JSON_CONTENT_TYPE)
        try:
            response = frontend.http.post(EVENTS_PATH, content=signed_body, headers=headers)
        except Exception as error:  # httpx errors: the app is not answering
            raise SandboxError(f"the app did not answer ({error.__class__.__name__})") from error
    else:
        response = frontend._post(body)
    if response.status_code != 200:
        raise SandboxError(f"{what} failed: the app answered HTTP {response.status_code}")
    return Outcome(response.status_code)


def open_home(frontend: SlackFrontend, *, user: str) -> Outcome:
    """``user`` opens the app's Home tab."""
    frontend.require_user(user)
    return _send(frontend, home_opened_body(user_id=user), "opening Home", json_body=True)


def home_state(frontend: SlackFrontend, *, user: str) -> dict[str, Any] | None:
    """The Home ``user`` sees, as escaped HTML (None until the app published one)."""
    view = published_home(frontend.state, user)
    if view is None:
        return None
    html = blocks_html(view.get("blocks") or [], frontend.directory())
    return {
        "id": view["id"],
        "hash": view["hash"],
        "html": f'<div class="home-view" data-view-id="{escape(view["id"])}">{html}</div>',
    }


def click_home(frontend: SlackFrontend, *, user: str, path: str, action_id: str) -> Outcome:
    """``user`` clicks the button at ``path`` on their Home."""
    frontend.require_user(user)
    view = published_home(frontend.state, user)
    element = find_element(view, path) if view is not None else None
    if view is None or element is None or element.get("action_id") != action_id:
        raise SandboxError("that button is not there any more")
    trigger_id = new_trigger_id()
    frontend.state.register_trigger(trigger_id, user=user)
    body = home_click_body(
        user_id=user,
        view=copy.deepcopy(view),
        action_id=action_id,
        value=str(element.get("value") or ""),
        trigger_id=trigger_id,
    )
    return _send(frontend, body, "the click")


def shortcut(
    frontend: SlackFrontend,
    *,
    user: str,
    callback_id: str,
    channel: str | None = None,
    ts: str | None = None,
) -> Outcome:
    """``user`` runs a shortcut: on the message ``ts`` in ``channel`` (a message
    shortcut), or from anywhere (a global one)."""
    frontend.require_user(user)
    trigger_id = new_trigger_id()
    frontend.state.register_trigger(trigger_id, user=user)
    if callback_id in GLOBAL_SHORTCUTS:
        body = global_shortcut_body(user_id=user, callback_id=callback_id, trigger_id=trigger_id)
        return _send(frontend, body, GLOBAL_SHORTCUTS[callback_id])
    if callback_id not in MESSAGE_SHORTCUTS or not (channel and ts):
        raise SandboxError("no such shortcut")
    message = frontend.state.message(channel, ts)
    if message is None:
        raise SandboxError("that message is gone")
    body = message_shortcut_body(
        user_id=user,
        callback_id=callback_id,
        channel_id=channel,
        message=message,
        trigger_id=trigger_id,
        response_url=frontend.fake.response_url(channel=channel, user=user),
    )
    return _send(frontend, body, MESSAGE_SHORTCUTS[callback_id])
