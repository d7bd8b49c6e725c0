"""One app's open WebSocket, as the emulator keeps it: the ``websockets`` connection plus
the Slack-side bookkeeping (which ticket it used, a short id for logs).

The protocol itself (handshake, framing, masking, ping/pong, fragments, the close
handshake) is the ``websockets`` library's; this adds only what the emulator needs on
top: JSON sends that report failure instead of raising, a clean close, and an abrupt
drop for tests of what an app does when its socket dies without a close frame."""

from __future__ import annotations

import contextlib
import json
import socket
import uuid
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode
from websockets.protocol import State
from websockets.sync.server import ServerConnection

# Far above any Slack payload; a peer sending more is broken, not busy.
MAX_MESSAGE_BYTES = 16 * 1024 * 1024


class Connection:
    """One open Socket Mode WebSocket, server side. Safe to use from any thread:
    ``websockets`` serialises sends, so frames never interleave."""

    def __init__(self, websocket: ServerConnection, ticket: str) -> None:
        """``ticket``: what the client connected with (Slack's single-use link ticket)."""
        self.id = uuid.uuid4().hex[:12]
        self.ticket = ticket
        self.websocket = websocket

    @property
    def open(self) -> bool:
        return self.websocket.protocol.state is State.OPEN

    def send_json(self, message: dict[str, Any]) -> bool:
        """Send ``message`` as one text frame; ``False`` if the connection is already gone."""
        try:
            self.websocket.send(json.dumps(message))
            return True
        except (ConnectionClosed, OSError):
            return False

    def close(self, code: int = CloseCode.NORMAL_CLOSURE, reason: str = "") -> None:
        """Start the close handshake and wait (up to the server's close timeout) for the
        peer's answer; the connection's reader then ends."""
        self.websocket.close(code, reason[:120])

    def drop(self) -> None:
        """End the TCP connection without a close frame, as a network failure or a killed
        Slack edge would: the app sees its socket die, not a goodbye."""
        with contextlib.suppress(OSError):  # the peer may have gone already
            self.websocket.socket.shutdown(socket.SHUT_RDWR)
