"""The idempotency key of each kind of Slack delivery (rule 2).

A retry (`X-Slack-Retry-Num`) repeats the payload, so it repeats the key; a second click
on the same button by the same user carries the same `action_ts`.
"""

from __future__ import annotations

from typing import Any


def slack_delivery_key(body: dict[str, Any]) -> str | None:
    kind = body.get("type")
    if kind == "event_callback" and body.get("event_id"):
        return f"slack:event:{body['event_id']}"
    if kind == "block_actions":
        actions = body.get("actions") or [{}]
        action = actions[0]
        user = (body.get("user") or {}).get("id", "")
        if action.get("action_ts") and action.get("action_id"):
            return f"slack:action:{action['action_ts']}:{user}:{action['action_id']}"
        return None
    if kind == "view_submission":
        view = body.get("view") or {}
        if view.get("id"):
            return f"slack:view:{view['id']}:{view.get('hash', '')}"
        return None
    if body.get("command") and body.get("trigger_id"):
        return f"slack:command:{body['trigger_id']}"
    if kind in ("shortcut", "message_action") and body.get("trigger_id"):
        return f"slack:shortcut:{body['trigger_id']}"
    return None


def request_kind(body: dict[str, Any]) -> str:
    """A label for metrics and logs: command, block_actions, view_submission, event, ..."""
    if body.get("command"):
        return "command"
    kind = body.get("type")
    if kind == "event_callback":
        return "event"
    return str(kind or "other")
