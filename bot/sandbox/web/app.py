"""The browser sandbox's HTTP side: the page, its JSON API and uploaded files.

A small Starlette app served on its own loopback port (``shipbot dev`` prints its URL).
The page never talks to the bot itself: it POSTs what the person did to this app,
which signs and forwards it as Slack would (``SlackFrontend``). Live updates are a long
poll: ``GET /api/state?since=N`` answers as soon as the workspace's version passes N
(every change to the emulator bumps it), or after ``POLL_SECONDS`` with nothing new.

Routes: ``GET /`` (the page), ``GET /static/{app.js,app.css}``, ``GET /api/workspace``,
``GET /api/state``, ``POST /api/command``, ``POST /api/click``, ``POST /api/view/submit``,
``POST /api/view/close``, ``POST /api/alert``, ``GET /files/{id}``; the App Home and
shortcuts: ``POST /api/home`` (open it), ``POST /api/home/click``, ``POST /api/shortcut``
(``bot.sandbox.web.surfaces``), and ``GET /api/state?home=1`` shows the Home.
"""

from __future__ import annotations

import mimetypes
import threading
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from bot.sandbox.web import surfaces
from bot.sandbox.web.alert_example import AlertStatus, alertmanager_payload, curl_command
from bot.sandbox.web.frontend import SandboxError, SlackFrontend
from bot.sandbox.web.page_state import is_text_file, page_state

STATIC = Path(__file__).resolve().parent / "static"
STATIC_FILES = {"app.js": "text/javascript", "app.css": "text/css"}
POLL_SECONDS = 20.0
# Images in messages come from anywhere (Block Kit image_url); nothing else may.
CSP = (
    "default-src 'self'; img-src * data:; script-src 'self'; style-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'"
)
_LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")
_SAFE_IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")

Endpoint = Callable[[Request], Awaitable[Response]]


class SandboxPage:
    """The page's state and routes for one sandbox (one workspace, one bot)."""

    def __init__(
        self,
        frontend: SlackFrontend,
        *,
        channel_order: list[str],
        alert_token: str | None = None,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        self.frontend = frontend
        self.state = frontend.state
        self.channel_order = channel_order
        self.alert_token = alert_token
        self.poll_seconds = poll_seconds
        self._closing = threading.Event()
        self._alert_started: str | None = None

    def close(self) -> None:
        """Answer every waiting long poll now (before the server stops)."""
        self._closing.set()
        self.state.changed()

    # --- plumbing --------------------------------------------------------------------------

    def app(self) -> Starlette:
        guarded = self._guarded
        return Starlette(
            routes=[
                Route("/", guarded(self.index)),
                Route("/static/{name}", guarded(self.static)),
                Route("/files/{file_id}", guarded(self.file)),
                Route("/api/workspace", guarded(self.workspace)),
                Route("/api/state", guarded(self.page)),
                Route("/api/command", guarded(self.command), methods=["POST"]),
                Route("/api/click", guarded(self.click), methods=["POST"]),
                Route("/api/view/submit", guarded(self.submit), methods=["POST"]),
                Route("/api/view/close", guarded(self.close_view), methods=["POST"]),
                Route("/api/alert", guarded(self.alert), methods=["POST"]),
                Route("/api/home", guarded(self.open_home), methods=["POST"]),
                Route("/api/home/click", guarded(self.click_home), methods=["POST"]),
                Route("/api/shortcut", guarded(self.shortcut), methods=["POST"]),
            ]
        )

    def _guarded(self, endpoint: Endpoint) -> Endpoint:
        """Only this machine's browser may drive the sandbox: the Host must be loopback
        (no DNS rebinding), and a POST must be JSON from this origin (a cross-site form
        cannot send that without a CORS preflight, which this app never grants)."""

        async def guarded(request: Request) -> Response:
            host = request.headers.get("host", "").rsplit(":", 1)[0]
            if host not in _LOOPBACK_HOSTS:
                return JSONResponse({"ok": False, "error": "forbidden host"}, status_code=403)
            if request.method == "POST":
                content_type = request.headers.get("content-type", "").split(";")[0].strip()
                origin = request.headers.get("origin")
                if content_type != "application/json" or (
                    origin is not None and origin.split("//", 1)[-1] != request.headers["host"]
                ):
                    return JSONResponse({"ok": False, "error": "forbidden"}, status_code=403)
            try:
                response = await endpoint(request)
            except SandboxError as error:
                response = JSONResponse({"ok": False, "error": str(error)}, status_code=400)
            except (ValueError, KeyError, TypeError) as error:
                response = JSONResponse(
                    {"ok": False, "error": f"bad request: {error}"}, status_code=400
                )
            response.headers.setdefault("Content-Security-Policy", CSP)
            response.headers.setdefault("X-Content-Type-Options", "nosniff")
            response.headers.setdefault("Cache-Control", "no-store")
            return response

        return guarded

    @staticmethod
    async def _json(request: Request) -> dict[str, Any]:
        body = await request.json()
        if not isinstance(body, dict):
            raise ValueError("expected a JSON object")
        return body

    @staticmethod
    def _text(body: dict[str, Any], name: str, *, required: bool = True) -> str:
        value = body.get(name)
        if value is None and not required:
            return ""
        if not isinstance(value, str) or (required and not value):
            raise ValueError(f"{name} must be a non-empty string")
        return value

    # --- the page --------------------------------------------------------------------------

    async def index(self, request: Request) -> Response:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    async def static(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name not in STATIC_FILES:
            return Response("not found", status_code=404)
        return FileResponse(STATIC / name, media_type=STATIC_FILES[name])

    async def workspace(self, request: Request) -> Response:
        directory = self.frontend.directory()
        users = []
        with self.state.lock:
            for user_id, user in self.state.data.users.items():
                if not user.get("is_bot"):
                    users.append({"id": user_id, "name": user["name"], "label": user["real_name"]})
        token = self.alert_token
        return JSONResponse(
            {
                "users": users,
                "channels": directory.channels,
                "bot_url": self.frontend.app_url,
                "alerts": token is not None,
                "alert_curl": curl_command(bot_url=self.frontend.app_url, token=token)
                if token
                else None,
            }
        )

    async def page(self, request: Request) -> Response:
        params = request.query_params
        user = params.get("user", "")
        since = params.get("since")
        self.frontend.require_user(user)
        if since is not None and since.isdigit() and not self._closing.is_set():
            await run_in_threadpool(self.state.wait_for_change, int(since), self.poll_seconds)
        shown = page_state(
            self.state,
            user=user,
            channel=params.get("channel") or None,
            directory=self.frontend.directory(),
            channel_order=self.channel_order,
        )
        if params.get("home"):
            shown["home"] = surfaces.home_state(self.frontend, user=user)
        return JSONResponse(shown)

    async def file(self, request: Request) -> Response:
        with self.state.lock:
            uploaded = self.state.data.files.get(request.path_params["file_id"])
            content = uploaded.content if uploaded and uploaded.completed else None
            name = uploaded.filename if uploaded else ""
        if content is None:
            return Response("file not found", status_code=404, media_type="text/plain")
        guessed = mimetypes.guess_type(name)[0] or ""
        # Never served as HTML or SVG: an uploaded file must not run script on this origin.
        if is_text_file(name, guessed):
            media_type = "text/plain; charset=utf-8"
        elif guessed in _SAFE_IMAGE_TYPES:
            media_type = guessed
        else:
            media_type = "application/octet-stream"
        return Response(
            content,
            media_type=media_type,
            headers={"Content-Disposition": f'inline; filename="{name.replace(chr(34), "")}"'},
        )

    # --- what people do ------------------------------------------------------------------

    async def command(self, request: Request) -> Response:
        body = await self._json(request)
        user, channel = self._text(body, "user"), self._text(body, "channel")
        text = self._text(body, "text").strip()
        if text.startswith("/"):
            outcome = await run_in_threadpool(
                self.frontend.slash_command, user=user, channel=channel, line=text
            )
            return JSONResponse({"ok": True, "status": outcome.status})
        thread_ts = self._text(body, "thread_ts", required=False) or None
        await run_in_threadpool(
            self.frontend.post_message, user=user, channel=channel, text=text, thread_ts=thread_ts
        )
        return JSONResponse({"ok": True})

    async def click(self, request: Request) -> Response:
        body = await self._json(request)
        outcome = await run_in_threadpool(
            self.frontend.click,
            user=self._text(body, "user"),
            path=self._text(body, "path"),
            action_id=self._text(body, "action_id"),
            channel=self._text(body, "channel", required=False) or None,
            ts=self._text(body, "ts", required=False) or None,
            ephemeral=bool(body.get("ephemeral")),
            view_id=self._text(body, "view_id", required=False) or None,
        )
        return JSONResponse({"ok": True, "status": outcome.status})

    async def submit(self, request: Request) -> Response:
        body = await self._json(request)
        values = body.get("values") or {}
        if not isinstance(values, dict):
            raise ValueError("values must be an object")
        outcome = await run_in_threadpool(
            self.frontend.submit_view,
            user=self._text(body, "user"),
            view_id=self._text(body, "view_id"),
            entered=values,
        )
        return JSONResponse({"ok": not outcome.errors, "errors": outcome.errors})

    async def close_view(self, request: Request) -> Response:
        body = await self._json(request)
        await run_in_threadpool(
            self.frontend.close_view,
            user=self._text(body, "user"),
            view_id=self._text(body, "view_id"),
        )
        return JSONResponse({"ok": True})

    async def alert(self, request: Request) -> Response:
        """Send the example Alertmanager webhook to the bot, as the docs' curl does."""
        body = await self._json(request)
        status: AlertStatus = "resolved" if body.get("status") == "resolved" else "firing"
        if self.alert_token is None:
            raise SandboxError("the config has no alertmanager source with a bearer token")
        if status == "firing" or self._alert_started is None:
            self._alert_started = datetime.now(UTC).isoformat(timespec="seconds")
        payload = alertmanager_payload(status=status, starts_at=self._alert_started)
        try:
            async with httpx.AsyncClient(base_url=self.frontend.app_url, timeout=10) as client:
                answer = await client.post(
                    "/hooks/alertmanager",
                    json=payload,
                    headers={"Authorization": f"Bearer {self.alert_token}"},
                )
        except httpx.HTTPError as error:
            raise SandboxError(f"the app did not answer ({error.__class__.__name__})") from error
        return JSONResponse(
            {"ok": answer.status_code == 200, "status": answer.status_code, "answer": answer.text}
        )

    async def open_home(self, request: Request) -> Response:
        body = await self._json(request)
        user = self._text(body, "user")
        outcome = await run_in_threadpool(surfaces.open_home, self.frontend, user=user)
        return JSONResponse({"ok": True, "status": outcome.status})

    async def click_home(self, request: Request) -> Response:
        body = await self._json(request)
        outcome = await run_in_threadpool(
            surfaces.click_home,
            self.frontend,
            user=self._text(body, "user"),
            path=self._text(body, "path"),
            action_id=self._text(body, "action_id"),
        )
        return JSONResponse({"ok": True, "status": outcome.status})

    async def shortcut(self, request: Request) -> Response:
        body = await self._json(request)
        outcome = await run_in_threadpool(
            surfaces.shortcut,
            self.frontend,
            user=self._text(body, "user"),
            callback_id=self._text(body, "callback_id"),
            channel=self._text(body, "channel", required=False) or None,
            ts=self._text(body, "ts", required=False) or None,
        )
        return JSONResponse({"ok": True, "status": outcome.status})


def build_web_app(page: SandboxPage) -> Starlette:
    return page.app()
