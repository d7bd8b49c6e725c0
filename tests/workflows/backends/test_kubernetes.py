"""The kubernetes backend through lightkube over HTTP against the fake Kubernetes API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.fakes.kube_api import FakeKubeApi
from tests.fakes.kube_objects import add_workload, get, image_of
from tests.workflows.backends.helpers import make_target, stored
from workflows.backends import BackendError, BackendPorts, Progress, Status, build_backend
from workflows.backends.settings import KubernetesBackend

OLD, NEW = "registry.example/web:1.0.0", "registry.example/web:1.2.3"


def _backend(kubeconfig: Path, **overrides: Any) -> Any:
    values: dict[str, Any] = {
        "backend": "kubernetes",
        "kubeconfig": str(kubeconfig),
        "context": "fake-cluster",
        "namespace": "shop",
        "name": "web",
        "container": "app",
        "logs_url": "https://grafana.example/explore?ns={namespace}&app={name}&v={version}",
    }
    values.update(overrides)
    return build_backend(KubernetesBackend(**values), ports=BackendPorts())


def _follow(
    backend: Any, kube: FakeKubeApi, state: dict[str, Any], limit: int = 40
) -> list[Progress]:
    """Poll, letting the controller take one step between polls, until terminal."""
    seen = []
    for _ in range(limit):
        progress = backend.poll(make_target(), stored(state))
        seen.append(progress)
        if progress.status is not Status.running:
            return seen
        kube.tick()
    raise AssertionError(f"still running: {seen[-1]}")


def test_deployment_rolls_out_to_success(kube: FakeKubeApi, kubeconfig: Path) -> None:
    add_workload(kube, "Deployment")
    backend = _backend(kubeconfig)
    started = backend.start(make_target())
    [patch] = kube.patches()
    assert patch.content_type == "application/strategic-merge-patch+json"
    assert patch.body["spec"]["template"]["spec"]["containers"] == [{"name": "app", "image": NEW}]
    assert started.logs_url == "https://grafana.example/explore?ns=shop&app=web&v=1.2.3"
    assert started.state["previous_image"] == OLD and started.state["revision_before"] == "1"
    details = [p.detail for p in _follow(backend, kube, dict(started.state))]
    assert details[0] == "waiting for the deployment spec update to be observed"
    assert "0 of 3 new replicas updated" in details
    assert any("old replicas pending termination" in d for d in details)
    assert details[-1] == "3/3 replicas available"
    deployment = get(kube, "deployments")
    assert image_of(kube, "deployments") == NEW
    assert "sidecar" in {c["name"] for c in deployment["spec"]["template"]["spec"]["containers"]}
    assert deployment["metadata"]["annotations"]["kubernetes.io/change-cause"].startswith(
        "shipbot deploy #7: web 1.2.3 by U0ALICE"
    )
    assert len(kube.patches()) == 1


def test_stalled_rollout_fails_with_the_controllers_reason(
    kube: FakeKubeApi, kubeconfig: Path
) -> None:
    add_workload(kube, "Deployment", progress_deadline=60)
    kube.controllers.stall_images.add(NEW)
    backend = _backend(kubeconfig)
    started = backend.start(make_target())
    seen = _follow(backend, kube, dict(started.state))
    assert seen[-1].status is Status.failed
    assert seen[-1].detail.startswith('ProgressDeadlineExceeded: ReplicaSet "web-')
    assert seen[-1].detail.endswith("has timed out progressing.")
    # Before the deadline it was reported as running, with the controller's own counts.
    assert [p.detail for p in seen].count("1 of 3 new replicas updated") > 3


def test_a_new_process_resumes_polling_without_patching_again(
    kube: FakeKubeApi, kubeconfig: Path
) -> None:
    add_workload(kube, "Deployment")
    started = _backend(kubeconfig).start(make_target())
    kube.tick(2)
    state = stored(started.state)  # all a restarted shipbot has: the stored row
    # A second start for the same deploy (its annotation is on the object) patches nothing.
    again = _backend(kubeconfig).start(make_target())
    assert again.state["previous_image"] == OLD and again.state["revision_before"] == "1"
    seen = _follow(_backend(kubeconfig), kube, state)
    assert seen[-1].status is Status.succeeded
    assert len(kube.patches()) == 1


def test_cancel_undoes_to_the_previous_replicaset(kube: FakeKubeApi, kubeconfig: Path) -> None:
    add_workload(kube, "Deployment")
    backend = _backend(kubeconfig)
    started = backend.start(make_target())
    kube.tick(3)
    assert backend.cancel(make_target(), stored(started.state)) is True
    undo = kube.patches()[-1]
    assert undo.content_type == "application/json-patch+json"
    assert undo.body[0]["path"] == "/spec/template"
    assert "pod-template-hash" not in undo.body[0]["value"]["metadata"]["labels"]
    assert image_of(kube, "deployments") == OLD
    kube.tick(12)
    replicasets = {
        rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"]: rs
        for rs in kube.store.list("replicasets", "shop")
    }
    # The old ReplicaSet came back as revision 3 and runs every replica again.
    assert sorted(replicasets) == ["2", "3"]
    assert replicasets["3"]["spec"]["template"]["spec"]["containers"][0]["image"] == OLD
    assert replicasets["3"]["status"]["availableReplicas"] == 3
    assert replicasets["2"]["status"]["replicas"] == 0


def test_someone_else_changing_the_image_supersedes_the_deploy(
    kube: FakeKubeApi, kubeconfig: Path
) -> None:
    add_workload(kube, "Deployment")
    backend = _backend(kubeconfig)
    started = backend.start(make_target())
    get(kube, "deployments")["spec"]["template"]["spec"]["containers"][0]["image"] = "web:hotfix"
    progress = backend.poll(make_target(), stored(started.state))
    assert (
        progress.status is Status.failed and progress.detail == "superseded: app is now web:hotfix"
    )


def test_statefulset_rolls_out_and_cancel_restores_the_image(
    kube: FakeKubeApi, kubeconfig: Path
) -> None:
    add_workload(kube, "StatefulSet", name="db", replicas=2)
    backend = _backend(kubeconfig, kind="StatefulSet", name="db")
    started = backend.start(make_target())
    seen = _follow(backend, kube, dict(started.state))
    assert [p.detail for p in seen][-1] == "2/2 pods ready at the new revision"
    assert any(p.detail == "1 of 2 pods at the new revision" for p in seen)
    assert image_of(kube, "statefulsets", "db") == NEW
    second = backend.start(make_target(deploy_id=8, version="2.0.0"))
    assert backend.cancel(make_target(deploy_id=8), stored(second.state)) is True
    assert image_of(kube, "statefulsets", "db") == NEW


def test_a_stalled_statefulset_keeps_running_until_the_flows_timeout(
    kube: FakeKubeApi, kubeconfig: Path
) -> None:
    add_workload(kube, "StatefulSet", name="db", replicas=2)
    kube.controllers.stall_images.add(NEW)
    backend = _backend(kubeconfig, kind="StatefulSet", name="db")
    started = backend.start(make_target())
    kube.tick(10)
    progress = backend.poll(make_target(), stored(started.state))
    assert (progress.status, progress.detail) == (Status.running, "1 of 2 pods ready")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"name": "nope"}, 'HTTP 404: deployments.apps "nope" not found'),
        ({"container": "nope"}, "no container 'nope' in web (has: app, sidecar)"),
        ({"context": "missing"}, "Kubernetes config: Context 'missing' not found"),
    ],
)
def test_refusals_are_backend_errors_people_can_act_on(
    kube: FakeKubeApi, kubeconfig: Path, overrides: dict[str, Any], message: str
) -> None:
    add_workload(kube, "Deployment")
    with pytest.raises(BackendError) as raised:
        _backend(kubeconfig, **overrides).start(make_target())
    assert message in str(raised.value)
    assert kube.patches() == []


def test_a_wrong_token_is_refused_and_not_leaked(kube: FakeKubeApi, kubeconfig: Path) -> None:
    add_workload(kube, "Deployment")
    kube.token = "another-token"
    with pytest.raises(BackendError, match="HTTP 401"):
        _backend(kubeconfig).start(make_target())
