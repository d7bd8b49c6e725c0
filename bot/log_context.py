"""What a log line is about: the Slack delivery, team, user and command, or the job.

Kept in a context variable, so every line logged while a request or a job is handled
carries it, in whichever module it is logged; worker threads and Starlette's thread pool
each see their own. The JSON log format (bot/logging_setup.py) writes these fields.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from slack_bolt.request import BoltRequest
from slack_bolt.response import BoltResponse

from bot.delivery_keys import slack_delivery_key

_fields: ContextVar[dict[str, str | int] | None] = ContextVar("shipbot_log_context", default=None)


def current() -> dict[str, str | int]:
    """The fields of the request or job being handled here (empty outside of one)."""
    return _fields.get() or {}


@contextmanager
def bound(**fields: str | int | None) -> Iterator[None]:
    """Add ``fields`` (``None`` values left out) for the lines logged inside the block."""
    token = _fields.set({**current(), **{k: v for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _fields.reset(token)


def slack_fields(body: dict[str, Any], *, delivery_key: str) -> dict[str, str | None]:
    """Delivery id, team, user and command (or action / event type) of a Slack payload."""
    user = body.get("user")
    team = body.get("team")
    actions = body.get("actions") or [{}]
    event: dict[str, Any] = body["event"] if isinstance(body.get("event"), dict) else {}
    return {
        "delivery_id": delivery_key or None,
        "slack_team": body.get("team_id") or (team.get("id") if isinstance(team, dict) else None),
        "slack_user": body.get("user_id") or (user.get("id") if isinstance(user, dict) else None),
        "slack_command": body.get("command")
        or (actions[0].get("action_id") if isinstance(actions[0], dict) else None)
        or event.get("type")
        or body.get("type"),
    }


def bolt_middleware(
    request: BoltRequest, next: Callable[[], BoltResponse | None]
) -> BoltResponse | None:
    """Bolt middleware (register it first): the payload's fields for the rest of its
    handling. Bolt runs the listener after the middleware chain has returned, so a
    ``with bound(...)`` here would end too early; the fields are set for the rest of the
    thread's context instead, replacing (not merging with) any earlier request's. Each
    HTTP request runs in a context copied for it (Starlette's thread pool); a Socket Mode
    worker thread carries the last request's fields until the next one replaces them."""
    body = request.body
    fields = slack_fields(body, delivery_key=slack_delivery_key(body) or "")
    _fields.set({key: value for key, value in fields.items() if value is not None})
    return next()
