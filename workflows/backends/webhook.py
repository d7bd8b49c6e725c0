"""The ``webhook`` backend: POST the deploy to a URL, signed, and optionally follow it.

Request (``start``)::

    POST <url>
    Content-Type: application/json
    X-Shipbot-Timestamp: <unix seconds>
    X-Shipbot-Signature: sha256=<hex HMAC-SHA256(secret, "v1:<timestamp>:<raw body>")>
    Idempotency-Key: shipbot-deploy-<deploy_id>

    {"deploy_id": 42, "environment": "production", "reason": "...",
     "requested_by": "U123", "service": "web", "version": "1.2.3"}

A 2xx accepts the deploy; its JSON body may carry ``status_url``, ``logs_url`` and
``id``. With a status URL (from the response, else the config; ``{deploy_id}`` and
``{id}`` are substituted) ``poll`` GETs it, signed the same way over an empty body, and
expects ``{"status": "running|succeeded|failed|cancelled", "detail"?, "logs_url"?}``.
Without one the deploy has succeeded once accepted.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urljoin

from workflows.backends import _http
from workflows.backends.base import (
    BackendError,
    BackendPorts,
    DeployTarget,
    Progress,
    Started,
    Status,
)
from workflows.backends.settings import WebhookBackend
from workflows.redact import redact_text, register_secret

SIGNATURE_HEADER = "X-Shipbot-Signature"
TIMESTAMP_HEADER = "X-Shipbot-Timestamp"

_STATUSES = {
    "pending": Status.running,
    "queued": Status.running,
    "running": Status.running,
    "in_progress": Status.running,
    "succeeded": Status.succeeded,
    "success": Status.succeeded,
    "failed": Status.failed,
    "failure": Status.failed,
    "error": Status.failed,
    "cancelled": Status.cancelled,
    "canceled": Status.cancelled,
}


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Shipbot-Signature`` value for ``body`` sent at ``timestamp``."""
    message = f"v1:{timestamp}:".encode() + body
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


class WebhookDeployBackend:
    """Hands the deploy to an HTTP endpoint; see the module docstring for the protocol."""

    name = "webhook"

    def __init__(self, config: WebhookBackend, *, ports: BackendPorts) -> None:
        self.config = config
        self.ports = ports
        register_secret(config.secret)

    def _headers(self, body: bytes, target: DeployTarget) -> dict[str, str]:
        timestamp = int(self.ports.clock.now().timestamp())
        return {
            "Content-Type": "application/json",
            "User-Agent": "shipbot",
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(self.config.secret.get_secret_value(), timestamp, body),
            "Idempotency-Key": f"shipbot-deploy-{target.deploy_id}",
        }

    def start(self, target: DeployTarget) -> Started:
        payload = {
            "deploy_id": target.deploy_id,
            "service": target.service,
            "environment": target.environment,
            "version": target.version,
            "requested_by": target.requested_by,
            "reason": target.reason,
        }
        body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
        with self.ports.http() as client:
            response = client.post(
                self.config.url, content=body, headers=self._headers(body, target)
            )
        _http.check(response, what="webhook refused the deploy")
        answer = _http.optional_json_object(response)
        external_id = answer.get("id")
        external_id = str(external_id) if external_id not in (None, "") else None
        status_url = answer.get("status_url") or self.config.status_url
        if status_url:
            status_url = self._substitute(str(status_url), target, external_id)
            # A relative status URL in the answer is relative to the webhook's URL.
            status_url = urljoin(self.config.url, status_url)
        logs_url = _string(answer.get("logs_url"))
        state = {"status_url": status_url, "logs_url": logs_url, "external_id": external_id}
        return Started(state=state, logs_url=logs_url)

    @staticmethod
    def _substitute(url: str, target: DeployTarget, external_id: str | None) -> str:
        url = url.replace("{deploy_id}", str(target.deploy_id))
        if external_id is not None:
            url = url.replace("{id}", quote(external_id, safe=""))
        return url

    def poll(self, target: DeployTarget, state: Mapping[str, Any]) -> Progress:
        status_url = state.get("status_url")
        logs_url = state.get("logs_url")
        if not status_url:
            return Progress(
                status=Status.succeeded,
                detail="accepted by the webhook (no status URL to follow)",
                logs_url=logs_url,
            )
        with self.ports.http() as client:
            response = client.get(status_url, headers=self._headers(b"", target))
        _http.check(response, what="webhook status URL")
        answer = _http.json_object(response, what="webhook status URL")
        raw = str(answer.get("status", "")).strip().lower()
        status = _STATUSES.get(raw)
        if status is None:
            raise BackendError(
                "webhook status URL answered an unknown status "
                f"{redact_text(raw[:40])!r} (expected running, succeeded, failed or cancelled)"
            )
        detail = redact_text(str(answer.get("detail") or raw))[:300]
        new_logs_url = _string(answer.get("logs_url"))
        changed = new_logs_url and new_logs_url != logs_url
        return Progress(
            status=status,
            detail=detail,
            logs_url=new_logs_url or logs_url,
            state={**state, "logs_url": new_logs_url} if changed else None,
        )

    def cancel(self, target: DeployTarget, state: Mapping[str, Any]) -> bool:
        """The webhook protocol has no cancel: the receiver owns the deploy once accepted."""
        return False


def _string(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
