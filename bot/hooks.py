"""The alert webhook endpoints: ``POST /hooks/<source>`` for alertmanager, grafana, sns,
pagerduty and generic (see docs/alerts.md).

The edge only bounds and reads the body; ``workflows.alerts.receive`` authenticates,
parses and stores it (in a thread, like Bolt's dispatch, so the event loop never waits on
the database). Answers: 200 with counts; 404 for a source not configured; 413 above
``MAX_HOOK_BODY`` (by Content-Length, or while reading a body without one); 401 bad
auth; 400 bad JSON or shape. A refusal writes nothing.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from bot.deps import Deps
from bot.external_hooks import build_external_hook_routes
from bot.http import InFlight
from workflows.alerts.model import SOURCES, HookRejected
from workflows.alerts.receive import HookOutcome, configured_source, receive
from workflows.alerts.sns import Fetcher, SigningCerts, https_get

log = logging.getLogger("shipbot.hooks")

MAX_HOOK_BODY = 1024 * 1024


class PayloadTooLarge(HookRejected):
    status = 413


class AlertMetrics:
    """Counters of alert intake, on the runtime's registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.received = Counter(
            "shipbot_alerts_received",
            "New alert notifications stored, by webhook source and status",
            ["source", "status"],
            registry=registry,
        )
        self.duplicates = Counter(
            "shipbot_alerts_duplicate",
            "Alert notifications received again (redeliveries), by webhook source",
            ["source"],
            registry=registry,
        )

    def count(self, outcome: HookOutcome) -> None:
        result = outcome.result
        if result is None:
            return
        for status in ("firing", "resolved", "acknowledged"):
            value = getattr(result, status)
            if value:
                self.received.labels(source=outcome.source, status=status).inc(value)
        if result.duplicates:
            self.duplicates.labels(source=outcome.source).inc(result.duplicates)


async def read_bounded(request: Request, limit: int) -> bytes:
    """The body, or ``PayloadTooLarge`` as soon as it is known to exceed ``limit``."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise HookRejected("invalid Content-Length")
        if int(declared) > limit:
            raise PayloadTooLarge(f"the body is larger than {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise PayloadTooLarge(f"the body is larger than {limit} bytes")
    return bytes(body)


def _receiver(deps: Deps) -> Callable[..., HookOutcome]:
    """``receive``, one request at a time on SQLite: it has one writer, so requests queue
    on a lock (handed over at once) instead of in its busy handler, which polls with
    sleeps of up to 100 ms. PostgreSQL takes concurrent intake as it comes."""
    one_writer = threading.Lock() if not deps.database.is_postgres else contextlib.nullcontext()

    def store(**arguments: Any) -> HookOutcome:
        with one_writer:
            return receive(**arguments)

    return store


async def _stored_in_thread(
    store: Callable[..., HookOutcome], in_flight: InFlight, **arguments: Any
) -> HookOutcome:
    """``store`` in the thread pool, counted in flight meanwhile: worker threads let it go
    first (``Worker(acks_in_flight=)``)."""
    with in_flight:
        return await run_in_threadpool(store, **arguments)


def build_hook_routes(
    deps: Deps,
    *,
    cert_fetcher: Fetcher = https_get,
    max_body: int = MAX_HOOK_BODY,
    metrics: AlertMetrics | None = None,
    in_flight: InFlight | None = None,
) -> list[BaseRoute]:
    """One ``POST /hooks/<source>`` route per alert source, on ``deps``' database, clock
    and config. ``cert_fetcher`` GETs SNS signing certificates (tests pass their own);
    ``in_flight`` counts the requests being stored, for the worker to let them go first."""
    answering = in_flight if in_flight is not None else InFlight()
    counters = metrics or AlertMetrics(deps.metrics.registry)
    certs = SigningCerts(cert_fetcher)
    store = _receiver(deps)

    def endpoint(source: str) -> Callable[[Request], object]:
        route = f"/hooks/{source}"

        async def hook(request: Request) -> Response:
            try:
                configured_source(deps.config, source)  # 404 before the body is read
                body = await read_bounded(request, max_body)
                headers = {name.lower(): value for name, value in request.headers.items()}
                outcome = await _stored_in_thread(
                    store,
                    answering,
                    database=deps.database,
                    clock=deps.clock,
                    config=deps.config,
                    source=source,
                    body=body,
                    headers=headers,
                    sns_certs=certs,
                )
            except HookRejected as refused:
                log.info("%s refused (%s): %s", route, refused.status, refused.message)
                deps.metrics.http_requests.labels(route=route, status=str(refused.status)).inc()
                return JSONResponse(
                    {"ok": False, "error": refused.message}, status_code=refused.status
                )
            except Exception:
                log.exception("%s failed", route)
                deps.metrics.http_requests.labels(route=route, status="500").inc()
                return JSONResponse({"ok": False, "error": "internal error"}, status_code=500)
            deps.wake_worker()
            counters.count(outcome)
            deps.metrics.http_requests.labels(route=route, status="200").inc()
            return JSONResponse(outcome.body())

        return hook

    alert_routes = [
        Route(f"/hooks/{source}", endpoint(source), methods=["POST"]) for source in SOURCES
    ]
    return [*alert_routes, *build_external_hook_routes(deps, max_body=max_body)]
