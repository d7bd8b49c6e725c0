"""The argocd backend against a loopback fake of the Argo CD REST API."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import httpx
import pytest

from tests.fakes.kube_patch import merge_patch  # RFC 7386, as Argo CD applies it
from tests.workflows.backends.helpers import make_target, stored
from tests.workflows.backends.http_fake import FakeHttpServer, Recorded, Reply
from workflows.backends import BackendError, BackendPorts, Status, build_backend
from workflows.backends.settings import ArgoCDBackend
from workflows.clock import FakeClock

TOKEN = "argotoken-" + "z8" * 8
APP_PATH = "/api/v1/applications/web"


class FakeArgo:
    """One application; a sync starts a Running operation the test then moves along."""

    def __init__(self, server: FakeHttpServer, app: dict[str, Any]) -> None:
        self.app = app
        self.syncs = 0
        self.sync_reply: Reply | None = None
        server.add("GET", APP_PATH, self.get)
        server.add("PATCH", APP_PATH, self.patch)
        server.add("POST", f"{APP_PATH}/sync", self.sync)
        server.add("DELETE", f"{APP_PATH}/operation", self.terminate)

    def _authorized(self, request: Recorded) -> bool:
        return request.headers.get("authorization") == f"Bearer {TOKEN}"

    def get(self, request: Recorded, match: re.Match[str]) -> Reply:
        if not self._authorized(request):
            return Reply(401, {"error": "no session information", "code": 16})
        return Reply(200, copy.deepcopy(self.app))

    def patch(self, request: Recorded, match: re.Match[str]) -> Reply:
        body = request.json()
        assert body["patchType"] == "merge" and body["name"] == "web"
        self.app = merge_patch(self.app, json.loads(body["patch"]))
        return Reply(200, self.app)

    def sync(self, request: Recorded, match: re.Match[str]) -> Reply:
        if self.sync_reply is not None:
            return self.sync_reply
        self.syncs += 1
        self.set_operation("Running", started=f"2026-01-05T09:00:{self.syncs:02d}Z")
        return Reply(200, self.app)

    def terminate(self, request: Recorded, match: re.Match[str]) -> Reply:
        operation = self.app["status"].get("operationState") or {}
        if operation.get("phase") != "Running":
            return Reply(
                400, {"error": "Unable to terminate operation. No operation is in progress"}
            )
        self.set_operation("Failed", message="Operation terminated")
        return Reply(200, {})

    def set_operation(
        self, phase: str, *, started: str | None = None, message: str = "", health: str = ""
    ) -> None:
        operation = self.app["status"].setdefault("operationState", {})
        operation.update(phase=phase, message=message)
        if started:
            operation["startedAt"] = started
        if health:
            self.app["status"]["health"] = {"status": health}


def _helm_app() -> dict[str, Any]:
    return {
        "metadata": {"name": "web"},
        "spec": {
            "source": {
                "repoURL": "https://git.example/web.git",
                "helm": {
                    "parameters": [
                        {"name": "replicas", "value": "3"},
                        {"name": "image.tag", "value": "1.0.0"},
                    ]
                },
            }
        },
        "status": {
            "sourceType": "Helm",
            "health": {"status": "Healthy"},
            "sync": {"status": "Synced"},
            "operationState": {"phase": "Succeeded", "startedAt": "2026-01-04T10:00:00Z"},
        },
    }


def _backend(server: FakeHttpServer, clock: FakeClock, **config: Any) -> Any:
    model = ArgoCDBackend(backend="argocd", server_url=server.url, app="web", token=TOKEN, **config)
    return build_backend(
        model, ports=BackendPorts(http=lambda: httpx.Client(timeout=2.0), clock=clock)
    )


def test_set_helm_parameter_sync_and_follow(http_server: FakeHttpServer, clock: FakeClock) -> None:
    argo = FakeArgo(http_server, _helm_app())
    backend = _backend(http_server, clock, image_parameter="image.tag")
    target = make_target(version="1.10")

    started = backend.start(target)
    state = stored(started.state)
    polls = []
    polls.append(backend.poll(target, state))
    argo.set_operation("Succeeded", health="Progressing")
    polls.append(backend.poll(target, state))
    argo.set_operation("Succeeded", health="Healthy")
    polls.append(backend.poll(target, state))

    (patch,) = http_server.calls("PATCH", APP_PATH)
    assert patch.headers["authorization"] == f"Bearer {TOKEN}"
    assert argo.app["spec"]["source"]["helm"]["parameters"] == [
        {"name": "replicas", "value": "3"},
        {"name": "image.tag", "value": "1.10", "forceString": True},
    ]
    assert argo.app["spec"]["source"]["repoURL"] == "https://git.example/web.git"
    (sync,) = http_server.calls("POST", f"{APP_PATH}/sync")
    assert sync.json() == {"name": "web"}
    assert [p.status for p in polls] == [Status.running, Status.running, Status.succeeded]
    assert polls[1].detail == "sync Succeeded · health Progressing · Synced"
    assert started.logs_url == polls[2].logs_url == f"{http_server.url}/applications/web"


def test_an_earlier_operation_is_not_mistaken_for_ours(
    http_server: FakeHttpServer, clock: FakeClock
) -> None:
    argo = FakeArgo(http_server, _helm_app())
    argo.sync_reply = Reply(200, {})  # accepted, but the controller has not started yet
    backend = _backend(http_server, clock)
    target = make_target()

    progress = backend.poll(target, stored(backend.start(target).state))

    assert http_server.calls("PATCH") == []  # no image_parameter: sync only
    assert (progress.status, progress.detail) == (
        Status.running,
        "waiting for Argo CD to start the sync",
    )


def test_kustomize_image_is_set(http_server: FakeHttpServer, clock: FakeClock) -> None:
    app = _helm_app()
    app["spec"]["source"] = {
        "repoURL": "https://git.example/web.git",
        "kustomize": {"images": ["ghcr.io/acme/web:1.0.0", "redis=redis:7"]},
    }
    app["status"]["sourceType"] = "Kustomize"
    argo = FakeArgo(http_server, app)
    backend = _backend(http_server, clock, image_parameter="ghcr.io/acme/web")

    backend.start(make_target(version="2.0.0"))

    assert argo.app["spec"]["source"]["kustomize"]["images"] == [
        "ghcr.io/acme/web:2.0.0",
        "redis=redis:7",
    ]


def test_failed_and_degraded_syncs_fail(http_server: FakeHttpServer, clock: FakeClock) -> None:
    argo = FakeArgo(http_server, _helm_app())
    backend = _backend(http_server, clock)
    target = make_target()
    state = stored(backend.start(target).state)

    argo.set_operation("Failed", message="one or more objects failed to apply")
    failed = backend.poll(target, state)
    argo.set_operation("Succeeded", health="Degraded")
    degraded = backend.poll(target, state)

    assert failed.status is Status.failed
    assert "one or more objects failed to apply" in failed.detail
    assert (degraded.status, degraded.detail) == (
        Status.failed,
        "sync Succeeded · health Degraded · Synced",
    )


def test_cancel_terminates_the_operation(http_server: FakeHttpServer, clock: FakeClock) -> None:
    FakeArgo(http_server, _helm_app())
    backend = _backend(http_server, clock)
    target = make_target()
    state = stored(backend.start(target).state)

    assert backend.cancel(target, state) is True
    assert backend.poll(target, state).status is Status.cancelled
    assert backend.cancel(target, state) is False  # nothing in progress any more
    assert len(http_server.calls("DELETE", f"{APP_PATH}/operation")) == 2


def test_auto_sync_already_applying_our_patch_is_followed(
    http_server: FakeHttpServer, clock: FakeClock
) -> None:
    argo = FakeArgo(http_server, _helm_app())
    argo.sync_reply = Reply(400, {"error": "another operation is already in progress"})
    backend = _backend(http_server, clock, image_parameter="image.tag")
    target = make_target()

    state = stored(backend.start(target).state)
    argo.set_operation("Succeeded", started="2026-01-05T09:00:01Z", health="Healthy")

    assert backend.poll(target, state).status is Status.succeeded


def test_unknown_app_or_bad_token_is_refused(http_server: FakeHttpServer, clock: FakeClock) -> None:
    http_server.add("GET", APP_PATH, Reply(403, {"error": "permission denied"}))
    with pytest.raises(BackendError, match="not found, or the token may not read it"):
        _backend(http_server, clock).start(make_target())

    http_server.add("GET", APP_PATH, Reply(401, {"error": f"invalid token {TOKEN}"}))
    with pytest.raises(BackendError) as caught:
        _backend(http_server, clock).start(make_target())
    assert "HTTP 401" in str(caught.value) and TOKEN not in str(caught.value)
