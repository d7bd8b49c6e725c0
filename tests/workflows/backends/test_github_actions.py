"""The github_actions backend against a loopback fake of the GitHub REST API."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import httpx
import pytest

from tests.workflows.backends.helpers import make_target, stored
from tests.workflows.backends.http_fake import FakeHttpServer, Recorded, Reply
from workflows.backends import (
    BackendError,
    BackendPorts,
    Status,
    TransientBackendError,
    build_backend,
)
from workflows.backends.settings import GithubActionsBackend
from workflows.clock import FakeClock

REPO = "acme/web"
TOKEN = "ghtoken-" + "x9" * 8
WORKFLOW_PATH = f"/repos/{REPO}/actions/workflows/deploy.yml"


class FakeGithub:
    """Workflow runs in memory; a dispatch creates a run (named like our run-name)."""

    def __init__(self, server: FakeHttpServer, clock: FakeClock, *, run_details: bool) -> None:
        self.clock = clock
        self.runs: dict[int, dict[str, Any]] = {}
        self.run_details = run_details
        self.title = "Deploy {version} (shipbot-{deploy_id})"
        server.add("POST", f"{WORKFLOW_PATH}/dispatches", self.dispatch)
        server.add("GET", f"{WORKFLOW_PATH}/runs", self.list_runs)
        server.add("GET", rf"/repos/{REPO}/actions/runs/(\d+)", self.get_run)
        server.add("POST", rf"/repos/{REPO}/actions/runs/(\d+)/cancel", self.cancel_run)

    def add_run(self, title: str, *, minutes_ago: float = 0) -> dict[str, Any]:
        run_id = 1000 + len(self.runs)
        created = self.clock.now() - timedelta(minutes=minutes_ago)
        run = {
            "id": run_id,
            "run_number": run_id - 990,
            "name": "deploy",
            "display_title": title,
            "status": "queued",
            "conclusion": None,
            "created_at": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "html_url": f"https://github.example/{REPO}/actions/runs/{run_id}",
            "head_branch": "main",
            "head_commit": {"id": "c0ffee", "timestamp": "2026-01-05T08:30:00Z"},
        }
        self.runs[run_id] = run
        return run

    def dispatch(self, request: Recorded, match: re.Match[str]) -> Reply:
        inputs = request.json()["inputs"]
        run = self.add_run(
            self.title.format(**{**inputs, "deploy_id": inputs["shipbot_deploy_id"]})
        )
        if self.run_details and request.json().get("return_run_details"):
            return Reply(
                200, {"workflow_run_id": run["id"], "run_url": "x", "html_url": run["html_url"]}
            )
        return Reply(204)

    def list_runs(self, request: Recorded, match: re.Match[str]) -> Reply:
        runs = sorted(self.runs.values(), key=lambda r: r["created_at"], reverse=True)
        return Reply(200, {"total_count": len(runs), "workflow_runs": runs})

    def get_run(self, request: Recorded, match: re.Match[str]) -> Reply:
        run = self.runs.get(int(match.group(1)))
        return Reply(200, run) if run else Reply(404, {"message": "Not Found"})

    def cancel_run(self, request: Recorded, match: re.Match[str]) -> Reply:
        run = self.runs[int(match.group(1))]
        if run["status"] == "completed":
            return Reply(409, {"message": "Cannot cancel a workflow run that is completed."})
        run.update(status="completed", conclusion="cancelled")
        return Reply(202, {})


def _backend(server: FakeHttpServer, clock: FakeClock) -> Any:
    model = GithubActionsBackend(
        backend="github_actions",
        repo=REPO,
        workflow="deploy.yml",
        token=TOKEN,
        api_url=server.url,
        inputs={"cluster": "eu-1"},
    )
    return build_backend(
        model, ports=BackendPorts(http=lambda: httpx.Client(timeout=2.0), clock=clock)
    )


@pytest.fixture
def github(http_server: FakeHttpServer, clock: FakeClock) -> FakeGithub:
    return FakeGithub(http_server, clock, run_details=False)


def test_dispatch_find_run_and_follow_it(
    http_server: FakeHttpServer, github: FakeGithub, clock: FakeClock
) -> None:
    github.add_run("Deploy 1.2.2 (shipbot-6)")  # another deploy's run, newer than ours
    backend = _backend(http_server, clock)
    target = make_target(deploy_id=7)

    started = backend.start(target)
    github.add_run("Deploy 1.2.4 (shipbot-8)")
    first = backend.poll(target, stored(started.state))
    state = stored(first.state or {})
    ours = github.runs[state["run_id"]]
    ours["status"] = "in_progress"
    running = backend.poll(target, state)
    ours.update(status="completed", conclusion="success")
    done = backend.poll(target, state)

    (dispatch,) = http_server.calls("POST", f"{WORKFLOW_PATH}/dispatches")
    assert dispatch.headers["authorization"] == f"Bearer {TOKEN}"
    assert dispatch.headers["accept"] == "application/vnd.github+json"
    assert dispatch.headers["x-github-api-version"] == "2022-11-28"
    assert dispatch.json()["ref"] == "main"
    assert dispatch.json()["inputs"] == {
        "cluster": "eu-1",
        "version": "1.2.3",
        "environment": "production",
        "shipbot_deploy_id": "7",
    }
    (listing,) = http_server.calls("GET", f"{WORKFLOW_PATH}/runs")
    assert listing.query["event"] == ["workflow_dispatch"]
    assert listing.query["created"] == [">=2026-01-05T08:59:30Z"]
    assert ours["display_title"] == "Deploy 1.2.3 (shipbot-7)"
    assert (first.status, running.status, done.status) == (
        Status.running,
        Status.running,
        Status.succeeded,
    )
    assert running.detail == f"run #{ours['run_number']} in progress"
    assert done.logs_url == ours["html_url"]
    assert done.commit_at is not None and done.commit_at.isoformat() == "2026-01-05T08:30:00+00:00"


def test_run_id_from_the_dispatch_answer(http_server: FakeHttpServer, clock: FakeClock) -> None:
    github = FakeGithub(http_server, clock, run_details=True)
    backend = _backend(http_server, clock)
    target = make_target()

    started = backend.start(target)
    github.runs[started.state["run_id"]].update(status="completed", conclusion="failure")
    progress = backend.poll(target, stored(started.state))

    assert started.logs_url == github.runs[started.state["run_id"]]["html_url"]
    assert http_server.calls("GET", f"{WORKFLOW_PATH}/runs") == []
    assert (progress.status, progress.detail) == (Status.failed, "run #10 concluded failure")


def test_servers_without_run_details_get_a_plain_dispatch(
    http_server: FakeHttpServer, github: FakeGithub, clock: FakeClock
) -> None:
    def strict(request: Recorded, match: re.Match[str]) -> Reply:
        if "return_run_details" in request.json():
            return Reply(422, {"message": "Invalid request. return_run_details is not permitted"})
        return github.dispatch(request, match)

    http_server.add("POST", f"{WORKFLOW_PATH}/dispatches", strict)
    backend = _backend(http_server, clock)

    started = backend.start(make_target())

    assert len(http_server.calls("POST", f"{WORKFLOW_PATH}/dispatches")) == 2
    assert started.state["run_id"] is None


def test_untitled_runs_fall_back_to_the_newest_after_dispatch(
    http_server: FakeHttpServer, github: FakeGithub, clock: FakeClock
) -> None:
    github.title = "deploy"  # a workflow without a run-name naming the deploy
    github.add_run("deploy", minutes_ago=10)  # older than the dispatch: never ours
    backend = _backend(http_server, clock)
    target = make_target()
    state = stored(backend.start(target).state)

    progress = backend.poll(target, state)

    newest = max(github.runs.values(), key=lambda r: r["id"])
    assert progress.state is not None and progress.state["run_id"] == newest["id"]


def test_no_run_appears_within_the_window(
    http_server: FakeHttpServer, github: FakeGithub, clock: FakeClock
) -> None:
    http_server.add("POST", f"{WORKFLOW_PATH}/dispatches", Reply(204))  # run never shows up
    backend = _backend(http_server, clock)
    target = make_target()
    state = stored(backend.start(target).state)

    assert backend.poll(target, state).status is Status.running
    clock.advance(minutes=6)
    progress = backend.poll(target, state)

    assert progress.status is Status.failed
    assert "no workflow run appeared" in progress.detail
    assert backend.cancel(target, state) is False


def test_cancel_the_run(http_server: FakeHttpServer, github: FakeGithub, clock: FakeClock) -> None:
    backend = _backend(http_server, clock)
    target = make_target()
    state = stored(backend.start(target).state)

    assert backend.cancel(target, state) is True  # finds the run first
    progress = backend.poll(target, state)

    assert progress.status is Status.cancelled
    assert len(http_server.calls("POST")) == 2
    assert progress.state is not None
    assert backend.cancel(target, progress.state) is False  # completed: 409


def test_refusals_and_rate_limits(http_server: FakeHttpServer, clock: FakeClock) -> None:
    http_server.add(
        "POST",
        f"{WORKFLOW_PATH}/dispatches",
        Reply(404, {"message": f"Not Found (token {TOKEN})"}),
    )
    backend = _backend(http_server, clock)
    with pytest.raises(BackendError) as caught:
        backend.start(make_target())
    assert "HTTP 404" in str(caught.value) and "acme/web" in str(caught.value)
    assert TOKEN not in str(caught.value)

    http_server.add(
        "POST",
        f"{WORKFLOW_PATH}/dispatches",
        Reply(403, {"message": "API rate limit exceeded"}, headers={"x-ratelimit-remaining": "0"}),
    )
    with pytest.raises(TransientBackendError, match="rate limit"):
        backend.start(make_target())
