"""Emulated ``views.publish``: each user's App Home tab, one view per user, replaced by
every publish (with ``hash``, only if it is still the view the caller last saw)."""

from __future__ import annotations

import copy
import uuid
from typing import Any

from bot.sandbox.slack.methods.base import ApiError, Args, MethodRegistry, checked_view
from bot.sandbox.slack.state import SlackState
from bot.sandbox.workspace import APP_ID, BOT_ID, TEAM_ID

METHODS = MethodRegistry()


@METHODS.method("views.publish")
def views_publish(state: SlackState, args: Args) -> dict[str, Any]:
    user = args.require("user_id")
    if user not in state.data.users:
        raise ApiError("user_not_found")
    view = checked_view(state, "views.publish", args)
    if view.get("type") != "home":
        raise ApiError("invalid_arguments", detail="views.publish takes a view of type home")
    current_id = state.data.home_views.get(user)
    current = state.data.views.get(current_id) if current_id else None
    expected = args.get("hash")
    if expected is not None and current is not None and expected != current["hash"]:
        raise ApiError("hash_conflict")
    view_id = current_id or state.new_id("V")
    stored: dict[str, Any] = {
        "id": view_id,
        "team_id": TEAM_ID,
        "type": "home",
        "blocks": copy.deepcopy(view.get("blocks", [])),
        "private_metadata": view.get("private_metadata", ""),
        "callback_id": view.get("callback_id", ""),
        "external_id": view.get("external_id", ""),
        "state": {"values": {}},
        "hash": f"{state.next_ts()}.{uuid.uuid4().hex[:8]}",
        "root_view_id": view_id,
        "previous_view_id": None,
        "app_id": APP_ID,
        "app_installed_team_id": TEAM_ID,
        "bot_id": BOT_ID,
    }
    state.data.views[view_id] = stored
    state.data.home_views[user] = view_id
    return {"view": copy.deepcopy(stored)}


def published_home(state: SlackState, user: str) -> dict[str, Any] | None:
    """A copy of ``user``'s App Home as last published, or None."""
    with state.lock:
        view_id = state.data.home_views.get(user)
        view = state.data.views.get(view_id) if view_id else None
        return copy.deepcopy(view) if view is not None else None
