"""The argo_rollouts backend through lightkube over HTTP against the fake Kubernetes API
(its Rollout controller runs canary steps, pauses, analysis and aborts)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.fakes.kube_api import FakeKubeApi
from tests.fakes.kube_objects import add_workload, get, image_of
from tests.workflows.backends.helpers import make_target, stored
from workflows.backends import BackendError, BackendPorts, Progress, Status, build_backend
from workflows.backends.argo_rollouts import ArgoRolloutsDeployBackend
from workflows.backends.settings import ArgoRolloutsBackend

OLD, NEW = "registry.example/web:1.0.0", "registry.example/web:1.2.3"
STEPS: list[dict[str, Any]] = [
    {"setWeight": 20},
    {"pause": {}},
    {"setWeight": 50},
    {"pause": {}},
    {"analysis": {"templates": [{"templateName": "success-rate"}]}},
    {"setWeight": 80},
    {"pause": {"duration": "30s"}},
]


def _backend(kubeconfig: Path) -> ArgoRolloutsDeployBackend:
    config = ArgoRolloutsBackend(
        backend="argo_rollouts",
        kubeconfig=str(kubeconfig),
        namespace="shop",
        name="web",
        container="app",
    )
    backend = build_backend(config, ports=BackendPorts())
    assert isinstance(backend, ArgoRolloutsDeployBackend)
    return backend


def _until(
    backend: ArgoRolloutsDeployBackend, kube: FakeKubeApi, state: dict[str, Any], what: str
) -> Progress:
    """Tick and poll until the detail mentions ``what`` or the deploy ends."""
    for _ in range(30):
        progress = backend.poll(make_target(), stored(state))
        if what in progress.detail or progress.status is not Status.running:
            return progress
        kube.tick()
    raise AssertionError(f"never saw {what!r}; last: {progress}")


def test_a_canary_is_promoted_step_by_step_to_success(kube: FakeKubeApi, kubeconfig: Path) -> None:
    add_workload(kube, "Rollout", steps=STEPS)
    backend = _backend(kubeconfig)
    started = backend.start(make_target())
    [patch] = kube.patches()
    assert patch.content_type == "application/merge-patch+json"  # a CRD: no strategic merge
    assert patch.body["metadata"]["resourceVersion"]  # conditional on what was read
    assert [c["image"] for c in patch.body["spec"]["template"]["spec"]["containers"]] == [
        NEW,
        "envoyproxy/envoy:v1.31",
    ]
    state = dict(started.state)
    first = _until(backend, kube, state, "paused")
    assert first.detail == "canary step 1 of 7 · weight 20% · paused: waiting for promote"
    assert first.state and first.state["canary"]["next_weight"] == 50
    backend.promote(make_target(), stored(state), at_step=1)
    with pytest.raises(BackendError, match="not paused at step 1 any more"):
        backend.promote(make_target(), stored(state), at_step=1)  # the double click
    kube.tick()
    second = _until(backend, kube, state, "paused")
    assert second.detail == "canary step 3 of 7 · weight 50% · paused: waiting for promote"
    backend.promote(make_target(), stored(state), at_step=3)
    analysis = _until(backend, kube, state, "analysis Running")
    assert analysis.detail == "canary step 4 of 7 · weight 50% · analysis Running"
    timed_pause = _until(backend, kube, state, "weight 80%")
    assert "canary step" in timed_pause.detail
    done = _until(backend, kube, state, "fully promoted")
    assert (done.status, done.detail) == (Status.succeeded, "fully promoted: 7 of 7 steps")
    status_patches = [c for c in kube.patches() if c.path.endswith("/status")]
    assert [c.body["status"] for c in status_patches] == [{"pauseConditions": None}] * 2


def test_abort_sends_traffic_back_and_restores_the_stable_image(
    kube: FakeKubeApi, kubeconfig: Path
) -> None:
    add_workload(kube, "Rollout", steps=STEPS)
    backend = _backend(kubeconfig)
    started = backend.start(make_target())
    _until(backend, kube, dict(started.state), "paused")
    assert backend.cancel(make_target(), stored(started.state)) is True
    abort, undo = kube.patches()[-2:]
    assert abort.path.endswith("/rollouts/web/status") and abort.body == {"status": {"abort": True}}
    assert undo.body["spec"]["template"]["spec"]["containers"][0]["image"] == OLD
    kube.tick()
    rollout = get(kube, "rollouts")
    assert image_of(kube, "rollouts") == OLD
    assert rollout["status"]["phase"] == "Healthy"
    assert rollout["status"]["canary"]["weights"]["canary"]["weight"] == 0


def test_failed_analysis_aborts_and_fails_the_deploy(kube: FakeKubeApi, kubeconfig: Path) -> None:
    add_workload(kube, "Rollout", steps=[{"setWeight": 10}, {"analysis": {}}])
    kube.controllers.failing_analysis_images.add(NEW)
    backend = _backend(kubeconfig)
    started = backend.start(make_target())
    progress = _until(backend, kube, dict(started.state), "never")
    assert progress.status is Status.failed
    assert progress.detail == 'RolloutAborted: metric "success-rate" assessed Failed'
    assert progress.state and progress.state["canary"]["analysis"] == "Failed"


def test_a_repeated_start_for_the_same_deploy_patches_nothing(
    kube: FakeKubeApi, kubeconfig: Path
) -> None:
    add_workload(kube, "Rollout", steps=STEPS)
    _backend(kubeconfig).start(make_target())
    again = _backend(kubeconfig).start(make_target())
    assert again.state["previous_image"] == OLD
    assert len(kube.patches()) == 1
