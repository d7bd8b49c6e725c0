"""The ``github_actions`` backend: dispatch a workflow and follow the run it starts.

1. ``POST /repos/{repo}/actions/workflows/{workflow}/dispatches`` with ``ref`` and
   ``inputs`` = config ``inputs`` + ``version``, ``environment``, ``shipbot_deploy_id``
   (the workflow must declare them), and ``return_run_details: true``. GitHub answers
   200 with ``workflow_run_id`` when it supports that, else 204 with nothing (GitHub
   Enterprise Server may reject the field with a 422: we then dispatch without it).
2. Without a run id, find the run: list the workflow's ``workflow_dispatch`` runs created
   since the dispatch and take the one whose ``display_title``/``name`` names our deploy
   id (``shipbot-42``, ``shipbot #42``, ``shipbot_deploy_id=42``; set ``run-name`` in the
   workflow to make this exact), else the newest run created after the dispatch that
   names no other shipbot deploy. Give up after :data:`RUN_DISCOVERY_WINDOW`.
3. ``GET /repos/{repo}/actions/runs/{run_id}``: ``queued``/``in_progress``/... is running,
   ``completed`` with conclusion ``success`` succeeded, ``cancelled`` cancelled, any other
   conclusion failed.

Cancel: ``POST /repos/{repo}/actions/runs/{run_id}/cancel`` (409 = already finished).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx

from workflows.backends import _http
from workflows.backends.base import BackendPorts, DeployTarget, Progress, Started, Status
from workflows.backends.settings import GithubActionsBackend
from workflows.redact import register_secret

API_VERSION = "2022-11-28"
RUN_DISCOVERY_WINDOW = timedelta(minutes=5)
# How far GitHub's clock may be behind ours when we compare a run's created_at.
CLOCK_SKEW = timedelta(seconds=30)
_MENTION = re.compile(r"(?i)shipbot[-_ #:=]*(?:deploy[-_ #:=]*(?:id[-_ #:=]*)?)?(\d+)")


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def mentioned_deploy_ids(run: Mapping[str, Any]) -> set[int]:
    """The shipbot deploy ids a run's title or name names."""
    text = f"{run.get('display_title') or ''} {run.get('name') or ''}"
    return {int(found) for found in _MENTION.findall(text)}


class GithubActionsDeployBackend:
    """Drives one workflow of one repository; see the module docstring."""

    name = "github_actions"

    def __init__(self, config: GithubActionsBackend, *, ports: BackendPorts) -> None:
        self.config = config
        self.ports = ports
        register_secret(config.token)
        self._repo = config.repo
        self._workflow = quote(config.workflow, safe="")

    def _url(self, path: str) -> str:
        return self.config.api_url.rstrip("/") + path

    def _headers(self) -> dict[str, str]:
        return {
            **_http.bearer(self.config.token.get_secret_value()),
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION,
            "User-Agent": "shipbot",
        }

    def start(self, target: DeployTarget) -> Started:
        inputs = {
            **self.config.inputs,
            "version": target.version,
            "environment": target.environment,
            "shipbot_deploy_id": str(target.deploy_id),
        }
        body: dict[str, Any] = {"ref": self.config.ref, "inputs": inputs}
        url = self._url(f"/repos/{self._repo}/actions/workflows/{self._workflow}/dispatches")
        dispatched_at = self.ports.clock.now()
        with self.ports.http() as client:
            response = client.post(
                url, json={**body, "return_run_details": True}, headers=self._headers()
            )
            if response.status_code == 422 and "return_run_details" in response.text:
                response = client.post(url, json=body, headers=self._headers())
        _http.check(
            response,
            what=f"GitHub refused to dispatch {self.config.workflow} in {self._repo} "
            f"(ref {self.config.ref})",
        )
        details = _http.optional_json_object(response) if response.status_code == 200 else {}
        run_id = str(details.get("workflow_run_id") or "")
        html_url = details.get("html_url") if isinstance(details.get("html_url"), str) else None
        state = {
            "dispatched_at": dispatched_at.isoformat(),
            "run_id": int(run_id) if run_id.isdigit() else None,
            "html_url": html_url,
        }
        return Started(state=state, logs_url=html_url)

    def _find_run(
        self, client: httpx.Client, target: DeployTarget, dispatched_at: datetime
    ) -> dict[str, Any] | None:
        response = client.get(
            self._url(f"/repos/{self._repo}/actions/workflows/{self._workflow}/runs"),
            params={
                "event": "workflow_dispatch",
                "created": f">={_iso(dispatched_at - CLOCK_SKEW)}",
                "per_page": 50,
            },
            headers=self._headers(),
        )
        _http.check(response, what=f"GitHub: listing runs of {self.config.workflow}")
        listed = _http.json_object(response, what="GitHub workflow runs").get("workflow_runs")
        runs: list[dict[str, Any]] = [
            run for run in listed or [] if isinstance(run, dict) and run.get("id")
        ]

        def created(run: Mapping[str, Any]) -> datetime:
            return _http.parse_timestamp(run.get("created_at")) or datetime.min.replace(
                tzinfo=dispatched_at.tzinfo
            )

        ours = [run for run in runs if target.deploy_id in mentioned_deploy_ids(run)]
        if ours:
            return max(ours, key=created)
        # Best effort when the workflow's run-name does not name the deploy.
        candidates = [
            run
            for run in runs
            if not mentioned_deploy_ids(run) and created(run) >= dispatched_at - CLOCK_SKEW
        ]
        return max(candidates, key=created) if candidates else None

    def _get_run(self, client: httpx.Client, run_id: int) -> dict[str, Any]:
        response = client.get(
            self._url(f"/repos/{self._repo}/actions/runs/{run_id}"), headers=self._headers()
        )
        _http.check(response, what=f"GitHub: workflow run {run_id}")
        return _http.json_object(response, what=f"GitHub: workflow run {run_id}")

    def poll(self, target: DeployTarget, state: Mapping[str, Any]) -> Progress:
        run_id = state.get("run_id")
        dispatched_at = _http.parse_timestamp(state.get("dispatched_at")) or self.ports.clock.now()
        new_state: dict[str, Any] | None = None
        with self.ports.http() as client:
            if run_id:
                run = self._get_run(client, int(run_id))
            else:
                found = self._find_run(client, target, dispatched_at)
                if found is None:
                    waited = self.ports.clock.now() - dispatched_at
                    if waited > RUN_DISCOVERY_WINDOW:
                        return Progress(
                            status=Status.failed,
                            detail=f"dispatched {self.config.workflow}, but no workflow run "
                            f"appeared within {int(RUN_DISCOVERY_WINDOW.total_seconds() // 60)}m",
                        )
                    return Progress(status=Status.running, detail="waiting for the workflow run")
                run = found
                new_state = {**state, "run_id": int(run["id"]), "html_url": run.get("html_url")}
        return _progress(run, new_state)

    def cancel(self, target: DeployTarget, state: Mapping[str, Any]) -> bool:
        with self.ports.http() as client:
            run_id = state.get("run_id")
            if not run_id:
                dispatched_at = _http.parse_timestamp(state.get("dispatched_at"))
                found = self._find_run(client, target, dispatched_at) if dispatched_at else None
                if found is None:
                    return False
                run_id = found["id"]
            response = client.post(
                self._url(f"/repos/{self._repo}/actions/runs/{int(run_id)}/cancel"),
                headers=self._headers(),
            )
        if response.status_code == 409:  # the run has already completed
            return False
        _http.check(response, what=f"GitHub: cancelling workflow run {run_id}")
        return True


def _progress(run: Mapping[str, Any], new_state: Mapping[str, Any] | None) -> Progress:
    status = str(run.get("status") or "queued")
    conclusion = run.get("conclusion")
    label = f"run #{run.get('run_number') or run.get('id')}"
    logs_url = run.get("html_url") if isinstance(run.get("html_url"), str) else None
    head_commit = run.get("head_commit")
    commit_at = (
        _http.parse_timestamp(head_commit.get("timestamp"))
        if isinstance(head_commit, dict)
        else None
    )
    common: dict[str, Any] = {"state": new_state, "logs_url": logs_url, "commit_at": commit_at}
    if status != "completed":
        return Progress(
            status=Status.running, detail=f"{label} {status.replace('_', ' ')}", **common
        )
    if conclusion == "success":
        return Progress(status=Status.succeeded, detail=f"{label} succeeded", **common)
    if conclusion == "cancelled":
        return Progress(status=Status.cancelled, detail=f"{label} was cancelled", **common)
    return Progress(
        status=Status.failed,
        detail=f"{label} concluded {conclusion or 'without a result'}",
        **common,
    )
