"""The input boundary for Slack payloads, as the first Bolt middleware (HTTP and socket
mode alike): every string of the payload is cleaned by ``workflows.boundary`` before any
listener sees it, and fields over their limit get a clear answer instead of a flow.

``bot/http.py`` has already refused bodies that are too big or nest too deeply; this
runs on what Bolt parsed from the rest.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from slack_bolt.request import BoltRequest
from slack_bolt.response import BoltResponse

from workflows import boundary
from workflows.redact import redact_text

# Context entries Bolt copies from the payload; flows store some of them (actor, channel).
_CONTEXT_KEYS = ("user_id", "channel_id", "team_id", "enterprise_id", "actor_user_id")


# Objects Slack always sends as JSON objects when present; Bolt and the listeners index
# into them, so another type is refused here instead of failing deep inside.
_OBJECTS = ("user", "team", "channel", "view", "container", "message", "event", "enterprise")


def shape_problem(body: dict[str, Any]) -> str | None:
    """Why ``body`` cannot be a Slack payload, or None. Only what Bolt relies on."""
    for key in _OBJECTS:
        if body.get(key) is not None and not isinstance(body[key], dict):
            return f"'{key}' must be an object"
    actions = body.get("actions")
    if actions is not None and not (
        isinstance(actions, list) and actions and all(isinstance(a, dict) for a in actions)
    ):
        return "'actions' must be a list of objects"
    view = body.get("view") or {}
    if body.get("type") in ("view_submission", "view_closed") and not (
        isinstance(view.get("type"), str) and isinstance(view.get("callback_id"), str)
    ):
        return "a submitted view needs a type and a callback_id"
    event = body.get("event") or {}
    if body.get("type") == "event_callback" and not isinstance(event.get("type"), str):
        return "an event needs a type"
    return None


def _ephemeral(text: str) -> BoltResponse:
    return BoltResponse(
        status=200,
        body=json.dumps({"response_type": "ephemeral", "text": text}),
        headers={"content-type": "application/json; charset=utf-8"},
    )


def _modal_state(body: dict[str, Any]) -> dict[str, Any]:
    """``view.state.values`` of a submission, or {} when the payload has no such shape."""
    found: Any = body
    for key in ("view", "state", "values"):
        found = found.get(key) if isinstance(found, dict) else None
    return found if isinstance(found, dict) else {}


def _modal_errors(body: dict[str, Any]) -> dict[str, str]:
    """Per-block errors for modal inputs over ``MAX_MODAL_VALUE``."""
    errors: dict[str, str] = {}
    for block_id, elements in _modal_state(body).items():
        for element in (elements or {}).values() if isinstance(elements, dict) else ():
            value = element.get("value") if isinstance(element, dict) else None
            if isinstance(value, str):
                answer = boundary.too_long(value, limit=boundary.MAX_MODAL_VALUE, what="This field")
                if answer:
                    errors[str(block_id)] = answer
    return errors


def over_limit(body: dict[str, Any]) -> BoltResponse | None:
    """The answer to a payload with a field over its limit, or None when all fit."""
    if body.get("command"):
        answer = boundary.too_long(
            str(body.get("text") or ""), limit=boundary.MAX_COMMAND_TEXT, what="That command"
        )
        return _ephemeral(answer) if answer else None
    if body.get("type") == "view_submission":
        errors = _modal_errors(body)
        if errors:
            return BoltResponse(
                status=200,
                body=json.dumps({"response_action": "errors", "errors": errors}),
                headers={"content-type": "application/json; charset=utf-8"},
            )
        return None
    actions = body.get("actions")
    for action in actions if isinstance(actions, list) else ():
        value = action.get("value") if isinstance(action, dict) else None
        if isinstance(value, str) and len(value) > boundary.MAX_BUTTON_VALUE:
            # Slack never sends one: the button was not made by shipbot.
            return BoltResponse(status=400, body="a button value longer than Slack allows")
    return None


def redact_free_text(body: dict[str, Any]) -> None:
    """Redact what people type (command text, modal inputs) before any flow stores it, so
    no stored object, channel name or message built from it holds a secret. Identifiers
    and button values are the bot's own and stay as they are."""
    if isinstance(body.get("text"), str) and body.get("command"):
        body["text"] = redact_text(body["text"])
    for elements in _modal_state(body).values():
        for element in elements.values() if isinstance(elements, dict) else ():
            if isinstance(element, dict) and isinstance(element.get("value"), str):
                element["value"] = redact_text(element["value"])


def input_boundary(
    request: BoltRequest, next: Callable[[], BoltResponse | None]
) -> BoltResponse | None:
    body, context = request.body, request.context
    try:
        boundary.clean_in_place(body)
    except boundary.InputRejected as refused:
        return BoltResponse(status=400, body=refused.message)
    problem = shape_problem(body)
    if problem is not None:
        return BoltResponse(status=400, body=problem)
    for key in _CONTEXT_KEYS:
        value = context.get(key)
        if isinstance(value, str):
            context[key] = boundary.clean_text(value)
    redact_free_text(body)
    answer = over_limit(body)
    if answer is not None:
        return answer
    next()
    return None
