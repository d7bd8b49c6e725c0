"""What the ``kubernetes`` and ``argo_rollouts`` backends share: a lightkube client built
from the config, API errors sorted into permanent and transient trouble, container lookup.

lightkube (not the official ``kubernetes`` client or kr8s) because it is synchronous,
typed, small, and imports in a fraction of the time and memory: docs/backends.md has
the figures. Objects are handled as plain dicts (``to_dict()``) so a Rollout, which has no
generated model, goes through the same code as a Deployment.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import httpx2
from lightkube import ApiError, Client, ConfigError, KubeConfig
from lightkube.generic_resource import create_namespaced_resource

from workflows.backends.base import BackendError, DeployTarget, TransientBackendError
from workflows.backends.settings import ArgoRolloutsBackend, KubernetesBackend
from workflows.redact import redact_text

Rollout = create_namespaced_resource("argoproj.io", "v1alpha1", "Rollout", "rollouts")
DEPLOY_ANNOTATION = "shipbot.dev/deploy_id"
PREVIOUS_IMAGE = "shipbot.dev/previous-image"
CHANGE_CAUSE = "kubernetes.io/change-cause"
_TRANSIENT = frozenset({408, 425, 429, 500, 502, 503, 504})

KubeTarget = KubernetesBackend | ArgoRolloutsBackend


def _kubeconfig(config: KubeTarget) -> KubeConfig:
    if config.in_cluster:
        return KubeConfig.from_service_account()
    if config.kubeconfig:
        return KubeConfig.from_file(config.kubeconfig)
    return KubeConfig.from_env()


@contextmanager
def kube_client(config: KubeTarget) -> Iterator[Client]:
    """A client for the configured cluster; API errors leave as backend errors."""
    try:
        single = _kubeconfig(config).get(context_name=config.context)
        client = Client(
            config=single,
            namespace=config.namespace,
            field_manager="shipbot",
            trust_env=False,  # the kubeconfig chosen in shipbot's config, nothing implicit
            timeout=httpx2.Timeout(10.0),
        )
    except (ConfigError, KeyError, OSError) as error:
        raise BackendError(f"Kubernetes config: {redact_text(str(error))}") from None
    try:
        yield client
    except ApiError as error:
        raise api_error(error) from None
    finally:
        client.close()


def api_error(error: ApiError) -> Exception:
    """A ``BackendError`` people must act on, or a ``TransientBackendError`` to retry."""
    code = error.status.code or error.response.status_code
    message = redact_text(f"Kubernetes API: HTTP {code}: {error.status.message or ''}")[:300]
    if code in _TRANSIENT:
        return TransientBackendError(message)
    if code == 403:
        message += " (check the Role in docs/backends.md)"
    return BackendError(message)


def as_dict(obj: Any) -> dict[str, Any]:
    """A lightkube object as the plain dict the API sent (generic resources are untyped)."""
    value: dict[str, Any] = obj.to_dict()
    return value


def container_image(obj: Mapping[str, Any], container: str) -> str:
    """The image of ``container`` in the object's pod template."""
    containers = obj["spec"]["template"]["spec"].get("containers") or []
    for item in containers:
        if item.get("name") == container:
            return str(item.get("image") or "")
    names = ", ".join(str(c.get("name")) for c in containers) or "none"
    raise BackendError(f"no container {container!r} in {obj['metadata']['name']} (has: {names})")


def change_annotations(target: DeployTarget, *, previous_image: str) -> dict[str, str]:
    """Marks the object with the deploy that changed it (``kubectl rollout history`` shows
    the change cause); the deploy id also tells a repeated start that the patch landed,
    and the previous image is what it needs to know to undo it."""
    return {
        DEPLOY_ANNOTATION: str(target.deploy_id),
        PREVIOUS_IMAGE: previous_image,
        CHANGE_CAUSE: f"shipbot deploy #{target.deploy_id}: {target.service} {target.version} "
        f"by {target.requested_by}"[:250],
    }


def logs_link(config: KubeTarget, target: DeployTarget) -> str | None:
    if not config.logs_url:
        return None
    values = {
        "namespace": config.namespace,
        "name": config.name,
        "container": config.container,
        "service": target.service,
        "environment": target.environment,
        "version": target.version,
    }
    try:
        return config.logs_url.format_map(values)
    except (KeyError, ValueError, IndexError):  # a typo in the template: show it as written
        return config.logs_url


def condition(obj: Mapping[str, Any], kind: str) -> Mapping[str, Any]:
    for item in (obj.get("status") or {}).get("conditions") or []:
        if item.get("type") == kind:
            return dict(item)
    return {}
