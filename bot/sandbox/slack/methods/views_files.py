"""Emulated ``views.*`` and the three-step file upload (``files.getUploadURLExternal``,
the upload POST, ``files.completeUploadExternal``)."""

from __future__ import annotations

import copy
import mimetypes
import uuid
from typing import Any

from bot.sandbox.slack.blocks import view_errors
from bot.sandbox.slack.methods.base import (
    ApiError,
    Args,
    MethodRegistry,
    checked_view,
    require_channel,
)
from bot.sandbox.slack.methods.chat import post_bot_message
from bot.sandbox.slack.state import InvalidBlocks, SlackState, UploadedFile
from bot.sandbox.workspace import APP_ID, BOT_ID, BOT_USER_ID, TEAM_ID

METHODS = MethodRegistry()

# Slack keeps at most three views on one modal stack.
MAX_VIEW_STACK = 3
_VIEW_KEYS = (
    "blocks",
    "private_metadata",
    "callback_id",
    "title",
    "close",
    "submit",
    "clear_on_close",
    "notify_on_close",
    "external_id",
)


def _view_object(
    state: SlackState,
    view: dict[str, Any],
    *,
    view_id: str,
    root_view_id: str,
    previous_view_id: str | None,
) -> dict[str, Any]:
    stored: dict[str, Any] = {
        "id": view_id,
        "team_id": TEAM_ID,
        "type": view["type"],
        "blocks": [],
        "private_metadata": "",
        "callback_id": "",
        "external_id": "",
        "state": {"values": {}},
        "hash": f"{state.next_ts()}.{uuid.uuid4().hex[:8]}",
        "clear_on_close": False,
        "notify_on_close": False,
        "close": None,
        "submit": None,
        "previous_view_id": previous_view_id,
        "root_view_id": root_view_id,
        "app_id": APP_ID,
        "app_installed_team_id": TEAM_ID,
        "bot_id": BOT_ID,
    }
    stored.update({k: copy.deepcopy(view[k]) for k in _VIEW_KEYS if k in view})
    state.data.views[view_id] = stored
    return stored


@METHODS.method("views.open")
def views_open(state: SlackState, args: Args) -> dict[str, Any]:
    trigger_id = args.require("trigger_id", error="invalid_trigger_id")
    view = checked_view(state, "views.open", args)
    view_id = state.new_id("V")
    stored = _view_object(state, view, view_id=view_id, root_view_id=view_id, previous_view_id=None)
    state.data.view_stacks[view_id] = [view_id]
    owner = state.data.trigger_users.get(trigger_id)
    if owner is not None:
        state.data.view_users[view_id] = owner
    return {"view": copy.deepcopy(stored)}


@METHODS.method("views.push")
def views_push(state: SlackState, args: Args) -> dict[str, Any]:
    trigger_id = args.require("trigger_id", error="invalid_trigger_id")
    view = checked_view(state, "views.push", args)
    if not state.data.view_stacks:
        raise ApiError("view_not_found")
    # A push lands on the newest modal of the trigger's user; with a trigger the fake did
    # not issue, on the most recently opened modal.
    owner = state.data.trigger_users.get(trigger_id)
    stacks = [
        (root, stack)
        for root, stack in state.data.view_stacks.items()
        if owner is None or state.data.view_users.get(root) == owner
    ]
    if not stacks:
        raise ApiError("view_not_found")
    root_id, stack = stacks[-1]
    if len(stack) >= MAX_VIEW_STACK:
        raise ApiError("push_limit_reached")
    view_id = state.new_id("V")
    stored = _view_object(
        state, view, view_id=view_id, root_view_id=root_id, previous_view_id=stack[-1]
    )
    stack.append(view_id)
    return {"view": copy.deepcopy(stored)}


@METHODS.method("views.update")
def views_update(state: SlackState, args: Args) -> dict[str, Any]:
    view = checked_view(state, "views.update", args)
    view_id = args.get("view_id")
    external_id = args.get("external_id")
    if view_id is None and external_id is not None:
        view_id = next(
            (v["id"] for v in state.data.views.values() if v["external_id"] == external_id), None
        )
    current = state.data.views.get(view_id or "")
    if current is None:
        raise ApiError("not_found")
    expected_hash = args.get("hash")
    if expected_hash is not None and expected_hash != current["hash"]:
        raise ApiError("hash_conflict")
    stored = _view_object(
        state,
        view,
        view_id=current["id"],
        root_view_id=current["root_view_id"],
        previous_view_id=current["previous_view_id"],
    )
    return {"view": copy.deepcopy(stored)}


def _stack_of(state: SlackState, view_id: str) -> list[str]:
    for stack in state.data.view_stacks.values():
        if view_id in stack:
            return stack
    raise ApiError("not_found")


def close_view(state: SlackState, view_id: str, *, everything: bool = False) -> None:
    """Close the modal ``view_id`` (its whole stack with ``everything``), as a person's
    Close or Slack's answer to a submission does; call while holding ``state.lock``."""
    stack = _stack_of(state, view_id)
    root_id = stack[0]
    if everything or len(stack) == 1:
        del state.data.view_stacks[root_id]
        state.data.view_users.pop(root_id, None)
    else:
        del stack[stack.index(view_id) :]


def apply_submission_answer(
    state: SlackState, view_id: str, answer: dict[str, Any]
) -> dict[str, str]:
    """What Slack does with the app's answer to a ``view_submission`` of ``view_id``; call
    while holding ``state.lock``. Returns the field errors to show (``response_action:
    errors``), else ``{}``: an empty answer closes the view, ``update`` replaces it,
    ``push`` stacks a new one on it and ``clear`` closes them all."""
    action = answer.get("response_action")
    stack = _stack_of(state, view_id)
    if action == "errors":
        errors = answer.get("errors")
        return {str(k): str(v) for k, v in errors.items()} if isinstance(errors, dict) else {}
    if action == "clear":
        close_view(state, view_id, everything=True)
        return {}
    if action in ("update", "push"):
        view = answer.get("view")
        problems = view_errors(view)
        if problems:
            state.record_invalid(InvalidBlocks(f"view_submission:{action}", problems, view))
            raise ApiError("invalid_blocks", errors=problems)
        assert isinstance(view, dict)
        if action == "update":
            current = state.data.views[view_id]
            _view_object(
                state,
                view,
                view_id=view_id,
                root_view_id=current["root_view_id"],
                previous_view_id=current["previous_view_id"],
            )
            return {}
        if len(stack) >= MAX_VIEW_STACK:
            raise ApiError("push_limit_reached")
        new_id = state.new_id("V")
        _view_object(state, view, view_id=new_id, root_view_id=stack[0], previous_view_id=view_id)
        stack.append(new_id)
        return {}
    close_view(state, view_id)
    return {}


# --- files ------------------------------------------------------------------------------------


@METHODS.method("files.getUploadURLExternal")
def get_upload_url(state: SlackState, args: Args) -> dict[str, Any]:
    filename = args.require("filename")
    length = int(args.number("length", -1))
    if length < 0:
        raise ApiError("invalid_arguments", detail="missing required field: length")
    file_id = state.new_id("F")
    state.data.files[file_id] = UploadedFile(
        id=file_id, filename=filename, length=length, alt_txt=args.get("alt_txt")
    )
    return {"upload_url": f"{args.origin}/upload/v1/{file_id}", "file_id": file_id}


def receive_upload(state: SlackState, file_id: str, content: bytes) -> bool:
    """Store the bytes POSTed to an upload URL; ``False`` if no such upload was started."""
    with state.condition:
        pending = state.data.files.get(file_id)
        if pending is None:
            return False
        pending.content = content
        state.condition.notify_all()
        return True


def _file_object(uploaded: UploadedFile, origin: str) -> dict[str, Any]:
    mimetype = mimetypes.guess_type(uploaded.filename)[0] or "application/octet-stream"
    return {
        "id": uploaded.id,
        "name": uploaded.filename,
        "title": uploaded.title,
        "mimetype": mimetype,
        "filetype": uploaded.filename.rsplit(".", 1)[-1] if "." in uploaded.filename else "",
        "user": BOT_USER_ID,
        "size": len(uploaded.content or b""),
        "mode": "hosted",
        "is_external": False,
        "url_private": f"{origin}/files/{uploaded.id}",
        "channels": list(uploaded.channels),
    }


@METHODS.method("files.completeUploadExternal")
def complete_upload(state: SlackState, args: Args) -> dict[str, Any]:
    entries = args.structured("files")
    if not isinstance(entries, list) or not entries:
        raise ApiError("invalid_arguments", detail="files must be a non-empty array")
    uploads: list[UploadedFile] = []
    for entry in entries:
        uploaded = state.data.files.get(str(entry.get("id")) if isinstance(entry, dict) else "")
        if uploaded is None or uploaded.content is None:
            raise ApiError("file_not_found")
        uploaded.title = entry.get("title") or uploaded.filename
        uploads.append(uploaded)
    targets = [args.get("channel_id")] if args.get("channel_id") else []
    targets += [c for c in (args.get("channels") or "").split(",") if c]
    channels = [require_channel(state, Args({"channel": ref})) for ref in targets]
    for uploaded in uploads:
        uploaded.completed = True
        uploaded.channels = [c.id for c in channels]
    shared = [_file_object(u, args.origin) for u in uploads]
    for channel in channels:
        # Slack announces a share with a message from the uploader carrying the files.
        post_bot_message(
            state,
            channel,
            text=args.get("initial_comment") or "",
            thread_ts=args.get("thread_ts"),
            extra={"files": copy.deepcopy(shared), "upload": True},
        )
    return {"files": shared}
