"""The aws_ecs backend against moto (reached through AWS_ENDPOINT_URL).

moto keeps a service's deployment list as it was at creation and never progresses it, so
the tests play the ECS scheduler: they set the deployments moto reports."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from moto.ecs.models import ecs_backends

from tests.workflows.backends.conftest import AWS_REGION, MOTO_ACCOUNT
from tests.workflows.backends.helpers import make_target, stored
from workflows.backends import BackendError, BackendPorts, Status, build_backend
from workflows.backends._images import with_version
from workflows.backends.settings import AwsEcsBackend

IMAGE = "registry.example:5000/acme/web:1.0.0@sha256:" + "ab" * 32


@pytest.fixture
def ecs(moto: str) -> Any:
    client = boto3.client("ecs", region_name=AWS_REGION)
    client.create_cluster(clusterName="prod")
    client.register_task_definition(
        family="web",
        containerDefinitions=[
            {
                "name": "app",
                "image": IMAGE,
                "memory": 256,
                "environment": [{"name": "A", "value": "1"}],
            },
            {"name": "sidecar", "image": "envoy:1.30", "memory": 64},
        ],
        tags=[{"key": "team", "value": "platform"}],
    )
    client.create_service(cluster="prod", serviceName="web", taskDefinition="web:1", desiredCount=2)
    return client


def _backend(**config: Any) -> Any:
    values = {"cluster": "prod", "service": "web", "container": "app", **config}
    return build_backend(AwsEcsBackend(backend="aws_ecs", **values), ports=BackendPorts())


def _scheduler(*deployments: dict[str, Any]) -> None:
    """Set the deployments moto reports for prod/web, as ECS would."""
    service = ecs_backends[MOTO_ACCOUNT][AWS_REGION].services["prod:web"]
    service.deployments = [
        {"id": f"ecs-svc/{i}", "desiredCount": 2, "pendingCount": 0, "failedTasks": 0, **d}
        for i, d in enumerate(deployments)
    ]


def test_new_revision_with_the_new_tag_then_rollout(ecs: Any) -> None:
    backend = _backend()
    target = make_target(version="2.0.0")

    started = backend.start(target)
    state = stored(started.state)
    new, old = state["task_definition"], state["previous_task_definition"]
    waiting = backend.poll(target, state)
    _scheduler(
        {
            "status": "PRIMARY",
            "taskDefinition": new,
            "runningCount": 1,
            "rolloutState": "IN_PROGRESS",
        },
        {"status": "ACTIVE", "taskDefinition": old, "runningCount": 2, "rolloutState": "COMPLETED"},
    )
    rolling = backend.poll(target, state)
    _scheduler(
        {"status": "PRIMARY", "taskDefinition": new, "runningCount": 2, "rolloutState": "COMPLETED"}
    )
    done = backend.poll(target, state)

    described = ecs.describe_task_definition(taskDefinition=new, include=["TAGS"])
    containers = {c["name"]: c for c in described["taskDefinition"]["containerDefinitions"]}
    assert containers["app"]["image"] == "registry.example:5000/acme/web:2.0.0"
    assert containers["app"]["environment"] == [{"name": "A", "value": "1"}]
    assert containers["sidecar"]["image"] == "envoy:1.30"
    assert described["tags"] == [{"key": "team", "value": "platform"}]
    assert old.endswith(":1") and new.endswith(":2")
    service = ecs.describe_services(cluster="prod", services=["web"])["services"][0]
    assert service["taskDefinition"] == new
    assert (waiting.status, waiting.detail) == (Status.running, "waiting for ECS")
    assert (rolling.status, rolling.detail) == (Status.running, "1/2 tasks running")
    assert (done.status, done.detail) == (Status.succeeded, "2/2 tasks running")
    assert "ecs/v2/clusters/prod/services/web/deployments" in (started.logs_url or "")


def test_without_rollout_state_a_settled_primary_is_complete(ecs: Any) -> None:
    backend = _backend()
    target = make_target()
    state = stored(backend.start(target).state)
    new, old = state["task_definition"], state["previous_task_definition"]

    _scheduler(
        {"status": "PRIMARY", "taskDefinition": new, "runningCount": 2},
        {"status": "ACTIVE", "taskDefinition": old, "runningCount": 1},
    )
    draining = backend.poll(target, state)
    _scheduler({"status": "PRIMARY", "taskDefinition": new, "runningCount": 2})
    settled = backend.poll(target, state)

    assert (draining.status, settled.status) == (Status.running, Status.succeeded)


def test_circuit_breaker_failure_fails(ecs: Any) -> None:
    backend = _backend()
    target = make_target()
    state = stored(backend.start(target).state)
    _scheduler(
        {
            "status": "PRIMARY",
            "taskDefinition": state["task_definition"],
            "runningCount": 0,
            "failedTasks": 3,
            "rolloutState": "FAILED",
            "rolloutStateReason": "ECS deployment circuit breaker: tasks failed to start.",
        }
    )

    progress = backend.poll(target, state)

    assert progress.status is Status.failed
    assert (
        progress.detail
        == "0/2 tasks running, 3 failed: ECS deployment circuit breaker: tasks failed to start."
    )


def test_cancel_rolls_back_to_the_previous_task_definition(ecs: Any) -> None:
    backend = _backend()
    target = make_target()
    state = stored(backend.start(target).state)

    assert backend.cancel(target, state) is True

    service = ecs.describe_services(cluster="prod", services=["web"])["services"][0]
    assert service["taskDefinition"] == state["previous_task_definition"]
    assert backend.poll(target, state).status is Status.cancelled


def test_refusals_are_backend_errors(ecs: Any) -> None:
    with pytest.raises(BackendError, match=r"no container 'api' .*it has: app, sidecar"):
        _backend(container="api").start(make_target())
    with pytest.raises(BackendError, match="ECS service 'nope' in cluster 'prod'"):
        _backend(service="nope").start(make_target())
    with pytest.raises(BackendError, match="cluster 'missing'"):
        _backend(cluster="missing").start(make_target())


@pytest.mark.parametrize(
    ("image", "version", "expected"),
    [
        ("nginx", "1.27", "nginx:1.27"),
        ("nginx:1.25", "1.27", "nginx:1.27"),
        ("registry:5000/team/app", "v2", "registry:5000/team/app:v2"),
        ("registry:5000/team/app:v1@sha256:" + "0" * 64, "v2", "registry:5000/team/app:v2"),
        ("app:v1", "sha256:" + "1" * 64, "app@sha256:" + "1" * 64),
    ],
)
def test_image_references(image: str, version: str, expected: str) -> None:
    assert with_version(image, version) == expected
