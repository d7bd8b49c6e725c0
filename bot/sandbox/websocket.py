"""The server side of RFC 6455, on the stdlib: the opening handshake, frames, ping/pong, close.

Just what a loopback emulator needs (no extensions, no subprotocols). Client frames must
be masked and server frames are not, as the RFC requires."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import socket
import struct
import threading
import uuid
from collections.abc import Callable
from io import BufferedIOBase
from typing import Any

_WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_CONTINUATION, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
CLOSE_NORMAL, CLOSE_GOING_AWAY, CLOSE_PROTOCOL_ERROR, CLOSE_TOO_BIG = 1000, 1001, 1002, 1009
# Far above any Slack payload; a peer sending more is broken, not busy.
MAX_MESSAGE_BYTES = 16 * 1024 * 1024
_MAX_HEADER_LINES = 100


def accept_key(websocket_key: str) -> str:
    """``Sec-WebSocket-Accept`` for a client's ``Sec-WebSocket-Key`` (RFC 6455 §4.2.2)."""
    digest = hashlib.sha1((websocket_key + _WEBSOCKET_GUID).encode()).digest()
    return base64.b64encode(digest).decode()


def encode_frame(opcode: int, payload: bytes) -> bytes:
    """One unmasked, final frame: what a server sends."""
    length = len(payload)
    head = bytes([0x80 | opcode])
    if length < 126:
        head += bytes([length])
    elif length < 1 << 16:
        head += bytes([126]) + struct.pack("!H", length)
    else:
        head += bytes([127]) + struct.pack("!Q", length)
    return head + payload


class ProtocolError(ValueError):
    """The peer broke RFC 6455; the connection is closed with ``code``."""

    def __init__(self, message: str, *, code: int = CLOSE_PROTOCOL_ERROR) -> None:
        super().__init__(message)
        self.code = code


def _read_exactly(stream: BufferedIOBase, size: int) -> bytes | None:
    data = stream.read(size) if size else b""
    return data if len(data) == size else None


def read_frame(stream: BufferedIOBase) -> tuple[bool, int, bytes] | None:
    """``(fin, opcode, unmasked payload)`` of the next client frame; ``None`` at EOF."""
    head = _read_exactly(stream, 2)
    if head is None:
        return None
    fin, opcode = bool(head[0] & 0x80), head[0] & 0x0F
    if head[0] & 0x70:
        raise ProtocolError("reserved bits set without an extension")
    if not head[1] & 0x80:
        raise ProtocolError("client frames must be masked")
    length = head[1] & 0x7F
    if length >= 126:
        extended = _read_exactly(stream, 2 if length == 126 else 8)
        if extended is None:
            return None
        length = struct.unpack("!H" if length == 126 else "!Q", extended)[0]
    if length > MAX_MESSAGE_BYTES:
        raise ProtocolError(f"frame of {length} bytes", code=CLOSE_TOO_BIG)
    mask = _read_exactly(stream, 4)
    payload = _read_exactly(stream, length)
    if mask is None or payload is None:
        return None
    return fin, opcode, bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


class Connection:
    """One open WebSocket, server side; sends are serialised so frames never interleave."""

    def __init__(self, sock: socket.socket, ticket: str) -> None:
        """``ticket``: what the client connected with (Slack's single-use link ticket)."""
        self.id = uuid.uuid4().hex[:12]
        self.ticket = ticket
        self._sock = sock
        self._send_lock = threading.Lock()
        self.open = True

    def send(self, opcode: int, payload: bytes) -> bool:
        """Send one frame; ``False`` if the connection is already gone."""
        with self._send_lock:
            if not self.open:
                return False
            try:
                self._sock.sendall(encode_frame(opcode, payload))
                return True
            except OSError:
                self.open = False
                return False

    def send_json(self, message: dict[str, Any]) -> bool:
        return self.send(OP_TEXT, json.dumps(message).encode())

    def close(self, code: int = CLOSE_NORMAL, reason: str = "") -> None:
        """Send a close frame (if still open) and shut the socket, ending the reader."""
        self.send(OP_CLOSE, struct.pack("!H", code) + reason.encode()[:120])
        with self._send_lock:
            self.open = False
            with contextlib.suppress(OSError):  # the peer may have closed first
                self._sock.shutdown(socket.SHUT_RDWR)


def read_upgrade_request(stream: BufferedIOBase) -> tuple[str, str] | None:
    """``(request target, Sec-WebSocket-Key)`` of a valid upgrade request, else ``None``."""
    request_line = stream.readline(8192).decode("latin-1").strip()
    headers: dict[str, str] = {}
    for _ in range(_MAX_HEADER_LINES):
        line = stream.readline(8192).decode("latin-1").strip()
        if not line:
            break
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    method, _, rest = request_line.partition(" ")
    key = headers.get("sec-websocket-key", "")
    if (
        method != "GET"
        or headers.get("upgrade", "").lower() != "websocket"
        or "upgrade" not in headers.get("connection", "").lower()
        or headers.get("sec-websocket-version") != "13"
        or not key
    ):
        return None
    return rest.rsplit(" ", 1)[0], key


def upgrade_response(key: str) -> bytes:
    return (
        "HTTP/1.1 101 Switching Protocols\r\n"
        "Upgrade: websocket\r\n"
        "Connection: Upgrade\r\n"
        f"Sec-WebSocket-Accept: {accept_key(key)}\r\n\r\n"
    ).encode()


def refusal(status: str, reason: str) -> bytes:
    """A plain HTTP answer refusing the upgrade, e.g. ``refusal("401 Unauthorized", …)``."""
    body = reason.encode()
    return (
        f"HTTP/1.1 {status}\r\nContent-Type: text/plain\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
        + body
    )


def serve_messages(
    stream: BufferedIOBase, connection: Connection, on_message: Callable[[bytes], None]
) -> None:
    """Read frames until the peer closes or goes away: answer pings, echo a close, and
    hand each complete (possibly fragmented) data message to ``on_message``.

    Raises ``ProtocolError`` when the peer breaks the protocol."""
    fragments: list[bytes] = []
    fragmented_opcode: int | None = None
    while True:
        frame = read_frame(stream)
        if frame is None:
            return  # EOF without a close frame (slack_sdk's client closes this way)
        fin, opcode, payload = frame
        if opcode == OP_PING:
            connection.send(OP_PONG, payload)
        elif opcode == OP_PONG:
            continue
        elif opcode == OP_CLOSE:
            code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else CLOSE_NORMAL
            connection.close(code)
            return
        elif opcode in (OP_TEXT, OP_BINARY) or (
            opcode == OP_CONTINUATION and fragmented_opcode is not None
        ):
            if opcode != OP_CONTINUATION:
                if fragmented_opcode is not None:
                    raise ProtocolError("new message inside a fragmented one")
                fragmented_opcode = opcode
            fragments.append(payload)
            if sum(map(len, fragments)) > MAX_MESSAGE_BYTES:
                raise ProtocolError("message too big", code=CLOSE_TOO_BIG)
            if fin:
                message, fragments, fragmented_opcode = b"".join(fragments), [], None
                on_message(message)
        else:
            raise ProtocolError(f"unexpected opcode {opcode:#x}")
