"""Emulated ``apps.connections.open``: where a Socket Mode app learns its WebSocket URL.

It answers with a fresh single-use URL of the ``SocketModeServer`` attached to the fake
(``FakeSlackApi.attach_socket_mode``). The method takes an app-level (``xapp-``) token;
``bot.sandbox.slack.api`` checks that before any method runs (``APP_TOKEN_METHODS``)."""

from __future__ import annotations

from typing import Any

from bot.sandbox.slack.methods.base import ApiError, Args, MethodRegistry
from bot.sandbox.slack.state import SlackState

METHODS = MethodRegistry()

# Methods Slack only accepts with an app-level token (and refuses a bot token for).
APP_TOKEN_METHODS = frozenset({"apps.connections.open"})


@METHODS.method("apps.connections.open")
def connections_open(state: SlackState, args: Args) -> dict[str, Any]:
    if args.socket_mode_url is None:
        # The fake's own answer when no SocketModeServer is attached to it.
        raise ApiError("socket_mode_not_enabled")
    return {"url": args.socket_mode_url()}
