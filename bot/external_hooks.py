"""The CI/CD webhook endpoints: ``POST /hooks/github`` and ``POST /hooks/argocd`` (see
docs/notifications.md).

Like the alert hooks, the edge only bounds and reads the body; ``workflows.external``
authenticates, parses, deduplicates and stores it (in a thread). Answers: 200 with what
it did; 404 when the source is not configured; 413 above ``MAX_HOOK_BODY``; 401 bad
signature or token; 400 bad JSON or shape. A refusal writes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from bot.deps import Deps
from workflows.alerts.model import HookRejected
from workflows.clock import Clock
from workflows.config import ShipbotConfig
from workflows.external.argocd import receive_argocd
from workflows.external.common import require_config
from workflows.external.github import receive_github
from workflows.store.db import Database

log = logging.getLogger("shipbot.hooks")


class Outcome(Protocol):
    def body(self) -> dict[str, Any]: ...


class Receiver(Protocol):
    def __call__(
        self,
        *,
        database: Database,
        clock: Clock,
        config: ShipbotConfig | None,
        body: bytes,
        headers: Mapping[str, str],
    ) -> Outcome: ...


RECEIVERS: dict[str, Receiver] = {"github": receive_github, "argocd": receive_argocd}


def build_external_hook_routes(deps: Deps, *, max_body: int) -> list[BaseRoute]:
    """One route per CI/CD source, on ``deps``' database, clock and config."""
    from bot.hooks import read_bounded  # the same body bound as the alert hooks

    def endpoint(source: str, receive: Receiver) -> Callable[[Request], object]:
        route = f"/hooks/{source}"

        async def hook(request: Request) -> Response:
            status = "200"
            try:
                require_config(deps.config, source)  # 404 before the body is read
                body = await read_bounded(request, max_body)
                headers = {name.lower(): value for name, value in request.headers.items()}
                outcome = await run_in_threadpool(
                    lambda: receive(
                        database=deps.database,
                        clock=deps.clock,
                        config=deps.config,
                        body=body,
                        headers=headers,
                    )
                )
            except HookRejected as refused:
                log.info("%s refused (%s): %s", route, refused.status, refused.message)
                status = str(refused.status)
                answer = JSONResponse(
                    {"ok": False, "error": refused.message}, status_code=refused.status
                )
            except Exception:
                log.exception("%s failed", route)
                status = "500"
                answer = JSONResponse({"ok": False, "error": "internal error"}, status_code=500)
            else:
                deps.wake_worker()
                answer = JSONResponse(outcome.body())
            deps.metrics.http_requests.labels(route=route, status=status).inc()
            return answer

        return hook

    return [
        Route(f"/hooks/{source}", endpoint(source, receive), methods=["POST"])
        for source, receive in RECEIVERS.items()
    ]
