"""The loopback Socket Mode server against slack_sdk's own Socket Mode client, and against
a raw RFC 6455 client for the protocol details slack_sdk never exercises."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import queue
import socket
import struct
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.builtin import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from bot.sandbox.slack.api import FakeSlackApi
from bot.sandbox.socket_mode import SocketModeServer
from bot.sandbox.workspace import APP_ID

APP_TOKEN = "xapp-1-A0SHIPBOT-1-sandbox"


def accept_key(websocket_key: str) -> str:
    """``Sec-WebSocket-Accept`` as RFC 6455 §4.2.2 defines it, worked out here rather
    than taken from the library the server uses."""
    guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
    return base64.b64encode(hashlib.sha1((websocket_key + guid).encode()).digest()).decode()


@pytest.fixture
def server(slack: FakeSlackApi) -> Iterator[SocketModeServer]:
    with SocketModeServer() as running:
        slack.attach_socket_mode(running)
        yield running


@contextmanager
def socket_client(
    slack: FakeSlackApi, server: SocketModeServer, **options: Any
) -> Iterator[SocketModeClient]:
    web = WebClient(base_url=slack.url, retry_handlers=[])
    socket_client = SocketModeClient(app_token=APP_TOKEN, web_client=web, **options)
    try:
        yield socket_client
    finally:
        # Closing from the server end first wakes slack_sdk's reader, which otherwise sits
        # out its 3 s receive timeout inside close(). The reader then disconnects itself;
        # close() must wait for that, as two concurrent disconnects race inside slack_sdk.
        socket_client.auto_reconnect_enabled = False
        for connection in server.connections:
            connection.close()
        deadline = time.monotonic() + 5
        while socket_client.is_connected() and time.monotonic() < deadline:
            time.sleep(0.01)
        socket_client.close()


@pytest.fixture
def client(slack: FakeSlackApi, server: SocketModeServer) -> Iterator[SocketModeClient]:
    with socket_client(slack, server) as running:
        yield running


def test_slack_sdk_client_connects_through_apps_connections_open_and_acks(
    slack: FakeSlackApi, server: SocketModeServer, client: SocketModeClient
) -> None:
    seen: queue.Queue[SocketModeRequest] = queue.Queue()

    def answer(socket_client: SocketModeClient, request: SocketModeRequest) -> None:
        seen.put(request)
        text = request.payload.get("text", "")
        socket_client.send_socket_mode_response(
            SocketModeResponse(request.envelope_id, {"text": f"got {len(text)} chars"})
        )

    client.socket_mode_request_listeners.append(answer)  # type: ignore[arg-type]
    client.connect()
    server.wait_for_connection(timeout=5)

    (opened,) = slack.calls_to("apps.connections.open")
    assert opened.headers["Authorization"] == f"Bearer {APP_TOKEN}"
    assert client.wss_uri is not None and client.wss_uri.startswith(server.url + "?ticket=")
    assert f"app_id={APP_ID}" in client.wss_uri

    envelope_id = server.send_envelope("slash_commands", {"command": "/shipbot", "text": "help"})
    assert server.wait_for_ack(envelope_id, timeout=5) == {"text": "got 4 chars"}
    request = seen.get(timeout=5)
    assert (request.type, request.envelope_id, request.accepts_response_payload) == (
        "slash_commands",
        envelope_id,
        True,
    )

    # Past 64 KiB a frame needs the 8-byte length; slack_sdk must still read it whole.
    big = server.send_envelope("events_api", {"text": "x" * 70_000})
    assert server.wait_for_ack(big, timeout=5) == {"text": "got 70000 chars"}
    assert seen.get(timeout=5).accepts_response_payload is False


def test_a_disconnect_request_makes_the_client_fetch_a_new_url_and_reconnect(
    slack: FakeSlackApi, server: SocketModeServer, client: SocketModeClient
) -> None:
    client.connect()
    first = server.wait_for_connection(timeout=5)
    server.request_disconnect()

    server.wait_for(lambda: server.connections_opened == 2, timeout=10)
    assert len(slack.calls_to("apps.connections.open")) == 2
    second = server.wait_for_connection(timeout=5)
    assert second.ticket != first.ticket


def test_a_dropped_connection_makes_the_client_reconnect_with_a_new_ticket(
    slack: FakeSlackApi, server: SocketModeServer
) -> None:
    # slack_sdk notices a dead socket only through its ping checks (five failures in a
    # row), so this client pings often enough to notice within a second or two.
    with socket_client(slack, server, ping_interval=0.2) as client:
        client.socket_mode_request_listeners.append(  # type: ignore[arg-type]
            lambda c, r: c.send_socket_mode_response(SocketModeResponse(r.envelope_id))
        )
        client.connect()
        first = server.wait_for_connection(timeout=5)
        assert server.drop_connections() == 1

        server.wait_for(lambda: server.connections_opened == 2, timeout=15)
        second = server.wait_for_connection(timeout=5)
        assert second.ticket != first.ticket and not first.open
        assert len(slack.calls_to("apps.connections.open")) == 2
        # The new connection carries envelopes again.
        envelope_id = server.send_envelope("events_api", {"type": "app_mention"})
        assert server.wait_for_ack(envelope_id, timeout=5) == {}


def test_closing_the_client_closes_its_connection(
    server: SocketModeServer, client: SocketModeClient
) -> None:
    client.connect()
    server.wait_for_connection(timeout=5)
    assert server.connected.is_set()
    client.close()
    # As after a drop: the connection's own thread clears ``connected`` a moment later.
    server.wait_for(lambda: not server.connections and not server.connected.is_set(), timeout=5)
    assert not server.connected.is_set()
    with pytest.raises(ConnectionError):
        server.send_envelope("slash_commands", {"text": "help"})


# --- the Web API side ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "error"),
    [("xoxb-bot-token", "not_allowed_token_type"), ("", "not_authed")],
)
def test_apps_connections_open_takes_only_an_app_level_token(
    slack: FakeSlackApi, server: SocketModeServer, token: str, error: str
) -> None:
    web = WebClient(base_url=slack.url, retry_handlers=[])
    with pytest.raises(SlackApiError) as refused:
        web.apps_connections_open(app_token=token)
    assert refused.value.response["error"] == error


def test_an_app_token_is_refused_for_bot_methods(slack: FakeSlackApi) -> None:
    web = WebClient(token=APP_TOKEN, base_url=slack.url, retry_handlers=[])
    with pytest.raises(SlackApiError) as refused:
        web.chat_postMessage(channel="C1", text="hi")
    assert refused.value.response["error"] == "invalid_auth"


def test_without_an_attached_server_there_is_no_socket_mode(slack: FakeSlackApi) -> None:
    web = WebClient(base_url=slack.url, retry_handlers=[])
    with pytest.raises(SlackApiError) as refused:
        web.apps_connections_open(app_token=APP_TOKEN)
    assert refused.value.response["error"] == "socket_mode_not_enabled"


def test_accepted_tokens_apply_to_app_tokens_too() -> None:
    with FakeSlackApi(accept_tokens={APP_TOKEN}) as fake, SocketModeServer() as server:
        fake.attach_socket_mode(server)
        web = WebClient(base_url=fake.url, retry_handlers=[])
        assert web.apps_connections_open(app_token=APP_TOKEN)["url"].startswith(server.url)
        with pytest.raises(SlackApiError) as refused:
            web.apps_connections_open(app_token="xapp-1-other")
    assert refused.value.response["error"] == "invalid_auth"


# --- the protocol, byte by byte -----------------------------------------------------------------


class RawClient:
    """Just enough of a WebSocket client to poke at the server's edges."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=5)
        self.reader = self.sock.makefile("rb")
        self.key = base64.b64encode(os.urandom(16)).decode()
        target = f"{parts.path}?{parts.query}" if parts.query else parts.path
        self.sock.sendall(
            (
                f"GET {target} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {self.key}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        self.status = int(self.reader.readline().split()[1])
        self.headers: dict[str, str] = {}
        while line := self.reader.readline().strip():
            name, _, value = line.decode().partition(":")
            self.headers[name.lower()] = value.strip()

    def send(self, opcode: int, payload: bytes, *, masked: bool = True, fin: bool = True) -> None:
        mask = os.urandom(4) if masked else b""
        body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload)) if masked else payload
        assert len(payload) < 126
        head = bytes([(0x80 if fin else 0) | opcode, (0x80 if masked else 0) | len(payload)])
        self.sock.sendall(head + mask + body)

    def receive(self) -> tuple[int, bytes]:
        first, second = self.reader.read(2)
        assert not second & 0x80, "server frames are never masked"
        length = second & 0x7F
        if length == 126:
            length = struct.unpack("!H", self.reader.read(2))[0]
        elif length == 127:
            length = struct.unpack("!Q", self.reader.read(8))[0]
        return first & 0x0F, self.reader.read(length)

    def close(self) -> None:
        self.reader.close()
        self.sock.close()


@pytest.fixture
def raw(server: SocketModeServer) -> Iterator[RawClient]:
    connection = RawClient(server.issue_url())
    # The server says hello before it lists the connection (so no envelope can overtake
    # hello); a test that sends right after reading hello must not race that listing.
    server.wait_for_connection(timeout=5)
    try:
        yield connection
    finally:
        connection.close()


def test_handshake_answers_the_key_and_says_hello(raw: RawClient) -> None:
    assert raw.status == 101
    assert raw.headers["sec-websocket-accept"] == accept_key(raw.key)
    opcode, hello = raw.receive()
    assert opcode == 0x1
    assert json.loads(hello) == {
        "type": "hello",
        "num_connections": 1,
        "debug_info": {"host": "sandbox", "approximate_connection_time": 18060},
        "connection_info": {"app_id": APP_ID},
    }


def test_a_ticket_works_once_and_a_made_up_one_never(server: SocketModeServer) -> None:
    url = server.issue_url()
    first = RawClient(url)
    again = RawClient(url)
    made_up = RawClient(server.url + "?ticket=guessed")
    try:
        assert (first.status, again.status, made_up.status) == (101, 401, 401)
    finally:
        for connection in (first, again, made_up):
            connection.close()


def test_ping_is_answered_with_the_same_payload_and_close_is_echoed(
    server: SocketModeServer, raw: RawClient
) -> None:
    raw.receive()  # hello
    raw.send(0x9, b"are you there")
    assert raw.receive() == (0xA, b"are you there")
    raw.send(0x8, struct.pack("!H", 1000))
    assert raw.receive() == (0x8, struct.pack("!H", 1000))
    server.wait_for(lambda: not server.connections, timeout=5)


def test_a_fragmented_ack_is_put_back_together(server: SocketModeServer, raw: RawClient) -> None:
    raw.receive()  # hello
    envelope_id = server.send_envelope("interactive", {"type": "view_submission"})
    envelope = json.loads(raw.receive()[1])
    assert (envelope["envelope_id"], envelope["accepts_response_payload"]) == (envelope_id, True)

    ack = json.dumps({"envelope_id": envelope_id, "payload": {"response_action": "clear"}})
    raw.send(0x1, ack[:10].encode(), fin=False)
    raw.send(0x9, b"in between")  # control frames may interleave with fragments
    raw.send(0x0, ack[10:].encode())
    assert raw.receive() == (0xA, b"in between")
    assert server.wait_for_ack(envelope_id, timeout=5) == {"response_action": "clear"}


def test_an_unmasked_client_frame_is_a_protocol_error(
    server: SocketModeServer, raw: RawClient
) -> None:
    raw.receive()  # hello
    raw.send(0x1, b'{"envelope_id": "x"}', masked=False)
    opcode, payload = raw.receive()
    assert opcode == 0x8 and struct.unpack("!H", payload[:2])[0] == 1002
    server.wait_for(lambda: not server.connections, timeout=5)
    assert server.received == []


def test_a_drop_ends_the_tcp_connection_without_a_close_frame(
    server: SocketModeServer, raw: RawClient
) -> None:
    raw.receive()  # hello
    assert server.drop_connections() == 1
    assert raw.reader.read(2) == b""  # end of stream, where a close frame would have been
    # A dropped connection stops counting at once; ``connected`` is cleared a moment later
    # by the connection's own thread, so wait for both rather than race that thread.
    server.wait_for(lambda: not server.connections and not server.connected.is_set(), timeout=5)
    assert not server.connected.is_set()


def test_stop_says_going_away_to_connected_clients(slack: FakeSlackApi) -> None:
    server = SocketModeServer().start()
    connection = RawClient(server.issue_url())
    try:
        connection.receive()  # hello
        server.wait_for_connection(timeout=5)
        server.stop(timeout=5)
        opcode, payload = connection.receive()
        assert opcode == 0x8 and struct.unpack("!H", payload[:2])[0] == 1001
    finally:
        connection.close()
        server.stop()
