"""The ``argo_rollouts`` backend: set the image of an Argo Rollouts ``Rollout`` and follow
its canary step by step; Promote and Abort are actions people take between steps.

``start``: GET the Rollout, then one JSON merge patch (a CRD takes no strategic merge) of
the whole ``containers`` list with the container's image set, conditional on the
``resourceVersion`` just read (409 if someone changed it in between), annotated with the
deploy like the ``kubernetes`` backend does.

``poll`` reads what ``kubectl argo rollouts get rollout`` shows: step
``currentStepIndex`` of ``len(spec.strategy.canary.steps)``, the canary weight, a pause
(``pauseConditions``), the step's AnalysisRun status. Succeeded once the controller has
observed the generation and the new pod template hash is the stable one (phase
Healthy); failed when the Rollout is aborted (analysis failed) or Degraded.

``promote`` (``kubectl argo rollouts promote``): clears ``status.pauseConditions`` through
the status subresource (and ``spec.paused``), only if the Rollout is still paused at the
step the person saw, so a second click, a stale card or a race promotes nothing.
``cancel`` is Abort + undo: ``status.abort: true`` sends all traffic back to the stable
ReplicaSet at once, then the previous image goes back into the spec so the Rollout
returns to Healthy on the stable revision instead of staying Degraded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lightkube import Client
from lightkube.types import PatchType

from workflows.backends._images import with_version
from workflows.backends._kube import (
    DEPLOY_ANNOTATION,
    PREVIOUS_IMAGE,
    Rollout,
    as_dict,
    change_annotations,
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
from workflows.backends.settings import ArgoRolloutsBackend


@dataclass(frozen=True)
class Canary:
    """Where a canary is: step ``step`` of ``steps`` (0-based index of the next step to
    run, as Argo counts), the weight the canary gets, whether it waits for a promote, what
    the step's analysis says, and the weight the next ``setWeight`` step would set."""

    step: int
    steps: int
    weight: int
    paused: bool
    analysis: str | None
    next_weight: int | None

    def as_state(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "steps": self.steps,
            "weight": self.weight,
            "paused": self.paused,
            "analysis": self.analysis,
            "next_weight": self.next_weight,
        }


def canary_of(rollout: Mapping[str, Any]) -> Canary:
    spec, status = rollout["spec"], rollout.get("status") or {}
    steps = ((spec.get("strategy") or {}).get("canary") or {}).get("steps") or []
    index = int(status.get("currentStepIndex") or 0)
    canary = status.get("canary") or {}
    weight = ((canary.get("weights") or {}).get("canary") or {}).get("weight")
    if weight is None:  # older controllers: the last setWeight step that has run
        weight = next((s["setWeight"] for s in reversed(steps[:index]) if "setWeight" in s), 0)
    analysis = (canary.get("currentStepAnalysisRunStatus") or {}).get("status")
    upcoming = (s.get("setWeight") for s in steps[index:] if "setWeight" in s)
    return Canary(
        step=index,
        steps=len(steps),
        weight=int(weight),
        paused=bool(status.get("pauseConditions")) or bool(spec.get("paused")),
        analysis=analysis,
        next_weight=next(upcoming, 100),
    )


def describe(canary: Canary) -> str:
    parts = [
        f"canary step {min(canary.step, canary.steps)} of {canary.steps}",
        f"weight {canary.weight}%",
    ]
    if canary.paused:
        parts.append("paused: waiting for promote")
    if canary.analysis:
        parts.append(f"analysis {canary.analysis}")
    return " · ".join(parts)


class ArgoRolloutsDeployBackend:
    """Drives one Rollout; see the module docstring."""

    name = "argo_rollouts"

    def __init__(self, config: ArgoRolloutsBackend, *, ports: BackendPorts) -> None:
        self.config = config
        self.ports = ports

    def _get(self, client: Client) -> dict[str, Any]:
        return as_dict(client.get(Rollout, self.config.name))

    def _set_image(
        self, client: Client, rollout: Mapping[str, Any], image: str, annotations: dict[str, str]
    ) -> dict[str, Any]:
        containers = [dict(c) for c in rollout["spec"]["template"]["spec"]["containers"]]
        for item in containers:
            if item.get("name") == self.config.container:
                item["image"] = image
        patch = {
            "metadata": {
                "resourceVersion": rollout["metadata"]["resourceVersion"],
                "annotations": annotations,
            },
            "spec": {"template": {"spec": {"containers": containers}}},
        }
        return as_dict(client.patch(Rollout, self.config.name, patch, patch_type=PatchType.MERGE))

    def start(self, target: DeployTarget) -> Started:
        with kube_client(self.config) as client:
            rollout = self._get(client)
            before = container_image(rollout, self.config.container)
            image = with_version(self.config.image or before, target.version)
            annotations = rollout["metadata"].get("annotations") or {}
            state: dict[str, Any] = {
                "image": image,
                "previous_image": before,
                "generation": rollout["metadata"].get("generation", 0),
                "patched": False,
            }
            if annotations.get(DEPLOY_ANNOTATION) == str(target.deploy_id):
                state["previous_image"] = annotations.get(PREVIOUS_IMAGE, before)
            elif before != image:
                marks = change_annotations(target, previous_image=before)
                patched = self._set_image(client, rollout, image, marks)
                state["generation"] = patched["metadata"]["generation"]
                state["patched"] = True
        return Started(state=state, logs_url=logs_link(self.config, target))

    def poll(self, target: DeployTarget, state: Mapping[str, Any]) -> Progress:
        with kube_client(self.config) as client:
            rollout = self._get(client)
        logs = logs_link(self.config, target)
        image = container_image(rollout, self.config.container)
        if image != state["image"]:
            return Progress(
                status=Status.failed,
                detail=f"superseded: {self.config.container} is now {image}",
                logs_url=logs,
            )
        status = rollout.get("status") or {}
        canary = canary_of(rollout)
        new_state = {**state, "canary": canary.as_state()}
        observed = str(status.get("observedGeneration") or "")
        generation = max(int(state["generation"]), int(rollout["metadata"]["generation"]))
        if observed != str(generation):
            return Progress(
                status=Status.running,
                detail="waiting for the rollout spec update to be observed",
                state=new_state,
                logs_url=logs,
            )
        if status.get("abort") or status.get("phase") == "Degraded":
            message = str(status.get("message") or "rollout aborted")[:200]
            return Progress(status=Status.failed, detail=message, state=new_state, logs_url=logs)
        healthy = status.get("phase") == "Healthy"
        if healthy and status.get("stableRS") == status.get("currentPodHash"):
            return Progress(
                status=Status.succeeded,
                detail=f"fully promoted: {canary.steps} of {canary.steps} steps",
                state=new_state,
                logs_url=logs,
            )
        return Progress(
            status=Status.running, detail=describe(canary), state=new_state, logs_url=logs
        )

    def promote(self, target: DeployTarget, state: Mapping[str, Any], *, at_step: int) -> Canary:
        """Let a canary paused at step ``at_step`` go on; ``BackendError`` if it is not
        paused there (already promoted, moved on, or aborted)."""
        with kube_client(self.config) as client:
            rollout = self._get(client)
            canary = canary_of(rollout)
            if not canary.paused or canary.step != at_step:
                raise BackendError(
                    f"the canary is not paused at step {at_step} any more ({describe(canary)})"
                )
            if rollout["spec"].get("paused"):
                client.patch(
                    Rollout,
                    self.config.name,
                    {"spec": {"paused": False}},
                    patch_type=PatchType.MERGE,
                )
            client.patch(
                Rollout.Status,
                self.config.name,
                {
                    "metadata": {"resourceVersion": rollout["metadata"]["resourceVersion"]},
                    "status": {"pauseConditions": None},
                },
                patch_type=PatchType.MERGE,
            )
        return canary

    def cancel(self, target: DeployTarget, state: Mapping[str, Any]) -> bool:
        with kube_client(self.config) as client:
            client.patch(
                Rollout.Status,
                self.config.name,
                {"status": {"abort": True}},
                patch_type=PatchType.MERGE,
            )
            rollout = self._get(client)
            if container_image(rollout, self.config.container) == state["image"]:
                self._set_image(client, rollout, str(state["previous_image"]), {})
        return True
