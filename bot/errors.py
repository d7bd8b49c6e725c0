"""The one Bolt error handler (Dispatch style).

A ``UserError`` becomes an ephemeral message that says what to do. Anything unexpected
gets an error id that is logged with the traceback and shown to the user, never the
traceback itself. A duplicate delivery is answered with an empty 200 and changes nothing.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from slack_bolt.response import BoltResponse
from slack_sdk import WebClient

from bot.delivery_keys import request_kind
from workflows.errors import DuplicateDelivery, UserError

log = logging.getLogger("shipbot.errors")


def user_error_text(error: UserError) -> str:
    text = f":warning: {error.message}"
    if error.hint:
        text += f"\n{error.hint}"
    # Refusals often quote what was typed (``There is no service `...` ``): a special
    # mention in it (<!channel>, <!here>, <!subteam^...>) is made inert. shipbot's own
    # texts never contain one, so nothing of ours is lost.
    return text.replace("<!", "&lt;!")


def internal_error_text(error_id: str) -> str:
    return (
        f":x: Something went wrong on shipbot's side (error id `{error_id}`). Nothing was "
        "changed unless a message says so. Try again, and if it keeps failing give this id "
        "to your platform team."
    )


def new_error_id() -> str:
    return uuid.uuid4().hex[:10]


def handle_error(
    error: Exception, body: dict[str, Any], client: WebClient, respond: Any
) -> BoltResponse:
    kind = request_kind(body)
    if isinstance(error, DuplicateDelivery):
        log.info("duplicate delivery ignored: %s", error)
        return BoltResponse(status=200, body="")
    if isinstance(error, UserError):
        text = user_error_text(error)
        log.info("user error (%s): %s", kind, error.message)
    else:
        error_id = new_error_id()
        log.exception("unexpected error %s handling %s", error_id, kind, exc_info=error)
        text = internal_error_text(error_id)

    if kind == "command":
        return BoltResponse(status=200, body={"response_type": "ephemeral", "text": text})
    if kind == "view_submission":
        return BoltResponse(status=200, body=_error_modal(text))
    if kind in ("block_actions", "message_action", "shortcut"):
        _tell_clicker(body, client, respond, text)
    return BoltResponse(status=200, body="")


def _error_modal(text: str) -> dict[str, Any]:
    return {
        "response_action": "push",
        "view": {
            "type": "modal",
            "title": {"type": "plain_text", "text": "shipbot"},
            "close": {"type": "plain_text", "text": "Back"},
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
        },
    }


def _tell_clicker(body: dict[str, Any], client: WebClient, respond: Any, text: str) -> None:
    """Only the person who clicked sees why it did not work."""
    try:
        if body.get("response_url"):
            respond(text=text, response_type="ephemeral", replace_original=False)
            return
        channel = (body.get("channel") or {}).get("id")
        user = (body.get("user") or {}).get("id")
        if channel and user:
            client.chat_postEphemeral(channel=channel, user=user, text=text)
        elif user and (body.get("view") or {}).get("type") == "home":
            # A click on the App Home has neither: the app's DM with them is where they are.
            client.chat_postMessage(channel=user, text=text)
    except Exception:  # the original error is what matters; this one is only logged
        log.exception("could not tell the user about an error")
