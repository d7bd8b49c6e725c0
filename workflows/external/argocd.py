"""``POST /hooks/argocd``: Argo CD notifications' webhook service.

The body is the JSON of the ``shipbot`` template in docs/notifications.md::

    {"app": "web-production", "revision": "<sha>", "phase": "Succeeded",
     "sync": "Synced", "health": "Healthy", "started_at": "<RFC 3339>",
     "finished_at": "<RFC 3339>", "initiated_by": "<user or automated>",
     "url": "<link to the app>"}

An application mapped to a service (``services.<name>.argocd_applications``) becomes an
external deploy with ``source=argocd`` and id ``<app>@<started_at>`` (the same id its
history entry has, so the import and the hook never record one sync twice). Auth is a
shared token (``auth: token``) or an HMAC of the body (``auth: hmac``); the delivery key
is the body's hash, so a notification sent twice is recorded once.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from workflows.alerts.auth import DEFAULT_HMAC_HEADER
from workflows.alerts.model import BadPayload, Unauthorized
from workflows.alerts.parsers import decode_json
from workflows.clock import Clock
from workflows.config import ShipbotConfig
from workflows.config.hooks import ArgocdHooks
from workflows.delivery import claim_delivery
from workflows.deploys.models import DeployState
from workflows.errors import DuplicateDelivery
from workflows.external.common import (
    body_key,
    require_config,
    required,
    service_for_application,
    signature_matches,
    text,
    timestamp,
)
from workflows.external.deploys import ExternalDeploy, record_external, started_by_shipbot
from workflows.store.db import Database


@dataclass(frozen=True)
class ArgocdOutcome:
    result: str
    duplicate: bool = False

    def body(self) -> dict[str, Any]:
        return {"ok": True, "source": "argocd", "result": self.result, "duplicate": self.duplicate}


def authenticate(hooks: ArgocdHooks, body: bytes, headers: Mapping[str, str]) -> None:
    if hooks.auth == "hmac":
        presented = headers.get((hooks.header or DEFAULT_HMAC_HEADER).lower(), "").strip()
        signature = presented.removeprefix("sha256=")
        if not signature or not signature_matches(hooks.all_secrets(), body, signature):
            raise Unauthorized("missing or wrong HMAC signature")
        return
    presented = headers.get((hooks.header or "authorization").lower(), "").strip()
    scheme, _, rest = presented.partition(" ")
    if scheme.lower() == "bearer":
        presented = rest.strip()
    matched = False
    for secret in hooks.all_secrets():  # every one, constant-time
        matched |= hmac.compare_digest(presented.encode(), secret.encode())
    if not presented or not matched:
        raise Unauthorized("missing or wrong token")


def state_of(phase: str, health: str) -> DeployState | None:
    """The deploy state a sync phase and health status mean; None: nothing to record."""
    if phase in ("Failed", "Error"):
        return DeployState.failed
    if phase in ("Running", "Terminating"):
        return DeployState.running
    if phase != "Succeeded":
        return None
    if health == "Healthy":
        return DeployState.succeeded
    if health in ("Degraded", "Missing"):
        return DeployState.failed
    return DeployState.running  # synced, not healthy yet (Progressing, Suspended, Unknown)


def sync_event(
    config: ShipbotConfig,
    *,
    app: str,
    revision: str,
    started: str,
    state: DeployState,
    actor: str,
    finished: str = "",
    url: str = "",
) -> ExternalDeploy | None:
    """One sync of an application as an external deploy; None if no service maps it."""
    mapped = service_for_application(config, app)
    at = timestamp(started)
    if mapped is None:
        return None
    if at is None:
        raise BadPayload("started_at is not a time")
    service, environment = mapped
    return ExternalDeploy(
        source="argocd",
        external_id=f"{app}@{at.isoformat()}",
        service=service,
        environment=environment,
        version=revision[:40] or "unknown",
        state=state,
        actor=actor or "argocd",
        at=at,
        finished_at=timestamp(finished) if state != DeployState.running else None,
        url=url or None,
    )


def receive_argocd(
    *,
    database: Database,
    clock: Clock,
    config: ShipbotConfig | None,
    body: bytes,
    headers: Mapping[str, str],
) -> ArgocdOutcome:
    config = require_config(config, "argocd")
    assert config.hooks.argocd is not None
    authenticate(config.hooks.argocd, body, headers)
    payload = decode_json(body)
    if not isinstance(payload, Mapping):
        raise BadPayload("the body is not a JSON object")
    state = state_of(text(payload, "phase"), text(payload, "health"))
    event = None
    if state is not None:
        event = sync_event(
            config,
            app=required(payload, "app"),
            revision=text(payload, "revision"),
            started=text(payload, "started_at"),
            state=state,
            actor=text(payload, "initiated_by"),
            finished=text(payload, "finished_at"),
            url=text(payload, "url"),
        )
    try:
        with database.transaction() as session:
            claim_delivery(
                session=session, clock=clock, key=body_key("argocd", body), source="argocd"
            )
            if event is None or started_by_shipbot(
                session=session,
                service=event.service,
                environment=event.environment,
                version=event.version,
                at=event.at,
            ):
                return ArgocdOutcome(result="ignored")
            recorded = record_external(session=session, clock=clock, config=config, event=event)
    except DuplicateDelivery:
        return ArgocdOutcome(result="duplicate delivery", duplicate=True)
    return ArgocdOutcome(result="recorded" if recorded.changed else "unchanged")
