"""What the Kubernetes controllers do to status, one step per tick (see ``kube_api``).

Deployment (``apps/v1``): a changed pod template gets a ReplicaSet (revision = highest + 1,
labelled with ``pod-template-hash``; going back to an earlier template reuses its
ReplicaSet, as ``rollout undo`` relies on); each tick either makes one new pod available
(scaling an old ReplicaSet down by one) or creates one (max surge 1). Pods whose image is
in ``stall_images`` never become available, and once ``progressDeadlineSeconds`` pass
without progress the Progressing condition turns False with ``ProgressDeadlineExceeded``.

StatefulSet: pods are replaced one per tick; a stalled image leaves one pod unready.

Rollout (``argoproj.io/v1alpha1``, canary): ``setWeight`` steps move the weight, ``pause``
steps pause (an indefinite pause waits for a promote that clears ``pauseConditions``; a
pause with ``duration`` ends by itself), ``analysis`` steps run an AnalysisRun that
succeeds, or fails for an image in ``failing_analysis_images`` (which aborts);
``status.abort`` sends all traffic back to the stable ReplicaSet.
"""

from __future__ import annotations

import copy
import hashlib
import json
from datetime import datetime
from typing import Any, Protocol

REVISION = "deployment.kubernetes.io/revision"


class Store(Protocol):
    now: datetime

    def timestamp(self) -> str: ...
    def put(self, plural: str, obj: dict[str, Any]) -> dict[str, Any]: ...
    def list(self, plural: str, namespace: str) -> list[dict[str, Any]]: ...
    @property
    def objects(self) -> dict[tuple[str, str, str], dict[str, Any]]: ...


def template_hash(template: dict[str, Any]) -> str:
    clean = copy.deepcopy(template)
    (clean.get("metadata") or {}).get("labels", {}).pop("pod-template-hash", None)
    return hashlib.sha256(json.dumps(clean, sort_keys=True).encode()).hexdigest()[:10]


def images(template: dict[str, Any]) -> set[str]:
    return {c.get("image", "") for c in (template.get("spec") or {}).get("containers") or []}


def _condition(obj: dict[str, Any], kind: str) -> dict[str, Any] | None:
    return next((c for c in obj["status"].get("conditions") or [] if c["type"] == kind), None)


class Controllers:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.stall_images: set[str] = set()
        self.failing_analysis_images: set[str] = set()

    def step(self) -> None:
        for (plural, _, _), obj in list(self.store.objects.items()):
            handler = {
                "deployments": self._deployment,
                "statefulsets": self._statefulset,
                "rollouts": self._rollout,
            }.get(plural)
            if handler is not None:
                handler(obj)

    def _stalled(self, template: dict[str, Any]) -> bool:
        return bool(images(template) & self.stall_images)

    # -- Deployments ------------------------------------------------------------------------

    def _replicasets(self, deployment: dict[str, Any]) -> list[dict[str, Any]]:
        uid = deployment["metadata"]["uid"]
        return [
            rs
            for rs in self.store.list("replicasets", deployment["metadata"]["namespace"])
            if any(o.get("uid") == uid for o in rs["metadata"].get("ownerReferences") or [])
        ]

    def _new_replicaset(self, deployment: dict[str, Any]) -> dict[str, Any]:
        meta, spec = deployment["metadata"], deployment["spec"]
        wanted = template_hash(spec["template"])
        owned = self._replicasets(deployment)
        revision = (
            max((int(rs["metadata"]["annotations"][REVISION]) for rs in owned), default=0) + 1
        )
        for rs in owned:
            if rs["metadata"]["labels"]["pod-template-hash"] == wanted:
                if rs["metadata"]["annotations"][REVISION] != str(revision - 1):
                    rs["metadata"]["annotations"][REVISION] = str(revision)  # undo reuses it
                    self.store.put("replicasets", rs)
                return rs
        template = copy.deepcopy(spec["template"])
        template.setdefault("metadata", {}).setdefault("labels", {})["pod-template-hash"] = wanted
        labels = {**(template["metadata"]["labels"])}
        rs = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": f"{meta['name']}-{wanted}",
                "namespace": meta["namespace"],
                "labels": labels,
                "annotations": {REVISION: str(revision)},
                "ownerReferences": [
                    {
                        "apiVersion": "apps/v1",
                        "kind": "Deployment",
                        "name": meta["name"],
                        "uid": meta["uid"],
                        "controller": True,
                    }
                ],
            },
            "spec": {
                "replicas": 0,
                "selector": {
                    "matchLabels": {**spec["selector"]["matchLabels"], "pod-template-hash": wanted}
                },
                "template": template,
            },
            "status": {"replicas": 0, "availableReplicas": 0, "readyReplicas": 0},
        }
        return self.store.put("replicasets", rs)

    def _deployment(self, deployment: dict[str, Any]) -> None:
        meta, status = deployment["metadata"], deployment["status"]
        new = self._new_replicaset(deployment)
        if status.get("observedGeneration") != meta["generation"]:
            status["observedGeneration"] = meta["generation"]
            meta.setdefault("annotations", {})[REVISION] = new["metadata"]["annotations"][REVISION]
            self._progressing(
                deployment,
                "True",
                "NewReplicaSetCreated",
                f'Created new replica set "{new["metadata"]["name"]}"',
            )
        else:
            self._roll(deployment, new)
        olds = [rs for rs in self._replicasets(deployment) if rs is not new]
        status["replicas"] = sum(rs["status"]["replicas"] for rs in [new, *olds])
        status["updatedReplicas"] = new["status"]["replicas"]
        status["availableReplicas"] = sum(rs["status"]["availableReplicas"] for rs in [new, *olds])
        status["readyReplicas"] = status["availableReplicas"]
        self.store.put("deployments", deployment)

    def _roll(self, deployment: dict[str, Any], new: dict[str, Any]) -> None:
        desired = deployment["spec"].get("replicas", 1)
        olds = [
            rs for rs in self._replicasets(deployment) if rs is not new and rs["status"]["replicas"]
        ]
        for old in olds:  # unavailable old pods go first (the controller's cleanup)
            if old["status"]["availableReplicas"] < old["status"]["replicas"]:
                old["status"]["replicas"] = old["spec"]["replicas"] = old["status"][
                    "availableReplicas"
                ]
                self.store.put("replicasets", old)
        olds = [rs for rs in olds if rs["status"]["replicas"]]
        stalled = self._stalled(new["spec"]["template"])
        name = new["metadata"]["name"]
        if not stalled and new["status"]["availableReplicas"] < new["status"]["replicas"]:
            new["status"]["availableReplicas"] += 1
            new["status"]["readyReplicas"] += 1
            if olds:
                old = olds[0]
                old["status"]["replicas"] -= 1
                old["status"]["availableReplicas"] = min(
                    old["status"]["availableReplicas"], old["status"]["replicas"]
                )
                old["status"]["readyReplicas"] = old["status"]["availableReplicas"]
                old["spec"]["replicas"] = old["status"]["replicas"]
                self.store.put("replicasets", old)
            self._progressing(
                deployment, "True", "ReplicaSetUpdated", f'ReplicaSet "{name}" is progressing.'
            )
        elif new["status"]["replicas"] < desired and (
            new["status"]["replicas"] == new["status"]["availableReplicas"]  # max surge 1
        ):
            new["status"]["replicas"] += 1
            new["spec"]["replicas"] = new["status"]["replicas"]
            self._progressing(
                deployment, "True", "ReplicaSetUpdated", f'ReplicaSet "{name}" is progressing.'
            )
        elif not stalled and not olds:
            self._progressing(
                deployment,
                "True",
                "NewReplicaSetAvailable",
                f'ReplicaSet "{name}" has successfully progressed.',
                touch=False,
            )
        self.store.put("replicasets", new)
        if stalled:
            self._check_deadline(deployment, name)

    def _check_deadline(self, deployment: dict[str, Any], rs_name: str) -> None:
        condition = _condition(deployment, "Progressing")
        deadline = deployment["spec"].get("progressDeadlineSeconds", 600)
        if condition is None or condition["reason"] == "ProgressDeadlineExceeded":
            return
        since = datetime.fromisoformat(condition["lastUpdateTime"].replace("Z", "+00:00"))
        if (self.store.now - since).total_seconds() > deadline:
            self._progressing(
                deployment,
                "False",
                "ProgressDeadlineExceeded",
                f'ReplicaSet "{rs_name}" has timed out progressing.',
            )

    def _progressing(
        self,
        deployment: dict[str, Any],
        value: str,
        reason: str,
        message: str,
        *,
        touch: bool = True,
    ) -> None:
        conditions = deployment["status"].setdefault("conditions", [])
        existing = _condition(deployment, "Progressing")
        if existing and existing["reason"] == reason and not touch:
            return
        condition = {
            "type": "Progressing",
            "status": value,
            "reason": reason,
            "message": message,
            "lastUpdateTime": self.store.timestamp(),
            "lastTransitionTime": self.store.timestamp(),
        }
        if existing:
            conditions[conditions.index(existing)] = condition
        else:
            conditions.append(condition)

    # -- StatefulSets -----------------------------------------------------------------------

    def _statefulset(self, sts: dict[str, Any]) -> None:
        meta, spec, status = sts["metadata"], sts["spec"], sts["status"]
        replicas = spec.get("replicas", 1)
        revision = f"{meta['name']}-{template_hash(spec['template'])}"
        if status.get("observedGeneration") != meta["generation"]:
            status["observedGeneration"] = meta["generation"]
            status.setdefault("currentRevision", revision)
            status["updateRevision"] = revision
            if status["currentRevision"] != revision:
                status["updatedReplicas"] = 0
            else:
                status["updatedReplicas"] = replicas
                status["readyReplicas"] = replicas
        elif status.get("updatedReplicas", 0) < replicas:
            if self._stalled(spec["template"]):
                status["readyReplicas"] = replicas - 1
            else:
                status["updatedReplicas"] = status.get("updatedReplicas", 0) + 1
                status["readyReplicas"] = replicas
        elif status.get("currentRevision") != status.get("updateRevision"):
            status["currentRevision"] = status["updateRevision"]
        status["replicas"] = replicas
        status["currentReplicas"] = replicas if status.get("currentRevision") == revision else 0
        self.store.put("statefulsets", sts)

    # -- Argo Rollouts ----------------------------------------------------------------------

    def _rollout(self, rollout: dict[str, Any]) -> None:
        from tests.fakes.kube_rollouts import step_rollout

        step_rollout(
            rollout,
            now=self.store.now,
            timestamp=self.store.timestamp(),
            failing_analysis=self.failing_analysis_images,
        )
        self.store.put("rollouts", rollout)
