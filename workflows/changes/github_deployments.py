"""GitHub Deployments for services whose ``source`` says ``deployments: true``: each deploy
shows in the repository's environments view with its statuses.

shipbot's deploy states map to GitHub deployment statuses: requested or approved ->
``queued``, running -> ``in_progress``, succeeded -> ``success``, failed or cancelled ->
``failure``, rolled back -> ``inactive``. Each is a ``deploy.github_status`` job queued in
the transaction of the change (idempotency key: deploy and status), so Slack stays fast
and GitHub being down delays nothing. The job is safe to repeat: it finds the deployment
by the ``shipbot_deploy_id`` in its payload before creating one, and posts a status only
if the deployment's latest status differs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx
from sqlmodel import Session

from workflows.changes.github import github_headers
from workflows.clock import Clock
from workflows.config import ShipbotConfig
from workflows.config.sources import GithubSource
from workflows.deploys.models import SHIPBOT_SOURCE, Deploy, DeployState
from workflows.jobs import JobContext, PermanentJobError, RetryLater, backoff, enqueue

STATUS_JOB = "deploy.github_status"
STATUSES = {
    DeployState.awaiting_approval: "queued",
    DeployState.approved: "queued",
    DeployState.running: "in_progress",
    DeployState.succeeded: "success",
    DeployState.failed: "failure",
    DeployState.cancelled: "failure",
    DeployState.rolled_back: "inactive",
}


def enqueue_status(
    *, session: Session, clock: Clock, config: ShipbotConfig, deploy: Deploy
) -> None:
    """Queue the GitHub status for the deploy's current state, if the service wants them."""
    if deploy.source != SHIPBOT_SOURCE:
        return  # GitHub (or Argo CD) made it: shipbot reports only its own deploys
    source = config.services[deploy.service].source
    status = STATUSES.get(DeployState(deploy.state))
    if not isinstance(source, GithubSource) or not source.deployments or status is None:
        return
    enqueue(
        session=session,
        clock=clock,
        kind=STATUS_JOB,
        payload={"deploy_id": deploy.id, "status": status},
        idempotency_key=f"deploy:{deploy.id}:github:{status}",
    )


class GithubDeployments:
    def __init__(self, source: GithubSource, http: Callable[[], httpx.Client]) -> None:
        self.source = source
        self.http = http
        self.api = f"{str(source.api_url).rstrip('/')}/repos/{source.github}"

    def _call(self, client: httpx.Client, method: str, url: str, **kwargs: Any) -> Any:
        response = client.request(method, url, headers=github_headers(self.source), **kwargs)
        if response.status_code >= 500 or response.status_code in (403, 408, 429):
            raise RetryLater(backoff(3), reason=f"GitHub: HTTP {response.status_code}")
        if response.status_code >= 400:
            raise PermanentJobError(f"GitHub: HTTP {response.status_code} for {method} {url}")
        return response.json()

    def deployment_id(self, client: httpx.Client, deploy: Deploy) -> int:
        ref = self.source.ref(deploy.version)
        found = self._call(
            client,
            "GET",
            f"{self.api}/deployments",
            params={"environment": deploy.environment, "ref": ref, "per_page": 100},
        )
        for item in found if isinstance(found, list) else []:
            if (item.get("payload") or {}).get("shipbot_deploy_id") == deploy.id:
                return int(item["id"])
        created = self._call(
            client,
            "POST",
            f"{self.api}/deployments",
            json={
                "ref": ref,
                "environment": deploy.environment,
                "auto_merge": False,
                "required_contexts": [],
                "payload": {"shipbot_deploy_id": deploy.id},
                "description": f"shipbot deploy #{deploy.id} by {deploy.requested_by}"[:140],
                "transient_environment": False,
                "production_environment": deploy.environment == "production",
            },
        )
        return int(created["id"])

    def post_status(self, deploy: Deploy, status: str, *, log_url: str | None) -> None:
        with self.http() as client:
            deployment = self.deployment_id(client, deploy)
            url = f"{self.api}/deployments/{quote(str(deployment))}/statuses"
            latest = self._call(client, "GET", url, params={"per_page": 1})
            if isinstance(latest, list) and latest and latest[0].get("state") == status:
                return  # a repeated job: GitHub already shows it
            body: dict[str, Any] = {"state": status, "description": f"shipbot: {deploy.state}"}
            if log_url:
                body["log_url"] = log_url
            self._call(client, "POST", url, json=body)


def handle_status(
    context: JobContext, *, config: ShipbotConfig, http: Callable[[], httpx.Client]
) -> None:
    with context.database.read_session() as session:
        deploy = session.get(Deploy, int(context.job.payload["deploy_id"]))
        if deploy is None:
            return
        session.expunge(deploy)
    source = config.services[deploy.service].source
    if not isinstance(source, GithubSource):
        return
    GithubDeployments(source, http).post_status(
        deploy, str(context.job.payload["status"]), log_url=deploy.logs_url
    )
