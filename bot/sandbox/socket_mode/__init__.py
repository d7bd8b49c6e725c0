"""Slack's Socket Mode end, on loopback: ``SocketModeServer`` (envelopes out, acks in) over
the ``websockets`` library, which comes with the ``sandbox`` extra."""

from __future__ import annotations

try:
    import websockets  # noqa: F401  (checked here so the error says what to install)
except ModuleNotFoundError as error:  # pragma: no cover - exercised in a subprocess test
    raise ModuleNotFoundError(
        "the Slack emulator (shipbot dev, bot.sandbox) needs the 'websockets' package, "
        "which production installs leave out: pip install 'shipbot[sandbox]' "
        "(in a checkout: pip install -e '.[sandbox]')",
        name="websockets",
    ) from error

from bot.sandbox.socket_mode.connection import Connection
from bot.sandbox.socket_mode.server import SocketModeServer

__all__ = ["Connection", "SocketModeServer"]
