"""The HTTP surface: the Slack endpoint, health, readiness and metrics (Starlette + uvicorn).

Bolt's dispatch is synchronous; it runs in a thread pool so one slow request never stalls
the event loop or the other requests being acknowledged. The exception: with deferred acks,
a request that only stores its row is dispatched in the loop (bot/loop_lane.py).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

import anyio
import anyio.to_thread
from slack_bolt import App
from slack_bolt.request import BoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.signature import SignatureVerifier
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from bot.input_edge import shape_problem
from bot.loop_lane import LoopLane
from bot.metrics import Metrics
from workflows import boundary
from workflows.store.db import Database

log = logging.getLogger("shipbot.http")

MAX_SLACK_BODY = 1024 * 1024  # Slack payloads are far smaller; bigger is not from Slack.


# After a burst (two or more requests in flight at once), how long none must have been
# before the worker claims a job. Within a burst, the moments with none in flight are a
# client's gap between reading one ack and sending the next; a job claimed in such a gap
# shares the GIL with the rest of the burst (docs/performance.md, ninth pass). Requests
# that come one at a time hold no job back beyond their own answering, so a steady
# trickle of them cannot slow the jobs down to one per thread per give-way cap.
QUIET_AFTER_ACKS = 0.1


class InFlight:
    """How many requests from outside (Slack's, webhooks) this process is answering right
    now. The worker waits until none is in flight, and after a burst until none has been
    for ``quiet`` seconds, before it claims a job, a while at most
    (``Worker(acks_in_flight=...)``); only the event loop writes it, entering and leaving
    ``with in_flight:`` around each one."""

    def __init__(self, quiet: float = QUIET_AFTER_ACKS) -> None:
        self.count = 0
        self.quiet = quiet
        self._none = threading.Event()
        self._none.set()
        self._last_crowded = float("-inf")  # monotonic time two or more were last in flight

    def __enter__(self) -> InFlight:
        self.count += 1
        self._none.clear()
        if self.count > 1:
            self._last_crowded = time.monotonic()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.count -= 1
        if self.count > 0:
            self._last_crowded = time.monotonic()  # this one shared the time with others
        else:
            self._none.set()

    def wait_until_quiet(self, timeout: float) -> bool:
        """Block until none is in flight and none has been crowded for ``quiet`` seconds
        (True, at once if so already) or until ``timeout`` seconds have passed (False). A
        worker thread sleeps here instead of polling, so a burst of acks is not
        interrupted by its wake-ups."""
        deadline = time.monotonic() + timeout
        while self._none.wait(max(deadline - time.monotonic(), 0)):
            since = time.monotonic() - self._last_crowded
            if since >= self.quiet and self.count == 0:
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(max(self.quiet - since, 0.001), left))
        return False


ReadinessCheck = Callable[[], tuple[bool, dict[str, Any]]]
"""A further condition of /readyz: (ready, details merged into the answer)."""


def _slack_kind(body: bytes, content_type: str) -> str:
    if content_type.startswith("application/json"):
        return "event"
    if body.startswith(b"payload="):
        return "interactive"
    if b"command=" in body:
        return "command"
    return "other"


def signed_by_slack(verifier: SignatureVerifier, body: bytes, headers: Mapping[str, str]) -> bool:
    """slack_sdk's ``v0`` check over the raw bytes (five minutes of clock skew at most).
    It raises on junk no Slack request carries (a timestamp that is not a number, a body
    that is not UTF-8, a signature that is not ASCII): that is a failed check, not a 500."""
    try:
        return verifier.is_valid_request(body, headers)
    except (ValueError, TypeError):
        return False


def parse_slack_request(
    body: bytes, *, query: str, headers: dict[str, str | Sequence[str]]
) -> BoltRequest | None:
    """The request as Bolt sees it, or None when the body is not a Slack payload (bad
    JSON, a JSON value that is not an object, bytes that are not UTF-8). Raises
    ``InputRejected`` for JSON nested deeper than the boundary allows."""
    try:
        request = BoltRequest(body=body.decode("utf-8"), query=query, headers=headers)
    except RecursionError:
        raise boundary.InputRejected(
            f"the JSON nests deeper than {boundary.MAX_JSON_DEPTH} levels"
        ) from None
    except (UnicodeDecodeError, ValueError, TypeError, AttributeError):
        return None
    if not isinstance(request.body, dict):
        return None
    boundary.clean_tree(request.body)  # the depth check; the middleware cleans the strings
    problem = shape_problem(request.body)
    if problem is not None:  # before Bolt, which indexes into these objects
        raise boundary.InputRejected(problem)
    return request


def _bolt_request(body: bytes, request: Request) -> BoltRequest | None:
    headers: dict[str, str | Sequence[str]] = {
        key: [value] for key, value in request.headers.items()
    }
    return parse_slack_request(body, query=request.url.query, headers=headers)


def _slack_events_route(
    *,
    bolt_app: App,
    signing_secret: str,
    metrics: Metrics,
    in_flight: InFlight,
    loop_lane: LoopLane | None,
) -> Route:
    """``POST /slack/events``: size, signature and shape checked, then Bolt in a thread
    (or in the event loop, for what ``loop_lane`` takes)."""
    verifier = SignatureVerifier(signing_secret)

    async def dispatch(bolt_request: BoltRequest, body: bytes, request: Request) -> BoltResponse:
        if loop_lane is not None and loop_lane.takes(bolt_request):
            answered = await loop_lane.dispatch(bolt_request)
            if answered is not None:
                return answered
            # Its listener needs a thread; the first try changed the request (context,
            # cleaned strings), so Bolt gets it afresh from the same bytes.
            again = _bolt_request(body, request)
            if again is None:  # the same bytes parsed a moment ago
                raise RuntimeError("a Slack request parsed once did not parse again")
            bolt_request = again
        return await run_in_threadpool(bolt_app.dispatch, bolt_request)

    def refused(status: int, error: str) -> Response:
        metrics.http_requests.labels(route="/slack/events", status=str(status)).inc()
        return JSONResponse({"error": error}, status_code=status)

    async def slack_events(request: Request) -> Response:
        started = time.perf_counter()
        body = await request.body()
        if len(body) > MAX_SLACK_BODY:
            return refused(413, "request body too large")
        # Signature first, so an unsigned prober learns nothing about body parsing. This is
        # the only check: Bolt's own is off (bot/app.py).
        if not signed_by_slack(verifier, body, request.headers):
            return refused(401, "invalid request signature")
        try:
            bolt_request = _bolt_request(body, request)
        except boundary.InputRejected as rejected:
            return refused(400, rejected.message)
        if bolt_request is None:
            return refused(400, "malformed request body")
        with in_flight:
            bolt_response = await dispatch(bolt_request, body, request)
        response = Response(
            content=bolt_response.body,
            status_code=bolt_response.status,
            headers=bolt_response.first_headers_without_set_cookie(),
        )
        kind = _slack_kind(body, request.headers.get("content-type", ""))
        metrics.ack_seconds.labels(kind=kind).observe(time.perf_counter() - started)
        metrics.http_requests.labels(route="/slack/events", status=str(response.status_code)).inc()
        return response

    return Route("/slack/events", slack_events, methods=["POST"])


def readiness(database: Database, checks: Sequence[ReadinessCheck]) -> tuple[bool, dict[str, Any]]:
    """(ready, the answer's body): the database reachable and migrated, then each check."""
    try:
        database.ping()
    except Exception as error:  # any driver error means "not ready", with the reason
        return False, {
            "status": "unavailable",
            "database": f"unreachable: {type(error).__name__}",
        }
    current, head = database.current_revision(), database.head_revision()
    if current != head and (current is None or database.knows_revision(current)):
        return False, {
            "status": "unavailable",
            "database": "reachable",
            "migrations": f"at {current or 'none'}, need {head}: run `shipbot db upgrade`",
        }
    # A revision this release does not know is a newer release's: expand/contract
    # migrations keep this code working on it during a rolling upgrade.
    detail: dict[str, Any] = {"database": "reachable", "migrations": current}
    ready = True
    for check in checks:
        passed, more = check()
        ready = ready and passed
        detail.update(more)
    return ready, {"status": "ready" if ready else "unavailable", **detail}


def _health_routes(*, database: Database, checks: Sequence[ReadinessCheck]) -> list[BaseRoute]:
    """``GET /healthz`` (the process answers) and ``GET /readyz`` (it can do work)."""

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> Response:
        ready, detail = await run_in_threadpool(readiness, database, checks)
        return JSONResponse(detail, status_code=200 if ready else 503)

    return [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
    ]


def _metrics_route(metrics: Metrics) -> Route:
    """``GET /metrics``: the Prometheus text format."""

    async def metrics_endpoint(_: Request) -> Response:
        payload = await run_in_threadpool(metrics.render)
        return PlainTextResponse(payload, media_type="text/plain; version=0.0.4; charset=utf-8")

    return Route("/metrics", metrics_endpoint, methods=["GET"])


def build_http_app(
    *,
    bolt_app: App,
    signing_secret: str,
    database: Database,
    metrics: Metrics,
    extra_routes: list[BaseRoute] | None = None,
    threads: int = 8,
    readiness_checks: Sequence[ReadinessCheck] = (),
    in_flight: InFlight | None = None,
    loop_lane: LoopLane | None = None,
) -> Starlette:
    """``readiness_checks`` is read at each probe, so a caller may add to a list it passed
    after building the app (socket mode connects after the app exists)."""
    routes: list[BaseRoute] = [
        _slack_events_route(
            bolt_app=bolt_app,
            signing_secret=signing_secret,
            metrics=metrics,
            in_flight=in_flight if in_flight is not None else InFlight(),
            loop_lane=loop_lane,
        ),
        *_health_routes(database=database, checks=readiness_checks),
        _metrics_route(metrics),
        *(extra_routes or []),
    ]

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        # Each request in flight holds one pool thread while Bolt runs; anyio's default
        # of 40 would queue acks behind one another under a burst.
        anyio.to_thread.current_default_thread_limiter().total_tokens = threads
        yield

    return Starlette(routes=routes, lifespan=lifespan)
