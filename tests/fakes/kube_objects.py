"""Objects to seed the fake Kubernetes API with, shaped as ``kubectl get -o json`` shows them."""

from __future__ import annotations

from typing import Any

from tests.fakes.kube_api import FakeKubeApi


def _template(name: str, container: str, image: str) -> dict[str, Any]:
    return {
        "metadata": {"labels": {"app": name}},
        "spec": {
            "containers": [
                {"name": container, "image": image},
                {"name": "sidecar", "image": "envoyproxy/envoy:v1.31"},
            ]
        },
    }


def add_workload(
    kube: FakeKubeApi,
    kind: str,
    *,
    name: str = "web",
    image: str = "registry.example/web:1.0.0",
    container: str = "app",
    replicas: int = 3,
    namespace: str = "shop",
    progress_deadline: int = 60,
    steps: list[dict[str, Any]] | None = None,
) -> None:
    """Add a Deployment, StatefulSet or Rollout and let the controller settle it."""
    spec: dict[str, Any] = {
        "replicas": replicas,
        "selector": {"matchLabels": {"app": name}},
        "template": _template(name, container, image),
    }
    plural = {"Deployment": "deployments", "StatefulSet": "statefulsets", "Rollout": "rollouts"}[
        kind
    ]
    api_version = "argoproj.io/v1alpha1" if kind == "Rollout" else "apps/v1"
    if kind == "Deployment":
        spec["progressDeadlineSeconds"] = progress_deadline
    elif kind == "StatefulSet":
        spec["updateStrategy"] = {"type": "RollingUpdate"}
        spec["serviceName"] = name
    else:
        spec["strategy"] = {"canary": {"steps": steps or []}}
    obj = {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": name}},
        "spec": spec,
    }
    with kube.store.lock:
        kube.store.put(plural, obj)
    kube.tick(2 * replicas + 3)


def get(kube: FakeKubeApi, plural: str, name: str = "web", namespace: str = "shop") -> Any:
    with kube.store.lock:
        return kube.store.get(plural, namespace, name)


def image_of(kube: FakeKubeApi, plural: str, name: str = "web", container: str = "app") -> str:
    obj = get(kube, plural, name)
    return next(
        c["image"] for c in obj["spec"]["template"]["spec"]["containers"] if c["name"] == container
    )
