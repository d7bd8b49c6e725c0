"""A loopback Slack Web API that the real ``slack_sdk.WebClient`` talks to.

``FakeSlackApi`` is a stdlib HTTP server on ``127.0.0.1`` (port 0 by default). Point
``SLACK_API_URL`` / ``WebClient(base_url=...)`` at ``fake.url`` and every call lands in
a ``SlackState``: recorded, validated like Slack validates, and answered in Slack's
shapes, or failed on purpose (429 with ``Retry-After``, 5xx, an error code, a slow answer).

Besides ``/api/<method>`` it serves the URLs it hands out itself: file upload URLs
(``/upload/v1/<file>``), ``response_url``s (``/response/<id>``) and file downloads.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Collection, Iterable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import parse_qsl, urlsplit

from bot.sandbox.loopback import serve_in_background
from bot.sandbox.slack.methods import (
    APP_TOKEN_METHODS,
    METHODS,
    ApiError,
    Args,
    chat,
    decode_json_fields,
    dispatch,
    views_files,
)
from bot.sandbox.slack.state import (
    Call,
    Ephemeral,
    InvalidBlocks,
    ResponsePost,
    ScriptedFailure,
    SlackState,
    UploadedFile,
)

if TYPE_CHECKING:  # only its type: the Web API fake runs without the WebSocket library
    from bot.sandbox.socket_mode import SocketModeServer

T = TypeVar("T")
log = logging.getLogger(__name__)


def _token_problem(
    token: str | None, accepted: frozenset[str] | None, *, method: str = ""
) -> str | None:
    if not token:
        return "not_authed"
    if method in APP_TOKEN_METHODS:
        # An app-level method takes an xapp- token and nothing else, as Slack has it.
        if not token.startswith("xapp-"):
            return "not_allowed_token_type"
        return None if accepted is None or token in accepted else "invalid_auth"
    if accepted is None:
        return None if token.startswith("xoxb-") else "invalid_auth"
    return None if token in accepted else "invalid_auth"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # A handler stuck in a scripted delay must not hold up stop().
    block_on_close = False
    fake: FakeSlackApi


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("fake slack: " + format, *args)

    # --- plumbing ------------------------------------------------------------------------------

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _reply(self, status: int, body: Any, *, headers: Mapping[str, str] | None = None) -> None:
        payload = body if isinstance(body, bytes) else json.dumps(body).encode()
        content_type = "text/plain" if isinstance(body, bytes) else "application/json"
        try:
            self.send_response(status)
            self.send_header("Content-Type", f"{content_type}; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (e.g. its timeout fired during a scripted delay).
            pass

    def _params(self, raw: bytes) -> dict[str, Any]:
        params: dict[str, Any] = dict(parse_qsl(urlsplit(self.path).query, keep_blank_values=True))
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if content_type == "application/json" and raw:
            decoded = json.loads(raw)
            if isinstance(decoded, dict):
                params.update(decoded)
        elif content_type == "application/x-www-form-urlencoded" and raw:
            params.update(parse_qsl(raw.decode(), keep_blank_values=True))
        return params

    # --- routes --------------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._route(b"")

    def do_POST(self) -> None:
        self._route(self._read_body())

    def _route(self, raw: bytes) -> None:
        path = urlsplit(self.path).path
        prefix, _, rest = path.lstrip("/").partition("/")
        if prefix == "api" and rest:
            self._api_call(rest, raw)
        elif prefix == "upload" and rest.startswith("v1/"):
            self._upload(rest.removeprefix("v1/"), raw)
        elif prefix == "response" and rest:
            self._response_url(rest, raw)
        elif prefix == "files" and rest:
            self._download(rest)
        else:
            self._reply(404, {"ok": False, "error": "not_found"})

    def _api_call(self, method: str, raw: bytes) -> None:
        fake = self.server.fake
        state = fake.state
        generation = fake.generation
        try:
            params = self._params(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            self._reply(200, {"ok": False, "error": "invalid_json"})
            return
        headers = dict(self.headers.items())
        call = Call(method, decode_json_fields(params), headers, state.now())
        state.record_call(call, implemented=method in METHODS)

        authorization = headers.get("Authorization", "")
        token = authorization.removeprefix("Bearer ").strip() or params.pop("token", None)
        problem = _token_problem(token, fake.accepted_tokens, method=method)
        if problem is not None:
            self._reply(200, {"ok": False, "error": problem})
            return

        failure = state.pop_failure(method)
        if failure is not None:
            if failure.delay > 0 and not fake.sleep(failure.delay, generation):
                return  # reset or stopped meanwhile: this call belongs to a finished test
            if failure.status is not None or failure.error is not None:
                self._fail(failure)
                return
        socket_mode = fake.socket_mode
        args = Args(
            params,
            origin=fake.origin,
            socket_mode_url=socket_mode.issue_url if socket_mode is not None else None,
        )
        self._reply(200, dispatch(state, METHODS, method, args))

    def _fail(self, failure: ScriptedFailure) -> None:
        if failure.status == 429:
            self._reply(
                429,
                {"ok": False, "error": failure.error or "ratelimited"},
                headers={"Retry-After": str(failure.retry_after)},
            )
        elif failure.status is not None and failure.status != 200:
            self._reply(failure.status, {"ok": False, "error": failure.error or "internal_error"})
        else:
            self._reply(200, {"ok": False, "error": failure.error})

    def _upload(self, file_id: str, raw: bytes) -> None:
        if views_files.receive_upload(self.server.fake.state, file_id, raw):
            self._reply(200, f"OK - {len(raw)}".encode())
        else:
            self._reply(404, b"file_not_found")

    def _response_url(self, url_id: str, raw: bytes) -> None:
        state = self.server.fake.state
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            self._reply(400, {"ok": False, "error": "invalid_payload"})
            return
        error: ApiError | None = None
        with state.condition:
            target = state.data.response_urls.get(url_id)
            post = ResponsePost(
                url_id,
                target.channel if target else "",
                target.user if target else None,
                body if isinstance(body, dict) else {},
                state.now(),
            )
            state.data.response_posts.append(post)
            try:
                chat.apply_response_post(state, url_id, post.body)
            except ApiError as exc:
                error = exc
            state.condition.notify_all()
        if error is None:
            self._reply(200, {"ok": True})
        else:
            self._reply(404 if error.code == "expired_url" else 400, error.body())

    def _download(self, file_id: str) -> None:
        state = self.server.fake.state
        with state.lock:
            uploaded = state.data.files.get(file_id)
            content = uploaded.content if uploaded and uploaded.completed else None
        if content is None:
            self._reply(404, b"file_not_found")
        else:
            self._reply(200, content)


class FakeSlackApi:
    """The Slack Web API on loopback, backed by a ``SlackState`` tests can inspect.

    ``accept_tokens`` limits which bearer tokens pass (default: any ``xoxb-`` token, and
    any ``xapp-`` token for the app-level ``apps.connections.open``)."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        state: SlackState | None = None,
        accept_tokens: Collection[str] | None = None,
    ) -> None:
        self.state = state or SlackState()
        self.accepted_tokens = frozenset(accept_tokens) if accept_tokens is not None else None
        self._address = (host, port)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._generation_lock = threading.Lock()
        self.generation = 0
        self._wakeup = threading.Event()
        self.socket_mode: SocketModeServer | None = None

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self) -> FakeSlackApi:
        if self._server is not None:
            raise RuntimeError("FakeSlackApi is already running")
        self._server = _Server(self._address, _Handler)
        self._server.fake = self
        self._thread = serve_in_background(self._server, name="fake-slack-api")
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._interrupt_delays()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeSlackApi:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def reset(self) -> None:
        """A fresh workspace and record; requests still delayed from before are dropped,
        and a Socket Mode server attached before is detached (it belongs to a finished test)."""
        self._interrupt_delays()
        self.socket_mode = None
        self.state.reset()

    def attach_socket_mode(self, server: SocketModeServer | None) -> None:
        """Answer ``apps.connections.open`` with URLs of ``server`` (``None`` detaches)."""
        self.socket_mode = server

    def _interrupt_delays(self) -> None:
        with self._generation_lock:
            self.generation += 1
            self._wakeup.set()
            self._wakeup = threading.Event()

    def sleep(self, seconds: float, generation: int) -> bool:
        """Wait out a scripted delay; ``False`` if a reset or stop came first."""
        with self._generation_lock:
            if generation != self.generation:
                return False
            wakeup = self._wakeup
        wakeup.wait(seconds)
        return generation == self.generation

    # --- addresses -----------------------------------------------------------------------------

    @property
    def origin(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeSlackApi is not running")
        host, port = self._server.server_address[:2]
        assert isinstance(host, str)  # an AF_INET server's address: (str, int)
        return f"http://{host}:{port}"

    @property
    def url(self) -> str:
        """The Web API base URL (``SLACK_API_URL``), ending in ``/api/``."""
        return f"{self.origin}/api/"

    def response_url(
        self, *, channel: str, user: str | None = None, message_ts: str | None = None
    ) -> str:
        """A working response_url for a command or click by ``user`` in ``channel``
        (``message_ts``: the message a click came from, for ``replace_original``)."""
        url_id = self.state.register_response_url(channel=channel, user=user, message_ts=message_ts)
        return f"{self.origin}/response/{url_id}"

    # --- the state, for tests ------------------------------------------------------------------

    @property
    def calls(self) -> list[Call]:
        return self.state.calls

    def calls_to(self, method: str) -> list[Call]:
        return self.state.calls_to(method)

    def messages(self, channel: str) -> list[dict[str, Any]]:
        return self.state.messages(channel)

    def ephemerals(self, user: str | None = None) -> list[Ephemeral]:
        return self.state.ephemerals(user)

    def response_posts(self) -> list[ResponsePost]:
        return self.state.response_posts()

    def files(self) -> list[UploadedFile]:
        return self.state.files()

    def views(self) -> list[dict[str, Any]]:
        return self.state.views()

    def wait_for(self, predicate: Callable[[], T], timeout: float = 5.0) -> T:
        return self.state.wait_for(predicate, timeout)

    def fail_next(
        self,
        method: str,
        *,
        status: int | None = None,
        error: str | None = None,
        retry_after: int | None = None,
        delay: float = 0.0,
        count: int = 1,
    ) -> None:
        self.state.fail_next(
            method, status=status, error=error, retry_after=retry_after, delay=delay, count=count
        )

    def expect_only(self, methods: Iterable[str] | None) -> None:
        self.state.expect_only(None if methods is None else set(methods))

    def take_unexpected(self) -> list[Call]:
        return self.state.take_unexpected()

    def take_invalid(self) -> list[InvalidBlocks]:
        return self.state.take_invalid()

    def take_surprises(self) -> list[str]:
        """Consume unexpected calls and refused blocks, described for a test failure."""
        problems = [f"unexpected call: {c.method} {c.body}" for c in self.take_unexpected()]
        problems += [f"invalid blocks in {f.method}: {f.errors}" for f in self.take_invalid()]
        return problems

    def add_user(self, user_id: str, *, name: str, **fields: Any) -> None:
        self.state.add_user(user_id, name=name, **fields)

    def add_channel(self, name: str, **fields: Any) -> str:
        return self.state.add_channel(name, **fields)

    def add_usergroup(self, usergroup_id: str, *, handle: str, users: Iterable[str]) -> None:
        self.state.add_usergroup(usergroup_id, handle=handle, users=users)
