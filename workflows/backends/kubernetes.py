"""The ``kubernetes`` backend: set a container's image in a Deployment or StatefulSet and
follow the rollout the way ``kubectl rollout status`` does.

``start``: GET the workload, then one strategic-merge PATCH that sets the container's
image and annotates the object with the deploy (``shipbot.dev/deploy_id``,
``kubernetes.io/change-cause``). If the object already carries this deploy's annotation
and image (a start that got as far as the patch before shipbot died), or already runs
the image, nothing is patched. The stored state (revision and image before, generation
after) is all ``poll`` and ``cancel`` need, from any replica after any restart.

``poll`` (kubectl's ``DeploymentStatusViewer`` / ``StatefulSetStatusViewer``): wait for
``status.observedGeneration`` to reach the generation; a Deployment whose Progressing
condition says ``ProgressDeadlineExceeded`` fails with the controller's message; done when
updated, total and available replicas all equal the desired count (a StatefulSet: ready
and updated replicas, and ``currentRevision == updateRevision``). Someone else changing
the image meanwhile fails the deploy as superseded.

``cancel`` is ``kubectl rollout undo``: a Deployment gets back the pod template of the
ReplicaSet that was current before the deploy (JSON patch of ``/spec/template``); a
StatefulSet gets its previous image back (the one thing shipbot changed).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lightkube import Client
from lightkube.resources.apps_v1 import Deployment, ReplicaSet, StatefulSet
from lightkube.types import PatchType

from workflows.backends._images import with_version
from workflows.backends._kube import (
    DEPLOY_ANNOTATION,
    PREVIOUS_IMAGE,
    change_annotations,
    condition,
    container_image,
    kube_client,
    logs_link,
)
from workflows.backends.base import (
    BackendError,
    BackendPorts,
    DeployTarget,
    Progress,
    Started,
    Status,
)
from workflows.backends.settings import KubernetesBackend

REVISION = "deployment.kubernetes.io/revision"
REVISION_BEFORE = "shipbot.dev/revision-before"
_KINDS: dict[str, Any] = {"Deployment": Deployment, "StatefulSet": StatefulSet}


class KubernetesDeployBackend:
    """Rolls one container of one workload to the version; see the module docstring."""

    name = "kubernetes"

    def __init__(self, config: KubernetesBackend, *, ports: BackendPorts) -> None:
        self.config = config
        self.ports = ports
        self.resource = _KINDS[config.kind]
        self.what = f"{config.kind} {config.namespace}/{config.name}"

    def _get(self, client: Client) -> dict[str, Any]:
        obj: dict[str, Any] = client.get(self.resource, self.config.name).to_dict()
        return obj

    def start(self, target: DeployTarget) -> Started:
        config = self.config
        with kube_client(config) as client:
            obj = self._get(client)
            before = container_image(obj, config.container)
            image = with_version(config.image or before, target.version)
            annotations = obj["metadata"].get("annotations") or {}
            ours = annotations.get(DEPLOY_ANNOTATION) == str(target.deploy_id)
            state: dict[str, Any] = {
                "image": image,
                "previous_image": before,
                "revision_before": annotations.get(REVISION),
                "generation": obj["metadata"].get("generation", 0),
                "patched": False,
            }
            if before != image and not ours:
                patch = {
                    "metadata": {
                        "annotations": {
                            **change_annotations(target, previous_image=before),
                            REVISION_BEFORE: str(annotations.get(REVISION)),
                        }
                    },
                    "spec": {
                        "template": {
                            "spec": {"containers": [{"name": config.container, "image": image}]}
                        }
                    },
                }
                patched = client.patch(self.resource, config.name, patch).to_dict()
                state["generation"] = patched["metadata"]["generation"]
                state["patched"] = True
            elif ours:  # patched by this deploy already: undo needs what it replaced
                state["previous_image"] = annotations.get(PREVIOUS_IMAGE, before)
                state["revision_before"] = annotations.get(REVISION_BEFORE)
        return Started(state=state, logs_url=logs_link(config, target))

    def poll(self, target: DeployTarget, state: Mapping[str, Any]) -> Progress:
        with kube_client(self.config) as client:
            obj = self._get(client)
        logs = logs_link(self.config, target)
        image = container_image(obj, self.config.container)
        if image != state["image"]:
            return Progress(
                status=Status.failed,
                detail=f"superseded: {self.config.container} is now {image}",
                logs_url=logs,
            )
        if self.config.kind == "StatefulSet":
            status, detail = statefulset_status(obj, int(state["generation"]))
        else:
            status, detail = deployment_status(obj, int(state["generation"]))
        return Progress(status=status, detail=detail, logs_url=logs)

    def cancel(self, target: DeployTarget, state: Mapping[str, Any]) -> bool:
        config = self.config
        with kube_client(config) as client:
            if config.kind == "StatefulSet":
                patch = {
                    "spec": {
                        "template": {
                            "spec": {
                                "containers": [
                                    {"name": config.container, "image": state["previous_image"]}
                                ]
                            }
                        }
                    }
                }
                client.patch(StatefulSet, config.name, patch)
                return True
            template = self._previous_template(client, state)
            client.patch(
                Deployment,
                config.name,
                [{"op": "replace", "path": "/spec/template", "value": template}],
                patch_type=PatchType.JSON,
            )
        return True

    def _previous_template(self, client: Client, state: Mapping[str, Any]) -> dict[str, Any]:
        """The pod template of the ReplicaSet at ``revision_before`` (what ``rollout undo``
        restores), without the ``pod-template-hash`` label the controller adds."""
        deployment = self._get(client)
        selector = deployment["spec"]["selector"].get("matchLabels") or {}
        uid = deployment["metadata"]["uid"]
        wanted = state.get("revision_before")
        for item in client.list(ReplicaSet, labels=selector):
            rs = item.to_dict()
            owners = rs["metadata"].get("ownerReferences") or []
            revision = (rs["metadata"].get("annotations") or {}).get(REVISION)
            if any(o.get("uid") == uid for o in owners) and revision == wanted:
                template: dict[str, Any] = rs["spec"]["template"]
                labels = (template.get("metadata") or {}).get("labels") or {}
                labels.pop("pod-template-hash", None)
                return template
        raise BackendError(f"{self.what}: no ReplicaSet at revision {wanted} to roll back to")


def deployment_status(obj: Mapping[str, Any], generation: int) -> tuple[Status, str]:
    """kubectl's ``DeploymentStatusViewer``, for the generation shipbot wrote (or later)."""
    status = obj.get("status") or {}
    if int(status.get("observedGeneration") or 0) < max(generation, obj["metadata"]["generation"]):
        return Status.running, "waiting for the deployment spec update to be observed"
    progressing = condition(obj, "Progressing")
    if progressing.get("reason") == "ProgressDeadlineExceeded":
        return Status.failed, f"ProgressDeadlineExceeded: {progressing.get('message', '')}"
    desired = int(obj["spec"].get("replicas", 1))
    updated = int(status.get("updatedReplicas") or 0)
    total = int(status.get("replicas") or 0)
    available = int(status.get("availableReplicas") or 0)
    if updated < desired:
        return Status.running, f"{updated} of {desired} new replicas updated"
    if total > updated:
        return Status.running, f"{total - updated} old replicas pending termination"
    if available < updated:
        return Status.running, f"{available} of {updated} updated replicas available"
    return Status.succeeded, f"{available}/{desired} replicas available"


def statefulset_status(obj: Mapping[str, Any], generation: int) -> tuple[Status, str]:
    """kubectl's ``StatefulSetStatusViewer`` (RollingUpdate; a partition counts)."""
    spec, status = obj["spec"], obj.get("status") or {}
    strategy = spec.get("updateStrategy") or {}
    if strategy.get("type", "RollingUpdate") != "RollingUpdate":
        raise BackendError("only a RollingUpdate StatefulSet can be followed")
    observed = int(status.get("observedGeneration") or 0)
    if observed == 0 or observed < max(generation, obj["metadata"]["generation"]):
        return Status.running, "waiting for the statefulset spec update to be observed"
    desired = int(spec.get("replicas", 1))
    ready = int(status.get("readyReplicas") or 0)
    updated = int(status.get("updatedReplicas") or 0)
    if ready < desired:
        return Status.running, f"{ready} of {desired} pods ready"
    partition = int((strategy.get("rollingUpdate") or {}).get("partition") or 0)
    if partition and updated < desired - partition:
        return Status.running, f"{updated} of {desired - partition} partitioned pods updated"
    if not partition and status.get("updateRevision") != status.get("currentRevision"):
        return Status.running, f"{updated} of {desired} pods at the new revision"
    return Status.succeeded, f"{ready}/{desired} pods ready at the new revision"
