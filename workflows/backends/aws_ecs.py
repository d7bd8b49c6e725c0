"""The ``aws_ecs`` backend: a new task definition revision with the new image tag.

1. ``describe_services``: the service's current task definition.
2. ``describe_task_definition`` (with tags) and ``register_task_definition`` with the same
   settings, the ``container``'s image pointed at the version (``repo:tag`` and
   ``repo@digest`` become ``repo:<version>``; a ``sha256:...`` version becomes a digest).
3. ``update_service`` to the new revision. State: the new and the previous ARN.

Poll ``describe_services``: our deployment (the one running our task definition) with
``rolloutState`` ``COMPLETED`` succeeds, ``FAILED`` fails (the circuit breaker), else
running. Without a ``rolloutState`` (some deployment controllers, moto) our deployment is
complete when it is PRIMARY, the only deployment left, and ``runningCount ==
desiredCount`` with nothing pending. Cancel: ``update_service`` back to the previous task
definition (ECS then rolls back).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from workflows.backends._aws import AwsClientMixin, aws_errors
from workflows.backends._images import with_version
from workflows.backends.base import (
    BackendError,
    BackendPorts,
    DeployTarget,
    Progress,
    Started,
    Status,
)
from workflows.backends.settings import AwsEcsBackend
from workflows.redact import redact_text

# What register_task_definition accepts from a described task definition.
_REGISTER_KEYS = (
    "family",
    "taskRoleArn",
    "executionRoleArn",
    "networkMode",
    "containerDefinitions",
    "volumes",
    "placementConstraints",
    "requiresCompatibilities",
    "cpu",
    "memory",
    "pidMode",
    "ipcMode",
    "proxyConfiguration",
    "inferenceAccelerators",
    "ephemeralStorage",
    "runtimePlatform",
    "enableFaultInjection",
)
EVENTS_IN_TAIL = 8


class AwsEcsDeployBackend(AwsClientMixin):
    """Rolls one container of one ECS service to a new image tag."""

    name = "aws_ecs"
    _service = "ecs"

    def __init__(self, config: AwsEcsBackend, *, ports: BackendPorts) -> None:
        self.config = config
        self.ports = ports
        self.region = config.region

    def _describe(self) -> dict[str, Any]:
        where = f"ECS service {self.config.service!r} in cluster {self.config.cluster!r}"
        with aws_errors(where):
            answer = self.client().describe_services(
                cluster=self.config.cluster, services=[self.config.service]
            )
        services = [s for s in answer.get("services") or [] if s.get("status") != "INACTIVE"]
        if not services:
            reasons = ", ".join(f.get("reason", "?") for f in answer.get("failures") or [])
            raise BackendError(f"{where} not found" + (f" ({reasons})" if reasons else ""))
        first: dict[str, Any] = services[0]
        return first

    def start(self, target: DeployTarget) -> Started:
        client = self.client()
        previous = self._describe()["taskDefinition"]
        with aws_errors(f"ECS task definition {previous}"):
            described = client.describe_task_definition(taskDefinition=previous, include=["TAGS"])
        definition = described["taskDefinition"]
        containers = definition.get("containerDefinitions") or []
        container = next((c for c in containers if c.get("name") == self.config.container), None)
        if container is None:
            names = ", ".join(c.get("name", "?") for c in containers)
            raise BackendError(
                f"ECS task definition {previous} has no container {self.config.container!r} "
                f"(it has: {names})"
            )
        image = with_version(container["image"], target.version)
        container["image"] = image
        register = {key: definition[key] for key in _REGISTER_KEYS if definition.get(key)}
        if described.get("tags"):
            register["tags"] = described["tags"]
        with aws_errors("ECS register_task_definition"):
            registered = client.register_task_definition(**register)
        new = registered["taskDefinition"]["taskDefinitionArn"]
        with aws_errors(f"ECS update_service {self.config.service!r}"):
            client.update_service(
                cluster=self.config.cluster, service=self.config.service, taskDefinition=new
            )
        state = {"task_definition": new, "previous_task_definition": previous, "image": image}
        return Started(state=state, logs_url=self._logs_url())

    def _logs_url(self) -> str:
        region = self.console_region()
        cluster = quote(self.config.cluster.split("/")[-1], safe="")
        service = quote(self.config.service.split("/")[-1], safe="")
        return (
            f"https://{region}.console.aws.amazon.com/ecs/v2/clusters/{cluster}/services/"
            f"{service}/deployments?region={region}"
        )

    def poll(self, target: DeployTarget, state: Mapping[str, Any]) -> Progress:
        service = self._describe()
        ours_arn = state["task_definition"]
        previous = state.get("previous_task_definition")
        deployments = service.get("deployments") or []
        ours = next((d for d in deployments if d.get("taskDefinition") == ours_arn), None)
        events = [e.get("message", "") for e in (service.get("events") or [])[:EVENTS_IN_TAIL]]
        common: dict[str, Any] = {
            "logs_url": self._logs_url(),
            "output_tail": redact_text("\n".join(reversed(events))) or None,
        }
        if ours is None:
            current = service.get("taskDefinition")
            if current == ours_arn:
                return Progress(status=Status.running, detail="waiting for ECS", **common)
            if current == previous:
                return Progress(
                    status=Status.cancelled,
                    detail="rolled back to the previous task definition",
                    **common,
                )
            return Progress(
                status=Status.failed, detail=f"replaced by another deployment ({current})", **common
            )
        counts = f"{ours.get('runningCount', 0)}/{ours.get('desiredCount', 0)} tasks running"
        if ours.get("failedTasks"):
            counts += f", {ours['failedTasks']} failed"
        rollout = ours.get("rolloutState")
        if rollout == "FAILED":
            reason = ours.get("rolloutStateReason") or "rollout failed"
            return Progress(status=Status.failed, detail=f"{counts}: {reason}", **common)
        if ours.get("status") != "PRIMARY":
            primary: dict[str, Any] = next(
                (d for d in deployments if d.get("status") == "PRIMARY"), {}
            )
            if primary.get("taskDefinition") == previous:
                return Progress(
                    status=Status.cancelled,
                    detail="rolled back to the previous task definition",
                    **common,
                )
            return Progress(
                status=Status.failed,
                detail=f"replaced by another deployment ({primary.get('taskDefinition')})",
                **common,
            )
        if rollout == "COMPLETED" or (rollout is None and _settled(ours, deployments)):
            return Progress(status=Status.succeeded, detail=counts, **common)
        return Progress(status=Status.running, detail=counts, **common)

    def cancel(self, target: DeployTarget, state: Mapping[str, Any]) -> bool:
        """Point the service back at the previous task definition; ECS rolls back."""
        previous = state.get("previous_task_definition")
        if not previous:
            return False
        with aws_errors(f"ECS update_service {self.config.service!r} (rollback)"):
            self.client().update_service(
                cluster=self.config.cluster, service=self.config.service, taskDefinition=previous
            )
        return True


def _settled(ours: Mapping[str, Any], deployments: list[dict[str, Any]]) -> bool:
    return (
        len(deployments) == 1
        and ours.get("runningCount") == ours.get("desiredCount")
        and not ours.get("pendingCount")
    )
