"""A loopback Slack Socket Mode server: the WebSocket end Slack keeps for a socket-mode app.

Slack's side of Socket Mode is small: ``apps.connections.open`` hands the app a one-time
``wss://…/link/?ticket=…&app_id=…`` URL; the app opens a WebSocket there; Slack says
``hello`` and then sends envelopes ``{"envelope_id", "type", "payload",
"accepts_response_payload"}`` (``slash_commands``, ``interactive``, ``events_api``); the app
acknowledges each with ``{"envelope_id", "payload"?}``.

``SocketModeServer`` plays that part on plain ``ws://127.0.0.1`` (port 0 by default), with
the ``websockets`` library's threaded server doing the protocol. slack_sdk's builtin client
takes ``ws://`` on any port but 443 as a plain socket, so no TLS is needed.
Attach it to the Web API fake (``FakeSlackApi.attach_socket_mode``) so the app finds it
through ``apps.connections.open`` exactly as it finds Slack.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import uuid
from collections.abc import Callable
from http import HTTPStatus
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode
from websockets.http11 import Request, Response
from websockets.sync.server import Server, ServerConnection, serve

from bot.sandbox.socket_mode.connection import MAX_MESSAGE_BYTES, Connection
from bot.sandbox.workspace import APP_ID

T = TypeVar("T")
log = logging.getLogger(__name__)

_HANDSHAKE_TIMEOUT = 5.0
# How long a close waits for the peer's answer before dropping it: loopback peers answer
# in milliseconds, and one that never does must not hold up stop() for long.
_CLOSE_TIMEOUT = 1.0
# Which envelopes let the app answer with a payload (Slack's rules for each kind).
_INTERACTIVE_WITH_RESPONSE = frozenset({"view_submission", "block_suggestion"})


def _ticket(path: str) -> str:
    return (parse_qs(urlsplit(path).query).get("ticket") or [""])[0]


class SocketModeServer:
    """Slack's Socket Mode end on loopback. ``start()`` it, hand ``issue_url()`` to the app
    (``FakeSlackApi.attach_socket_mode`` does that for ``apps.connections.open``), then
    ``send_envelope`` requests and ``wait_for_ack`` the app's answers."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, app_id: str = APP_ID) -> None:
        self.app_id = app_id
        self._address = (host, port)
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self._condition = threading.Condition()
        self._tickets: set[str] = set()
        self._connections: list[Connection] = []
        self._acks: dict[str, dict[str, Any]] = {}
        self._messages: list[dict[str, Any]] = []
        self.connections_opened = 0
        self.connected = threading.Event()

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self) -> SocketModeServer:
        if self._server is not None:
            raise RuntimeError("SocketModeServer is already running")
        host, port = self._address
        self._server = serve(
            self._serve_connection,
            host,
            port,
            process_request=self._check_ticket,
            compression=None,  # Slack offers none, and plain frames keep tests readable
            open_timeout=_HANDSHAKE_TIMEOUT,
            # The app pings (slack_sdk does, every few seconds); the server only answers,
            # so no unasked-for frame ever reaches a test's raw client.
            ping_interval=None,
            close_timeout=_CLOSE_TIMEOUT,
            max_size=MAX_MESSAGE_BYTES,
            logger=log,
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="fake-slack-socket-mode", daemon=True
        )
        self._thread.start()
        return self

    def stop(self, *, timeout: float = 5.0) -> None:
        """Stop listening, close every connection (``1001 going away``), and wait for the
        connection threads to finish (a peer that never answers the close is dropped
        after a second); ``timeout`` bounds the wait for the listening thread."""
        if self._server is None:
            return
        self._server.shutdown(code=CloseCode.GOING_AWAY, reason="server stopping")
        if self._thread is not None:
            self._thread.join(timeout)
        self._server = None
        self._thread = None

    def __enter__(self) -> SocketModeServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # --- addresses ------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """``ws://host:port/link/``: the endpoint; a client needs a ticket from ``issue_url``."""
        if self._server is None:
            raise RuntimeError("SocketModeServer is not running")
        host, port = self._server.socket.getsockname()[:2]
        return f"ws://{host}:{port}/link/"

    def issue_url(self) -> str:
        """A fresh single-use connection URL, as ``apps.connections.open`` returns it."""
        ticket = secrets.token_hex(16)
        with self._condition:
            self._tickets.add(ticket)
        return f"{self.url}?ticket={ticket}&app_id={self.app_id}"

    # --- talking to the app -------------------------------------------------------------------

    @property
    def connections(self) -> list[Connection]:
        """The open connections, oldest first."""
        with self._condition:
            return [c for c in self._connections if c.open]

    def wait_for_connection(self, timeout: float = 5.0) -> Connection:
        """The newest open connection, waiting up to ``timeout`` seconds for one."""
        with self._condition:
            if not self._condition.wait_for(lambda: self._newest() is not None, timeout):
                raise TimeoutError(f"no Socket Mode connection within {timeout}s")
            connection = self._newest()
            assert connection is not None
            return connection

    def send_envelope(
        self,
        type: str,
        payload: dict[str, Any],
        *,
        accepts_response_payload: bool | None = None,
        retry_attempt: int = 0,
        retry_reason: str = "",
    ) -> str:
        """Send ``payload`` as a ``type`` envelope on the newest connection; its envelope_id.

        ``accepts_response_payload`` defaults to what Slack sets for the kind of request."""
        connection = self._newest_or_fail()
        envelope_id = str(uuid.uuid4())
        envelope: dict[str, Any] = {
            "envelope_id": envelope_id,
            "type": type,
            "payload": payload,
            "accepts_response_payload": (
                _accepts_response_payload(type, payload)
                if accepts_response_payload is None
                else accepts_response_payload
            ),
        }
        if type == "events_api":
            envelope["retry_attempt"] = retry_attempt
            envelope["retry_reason"] = retry_reason
        if not connection.send_json(envelope):
            raise ConnectionError(f"connection {connection.id} closed before the envelope went")
        return envelope_id

    def wait_for_ack(self, envelope_id: str, timeout: float = 5.0) -> dict[str, Any]:
        """The ``payload`` the app acknowledged ``envelope_id`` with (``{}`` for a bare ack)."""
        with self._condition:
            if not self._condition.wait_for(lambda: envelope_id in self._acks, timeout):
                raise TimeoutError(f"envelope {envelope_id} was not acknowledged within {timeout}s")
            payload = self._acks[envelope_id].get("payload")
            return payload if isinstance(payload, dict) else {}

    def wait_for(self, predicate: Callable[[], T], timeout: float = 5.0) -> T:
        """Block until ``predicate()`` is truthy, re-checked whenever a connection opens,
        closes or sends something; raise ``TimeoutError`` after ``timeout`` seconds."""
        with self._condition:
            result = self._condition.wait_for(predicate, timeout)
            if not result:
                raise TimeoutError(f"Socket Mode condition not met within {timeout}s")
            return result

    def request_disconnect(self, reason: str = "refresh_requested") -> None:
        """Tell the newest connection to reconnect, as Slack does before rotating a link."""
        self._newest_or_fail().send_json(
            {"type": "disconnect", "reason": reason, "debug_info": {"host": "sandbox"}}
        )

    @property
    def received(self) -> list[dict[str, Any]]:
        """Every JSON message the app sent, in order (acks included)."""
        with self._condition:
            return list(self._messages)

    def drop_connections(self) -> int:
        """Cut every open connection without a close frame (a network failure, as the app
        sees it); how many were cut. slack_sdk's client reconnects through
        ``apps.connections.open`` when its auto-reconnect is on."""
        dropped = self.connections
        for connection in dropped:
            connection.drop()
        return len(dropped)

    # --- called from connection threads --------------------------------------------------------

    def _check_ticket(self, websocket: ServerConnection, request: Request) -> Response | None:
        """Refuse an upgrade to anything but ``/link/`` with a live ticket (``None`` lets
        the handshake go on). Slack's tickets are single use: a client that lost its
        connection must ask ``apps.connections.open`` again."""
        if request.headers.get("Upgrade", "").lower() != "websocket":
            return None  # not an upgrade at all: websockets answers 426 itself
        if urlsplit(request.path).path != "/link/" or not self._redeem(_ticket(request.path)):
            return websocket.respond(HTTPStatus.UNAUTHORIZED, "unknown or used ticket\n")
        return None

    def _serve_connection(self, websocket: ServerConnection) -> None:
        """One connection's life, on its own thread: hello, then every message it sends
        until it closes (cleanly or not)."""
        assert websocket.request is not None  # the handshake is done when this runs
        connection = Connection(websocket, _ticket(websocket.request.path))
        self._opened(connection)
        try:
            for message in websocket:
                self._received(connection, message)
        except ConnectionClosed as closed:
            # Protocol errors (websockets has already closed with 1002/1009) and drops.
            log.debug("socket mode: connection %s ended: %s", connection.id, closed)
        finally:
            self._closed(connection)

    def _redeem(self, ticket: str) -> bool:
        with self._condition:
            if ticket not in self._tickets:
                return False
            self._tickets.discard(ticket)
            return True

    def _opened(self, connection: Connection) -> None:
        with self._condition:
            count = 1 + len([c for c in self._connections if c.open])
        # hello goes out before the connection is visible, so no envelope can overtake it.
        connection.send_json(
            {
                "type": "hello",
                "num_connections": count,
                "debug_info": {"host": "sandbox", "approximate_connection_time": 18060},
                "connection_info": {"app_id": self.app_id},
            }
        )
        with self._condition:
            self._connections.append(connection)
            self.connections_opened += 1
            self.connected.set()
            self._condition.notify_all()

    def _closed(self, connection: Connection) -> None:
        with self._condition:
            if connection in self._connections:
                self._connections.remove(connection)
            if not any(c.open for c in self._connections):
                self.connected.clear()
            self._condition.notify_all()

    def _received(self, connection: Connection, raw: str | bytes) -> None:
        try:
            message = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            log.warning("socket mode: connection %s sent a non-JSON message", connection.id)
            return
        if not isinstance(message, dict):
            return
        with self._condition:
            self._messages.append(message)
            envelope_id = message.get("envelope_id")
            if isinstance(envelope_id, str):
                self._acks.setdefault(envelope_id, message)
            self._condition.notify_all()

    def _newest(self) -> Connection | None:
        open_connections = [c for c in self._connections if c.open]
        return open_connections[-1] if open_connections else None

    def _newest_or_fail(self) -> Connection:
        with self._condition:
            connection = self._newest()
        if connection is None:
            raise ConnectionError("no app is connected over Socket Mode")
        return connection


def _accepts_response_payload(type: str, payload: dict[str, Any]) -> bool:
    if type == "slash_commands":
        return True
    if type == "interactive":
        return payload.get("type") in _INTERACTIVE_WITH_RESPONSE
    return False
