"""A loopback HTTP server for backend tests: routes answer scripted replies, and every
request is recorded with its method, path, query, headers and raw body."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # dict/list -> JSON, str/bytes -> as is, None -> empty
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering (to provoke client timeouts)


Handler = Callable[[Recorded, re.Match[str]], Reply]


class FakeHttpServer:
    """``add(method, path_regex, handler)``; unmatched requests get a 404 "no route"."""

    def __init__(self) -> None:
        self.routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        fake = self

        class _Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # quiet
                return

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                recorded = Recorded(
                    method=self.command,
                    path=parts.path,
                    query=parse_qs(parts.query),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                )
                with fake._lock:
                    fake.requests.append(recorded)
                reply = fake._dispatch(recorded)
                if reply.delay:
                    time.sleep(reply.delay)
                if isinstance(reply.body, dict | list):
                    payload = json.dumps(reply.body).encode()
                    content_type = "application/json"
                elif isinstance(reply.body, str):
                    payload, content_type = reply.body.encode(), "text/plain"
                else:
                    payload, content_type = reply.body or b"", "application/octet-stream"
                try:
                    self.send_response(reply.status)
                    self.send_header(
                        "Content-Type", reply.headers.get("Content-Type", content_type)
                    )
                    for name, value in reply.headers.items():
                        if name != "Content-Type":
                            self.send_header(name, value)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def add(self, method: str, pattern: str, handler: Handler | Reply) -> None:
        if isinstance(handler, Reply):
            reply = handler
            handler = lambda request, match: reply  # noqa: E731
        self.routes.insert(0, (method, re.compile(pattern), handler))  # newest wins

    def _dispatch(self, request: Recorded) -> Reply:
        for method, pattern, handler in self.routes:
            match = pattern.fullmatch(request.path)
            if method == request.method and match:
                return handler(request, match)
        return Reply(404, {"message": f"no route for {request.method} {request.path}"})

    def calls(self, method: str, path: str | None = None) -> list[Recorded]:
        with self._lock:
            return [
                r for r in self.requests if r.method == method and (path is None or r.path == path)
            ]

    def start(self) -> FakeHttpServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class ServedFake:
    """Base of a fake API served by a ``FakeHttpServer`` in ``self.server``: its address
    and how it stops (``start`` registers the fake's own routes)."""

    server: FakeHttpServer

    def stop(self) -> None:
        self.server.stop()

    @property
    def url(self) -> str:
        return self.server.url
