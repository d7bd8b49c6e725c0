"""The plumbing every emulated Web API method shares: arguments, errors, the registry.

A method is a function ``(state, args) -> dict`` run while holding ``state.lock``; it
returns the response body without ``ok`` (added by ``dispatch``) or raises ``ApiError``
with Slack's error code."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Mapping
from typing import Any

from bot.sandbox.slack.blocks import MAX_MESSAGE_BLOCKS, block_errors, view_errors
from bot.sandbox.slack.state import Channel, InvalidBlocks, SlackState
from bot.sandbox.workspace import BOT_USER_ID

# Parameters slack_sdk sends JSON-encoded inside form bodies.
JSON_FIELDS = ("blocks", "attachments", "metadata", "view", "files")


class ApiError(Exception):
    """A Slack error answer: ``{"ok": false, "error": code, **extra}``."""

    def __init__(self, code: str, **extra: Any) -> None:
        super().__init__(code)
        self.code = code
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"ok": False, "error": self.code, **self.extra}


class Args:
    """Typed access to one call's parameters, failing the way Slack does."""

    def __init__(
        self,
        values: Mapping[str, Any],
        *,
        origin: str = "",
        socket_mode_url: Callable[[], str] | None = None,
    ) -> None:
        self.values = dict(values)
        # Scheme, host and port of the server, for URLs the fake hands out.
        self.origin = origin
        # Issues a Socket Mode connection URL, when a SocketModeServer is attached.
        self.socket_mode_url = socket_mode_url

    def get(self, name: str) -> str | None:
        value = self.values.get(name)
        if value is None or value == "":
            return None
        return value if isinstance(value, str) else json.dumps(value)

    def require(self, name: str, *, error: str | None = None) -> str:
        value = self.get(name)
        if value is None:
            raise ApiError(error or "invalid_arguments", detail=f"missing required field: {name}")
        return value

    def flag(self, name: str) -> bool:
        value = self.values.get(name)
        if isinstance(value, bool):
            return value
        return str(value).lower() in ("1", "true") if value is not None else False

    def number(self, name: str, default: float) -> float:
        value = self.values.get(name)
        if value in (None, ""):
            return default
        try:
            return float(value)
        except (TypeError, ValueError) as exc:
            raise ApiError("invalid_arguments", detail=f"{name} must be a number") from exc

    def structured(self, name: str) -> Any:
        """A JSON-encoded parameter, decoded (``None`` when absent)."""
        value = self.values.get(name)
        if isinstance(value, str):
            if value == "":
                return None
            try:
                return json.loads(value)
            except json.JSONDecodeError as exc:
                raise ApiError(f"invalid_{name}", detail=str(exc)) from exc
        return value


def decode_json_fields(values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` with JSON-encoded fields decoded where they parse (for the call record)."""
    decoded = dict(values)
    for name in JSON_FIELDS:
        raw = decoded.get(name)
        if isinstance(raw, str) and raw:
            with contextlib.suppress(json.JSONDecodeError):
                decoded[name] = json.loads(raw)
    return decoded


Method = Callable[[SlackState, Args], dict[str, Any]]


class MethodRegistry(dict[str, Method]):
    """``name -> implementation``; ``@registry.method("chat.postMessage")`` adds one."""

    def method(self, name: str) -> Callable[[Method], Method]:
        def register(function: Method) -> Method:
            self[name] = function
            return function

        return register


def dispatch(
    state: SlackState, methods: Mapping[str, Method], name: str, args: Args
) -> dict[str, Any]:
    """Run ``name`` against ``state`` and return Slack's full response body."""
    implementation = methods.get(name)
    if implementation is None:
        return ApiError("unknown_method").body()
    try:
        with state.condition:
            try:
                return {"ok": True, **implementation(state, args)}
            finally:
                state.condition.notify_all()
    except ApiError as exc:
        return exc.body()


# --- helpers the method modules share ---------------------------------------------------


def require_channel(state: SlackState, args: Args, name: str = "channel") -> Channel:
    """The channel named by ``args[name]``, resolving a user id to the bot's DM with them.

    A private channel the bot is not in does not exist as far as the bot can tell."""
    ref = args.require(name, error="channel_not_found")
    data = state.data
    if ref.startswith(("U", "W")) and ref in data.users:
        return state.im_channel(ref)
    channel = data.channels.get(ref) or data.channel_by_name(ref.lstrip("#"))
    if channel is None:
        raise ApiError("channel_not_found")
    if channel.is_private and BOT_USER_ID not in channel.members:
        raise ApiError("channel_not_found")
    return channel


def require_message(state: SlackState, channel: Channel, ts: str) -> dict[str, Any]:
    message = state.data.find_message(channel.id, ts)
    if message is None:
        raise ApiError("message_not_found")
    return message


def checked_blocks(state: SlackState, method: str, args: Args) -> list[dict[str, Any]] | None:
    """The call's ``blocks``, or ``invalid_blocks`` (recorded) if Slack would refuse them."""
    blocks: list[dict[str, Any]] | None = args.structured("blocks")
    if blocks is None:
        return None
    errors = block_errors(blocks, limit=MAX_MESSAGE_BLOCKS)
    if errors:
        state.record_invalid(InvalidBlocks(method, errors, blocks))
        raise ApiError("invalid_blocks", errors=errors)
    return blocks


def checked_view(state: SlackState, method: str, args: Args) -> dict[str, Any]:
    view: dict[str, Any] | None = args.structured("view")
    if view is None:
        raise ApiError("invalid_arguments", detail="missing required field: view")
    errors = view_errors(view)
    if errors:
        state.record_invalid(InvalidBlocks(method, errors, view))
        raise ApiError("invalid_blocks", errors=errors)
    return view
