"""A loopback Slack Socket Mode server: the WebSocket end Slack keeps for a socket-mode app.

Slack's side of Socket Mode is small: ``apps.connections.open`` hands the app a one-time
``wss://…/link/?ticket=…&app_id=…`` URL; the app opens a WebSocket there; Slack says
``hello`` and then sends envelopes ``{"envelope_id", "type", "payload",
"accepts_response_payload"}`` (``slash_commands``, ``interactive``, ``events_api``); the app
acknowledges each with ``{"envelope_id", "payload"?}``.

``SocketModeServer`` plays that part on plain ``ws://127.0.0.1`` (port 0 by default), with
the stdlib WebSocket server side in ``bot.sandbox.websocket``. slack_sdk's builtin client
takes ``ws://`` on any port but 443 as a plain socket, so no TLS is needed.
Attach it to the Web API fake (``FakeSlackApi.attach_socket_mode``) so the app finds it
through ``apps.connections.open`` exactly as it finds Slack.
"""

from __future__ import annotations

import json
import logging
import secrets
import socketserver
import threading
import uuid
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

from bot.sandbox.loopback import serve_in_background
from bot.sandbox.websocket import (
    CLOSE_GOING_AWAY,
    Connection,
    ProtocolError,
    read_upgrade_request,
    refusal,
    serve_messages,
    upgrade_response,
)
from bot.sandbox.workspace import APP_ID

T = TypeVar("T")
log = logging.getLogger(__name__)

_HANDSHAKE_TIMEOUT = 5.0
# Which envelopes let the app answer with a payload (Slack's rules for each kind).
_INTERACTIVE_WITH_RESPONSE = frozenset({"view_submission", "block_suggestion"})


class _Handler(socketserver.StreamRequestHandler):
    server: _Server

    def setup(self) -> None:
        super().setup()
        owner = self.server.owner
        with owner._condition:
            owner._handler_threads.add(threading.current_thread())
        # A client that connects and never finishes the handshake must not pin a thread.
        self.connection.settimeout(_HANDSHAKE_TIMEOUT)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            owner = self.server.owner
            with owner._condition:
                owner._handler_threads.discard(threading.current_thread())

    def handle(self) -> None:
        owner = self.server.owner
        try:
            ticket = self._handshake()
        except (OSError, UnicodeDecodeError) as error:
            log.debug("socket mode: handshake failed: %s", error)
            return
        if ticket is None:
            return
        self.connection.settimeout(None)
        connection = Connection(self.connection, ticket)
        owner._opened(connection)
        try:
            serve_messages(
                self.rfile, connection, lambda message: owner._received(connection, message)
            )
        except ProtocolError as error:
            log.warning("socket mode: closing connection %s: %s", connection.id, error)
            connection.close(error.code, str(error))
        except OSError as error:
            log.debug("socket mode: connection %s dropped: %s", connection.id, error)
        finally:
            connection.open = False
            owner._closed(connection)

    def _handshake(self) -> str | None:
        """The redeemed ticket of a valid upgrade to ``/link/?ticket=…``, else ``None``."""
        request = read_upgrade_request(self.rfile)
        if request is None:
            self.wfile.write(refusal("400 Bad Request", "not a WebSocket upgrade"))
            return None
        target, key = request
        url = urlsplit(target)
        ticket = (parse_qs(url.query).get("ticket") or [""])[0]
        if url.path != "/link/" or not self.server.owner._redeem(ticket):
            # Slack's tickets are single use: a client must ask apps.connections.open again.
            self.wfile.write(refusal("401 Unauthorized", "unknown or used ticket"))
            return None
        self.wfile.write(upgrade_response(key))
        return ticket


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: SocketModeServer


class SocketModeServer:
    """Slack's Socket Mode end on loopback. ``start()`` it, hand ``issue_url()`` to the app
    (``FakeSlackApi.attach_socket_mode`` does that for ``apps.connections.open``), then
    ``send_envelope`` requests and ``wait_for_ack`` the app's answers."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, app_id: str = APP_ID) -> None:
        self.app_id = app_id
        self._address = (host, port)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._condition = threading.Condition()
        self._tickets: set[str] = set()
        self._connections: list[Connection] = []
        self._acks: dict[str, dict[str, Any]] = {}
        self._messages: list[dict[str, Any]] = []
        self._handler_threads: set[threading.Thread] = set()
        self.connections_opened = 0
        self.connected = threading.Event()

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self) -> SocketModeServer:
        if self._server is not None:
            raise RuntimeError("SocketModeServer is already running")
        self._server = _Server(self._address, _Handler)
        self._server.owner = self
        self._thread = serve_in_background(self._server, name="fake-slack-socket-mode")
        return self

    def stop(self, *, timeout: float = 5.0) -> None:
        """Close every connection (``1001 going away``), stop listening, and wait for the
        connection threads to finish (each at most ``timeout`` seconds)."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        for connection in self.connections:
            connection.close(CLOSE_GOING_AWAY, "server stopping")
        with self._condition:
            threads = list(self._handler_threads)
        for thread in [self._thread, *threads]:
            if thread is not None:
                thread.join(timeout)
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
        host, port = self._server.server_address[:2]
        assert isinstance(host, str)  # an AF_INET server's address: (str, int)
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

    # --- called from connection threads --------------------------------------------------------

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

    def _received(self, connection: Connection, raw: bytes) -> None:
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
