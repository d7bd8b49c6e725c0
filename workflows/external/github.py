"""``POST /hooks/github``, from raw bytes to a committed effect.

Order: the hook must be configured (404), the ``X-Hub-Signature-256`` HMAC must match
one of the configured secrets (401), and only then is the body parsed (400). The
delivery (``X-GitHub-Delivery``) is claimed in the same transaction as its effect, so a
redelivery, or the same delivery reaching two replicas, changes nothing the second time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

from workflows import boundary
from workflows.alerts.model import BadPayload, Unauthorized
from workflows.alerts.parsers import decode_json
from workflows.clock import Clock
from workflows.config import ShipbotConfig
from workflows.config.hooks import GithubHooks
from workflows.delivery import claim_delivery
from workflows.deploys.models import DeployState
from workflows.errors import DuplicateDelivery
from workflows.external import releases
from workflows.external.ci import WorkflowRun, record_workflow_run
from workflows.external.common import (
    require_config,
    required,
    service_for_repository,
    signature_matches,
    text,
)
from workflows.external.common import timestamp as parse_time
from workflows.external.deploys import ExternalDeploy, record_external, started_by_shipbot
from workflows.store.db import Database

SIGNATURE_HEADER = "x-hub-signature-256"
DELIVERY_HEADER = "x-github-delivery"
EVENT_HEADER = "x-github-event"

# GitHub deployment status -> the deploy's state; the others say nothing new.
DEPLOYMENT_STATES = {
    "in_progress": DeployState.running,
    "queued": DeployState.running,
    "pending": DeployState.running,
    "success": DeployState.succeeded,
    "failure": DeployState.failed,
    "error": DeployState.failed,
}


@dataclass(frozen=True)
class GithubOutcome:
    event: str
    result: str  # what it did: "failing", "fixed", "recorded", "announced", "ignored", ...
    duplicate: bool = False

    def body(self) -> dict[str, Any]:
        return {
            "ok": True,
            "source": "github",
            "event": self.event,
            "result": self.result,
            "duplicate": self.duplicate,
        }


def authenticate(hooks: GithubHooks, body: bytes, headers: Mapping[str, str]) -> None:
    """``X-Hub-Signature-256: sha256=<hex>`` by any configured secret (rotation)."""
    presented = headers.get(SIGNATURE_HEADER, "").strip()
    if not presented.startswith("sha256="):
        raise Unauthorized("missing or wrong X-Hub-Signature-256")
    if not signature_matches(hooks.all_secrets(), body, presented.removeprefix("sha256=")):
        raise Unauthorized("missing or wrong X-Hub-Signature-256")


def _small_number(text: str) -> bool:
    return text.isascii() and text.isdigit() and boundary.fits_id(int(text))


def _workflow_run(config: ShipbotConfig, service: str, repo: str, payload: Any) -> WorkflowRun:
    run = payload.get("workflow_run")
    if not isinstance(run, Mapping):
        raise BadPayload("workflow_run is missing")
    number = text(run, "run_number", default="0")
    return WorkflowRun(
        service=service,
        repository=repo,
        workflow=text(run, "name") or text(payload, "workflow", "name") or "workflow",
        branch=required(run, "head_branch"),
        conclusion=text(run, "conclusion"),
        run_number=int(number) if _small_number(number) else 0,
        url=text(run, "html_url"),
        head_sha=text(run, "head_sha")[:40],
        actor=text(run, "actor", "login") or text(payload, "sender", "login"),
    )


def deployment_event(
    config: ShipbotConfig,
    hooks: GithubHooks,
    service: str,
    deployment: Any,
    status: str,
    *,
    url: str = "",
    finished: str = "",
) -> ExternalDeploy | None:
    """A GitHub deployment (webhook or API) as an external deploy; None when it is not
    one to record (shipbot's own, an unknown status or environment)."""
    payload = deployment.get("payload") if isinstance(deployment, Mapping) else None
    if isinstance(payload, Mapping) and "shipbot_deploy_id" in payload:
        return None  # shipbot created it (workflows.changes.github_deployments)
    state = DEPLOYMENT_STATES.get(status)
    environment = hooks.environment(required(deployment, "environment"))
    if state is None or environment not in config.environments_for(service):
        return None
    at = parse_time(text(deployment, "created_at"))
    if at is None:
        raise BadPayload("deployment.created_at is not a time")
    return ExternalDeploy(
        source="github",
        external_id=required(deployment, "id"),
        service=service,
        environment=environment,
        version=text(deployment, "ref") or text(deployment, "sha")[:12] or "unknown",
        state=state,
        actor=text(deployment, "creator", "login") or "github",
        at=at,
        finished_at=parse_time(finished) if state != DeployState.running else None,
        url=url or None,
    )


def _apply(session: Session, clock: Clock, config: ShipbotConfig, event: str, payload: Any) -> str:
    hooks = config.hooks.github
    assert hooks is not None
    repo = required(payload, "repository", "full_name")
    service = service_for_repository(config, repo)
    if service is None:
        return "unmapped repository"
    action = text(payload, "action")
    if event == "workflow_run" and action == "completed":
        run = _workflow_run(config, service, repo, payload)
        if run.branch not in hooks.branches:
            return "ignored"
        return record_workflow_run(session=session, clock=clock, config=config, run=run)
    if event == "deployment_status":
        status = payload.get("deployment_status")
        found = deployment_event(
            config,
            hooks,
            service,
            payload.get("deployment"),
            text(status, "state"),
            url=text(status, "target_url") or text(status, "log_url"),
            finished=text(status, "created_at"),
        )
        if found is None or started_by_shipbot(
            session=session,
            service=service,
            environment=found.environment,
            version=found.version,
            at=found.at,
        ):
            return "ignored"
        recorded = record_external(session=session, clock=clock, config=config, event=found)
        return "recorded" if recorded.changed else "unchanged"
    if event == "release" and action == "published":
        return releases.announce(
            session=session,
            clock=clock,
            config=config,
            service=service,
            repository=repo,
            payload=payload,
        )
    return "ignored"


def receive_github(
    *,
    database: Database,
    clock: Clock,
    config: ShipbotConfig | None,
    body: bytes,
    headers: Mapping[str, str],
) -> GithubOutcome:
    """Authenticate, parse and apply one delivery (``headers``: lower-case names). Raises
    a ``HookRejected`` before anything is written."""
    config = require_config(config, "github")
    assert config.hooks.github is not None
    authenticate(config.hooks.github, body, headers)
    event = boundary.clean_text(headers.get(EVENT_HEADER, "")).strip()
    delivery = headers.get(DELIVERY_HEADER, "").strip()
    if not event or not delivery or len(delivery) > 100:
        raise BadPayload("X-GitHub-Event and X-GitHub-Delivery are required")
    if boundary.clean_text(delivery) != delivery:
        # Refused, not cleaned: a cleaned id could equal another delivery's and be
        # dropped as its repeat (and PostgreSQL refuses a NUL in the deliveries table).
        raise BadPayload("X-GitHub-Delivery holds control characters")
    payload = decode_json(body)
    if not isinstance(payload, Mapping):
        raise BadPayload("the body is not a JSON object")
    if event == "ping":
        return GithubOutcome(event=event, result="pong")
    try:
        with database.transaction() as session:
            claim_delivery(session=session, clock=clock, key=f"github:{delivery}", source="github")
            result = _apply(session, clock, config, event, payload)
    except DuplicateDelivery:
        return GithubOutcome(event=event, result="duplicate delivery", duplicate=True)
    return GithubOutcome(event=event, result=result)
