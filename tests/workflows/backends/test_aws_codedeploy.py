"""The aws_codedeploy backend: start and poll against moto, the revision convention and
cancel against a loopback CodeDeploy fake (moto has no StopDeployment and never fills
``targetRevision``)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.config import Config
from moto.codedeploy.models import codedeploy_backends

from tests.workflows.backends.aws_json_fake import FakeCodeDeploy
from tests.workflows.backends.conftest import AWS_REGION, MOTO_ACCOUNT
from tests.workflows.backends.helpers import make_target, stored
from tests.workflows.backends.http_fake import FakeHttpServer
from workflows.backends import BackendError, BackendPorts, Status, build_backend
from workflows.backends.aws_codedeploy import revision_for
from workflows.backends.settings import AwsCodeDeployBackend

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def _model(**config: Any) -> AwsCodeDeployBackend:
    values = {"application": "web", "deployment_group": "prod", **config}
    return AwsCodeDeployBackend(backend="aws_codedeploy", **values)


@pytest.fixture
def codedeploy(moto: str) -> Any:
    iam = boto3.client("iam", region_name=AWS_REGION)
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "codedeploy.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    role = iam.create_role(RoleName="codedeploy", AssumeRolePolicyDocument=json.dumps(trust))
    client = boto3.client("codedeploy", region_name=AWS_REGION)
    client.create_application(applicationName="web", computePlatform="Server")
    client.create_deployment_group(
        applicationName="web", deploymentGroupName="prod", serviceRoleArn=role["Role"]["Arn"]
    )
    return client


def _moto_status(deployment_id: str, status: str) -> None:
    """Play CodeDeploy's agents: moto leaves every deployment in Created."""
    codedeploy_backends[MOTO_ACCOUNT][AWS_REGION].deployments[deployment_id].status = status


def test_s3_uri_version_against_moto(codedeploy: Any) -> None:
    backend = build_backend(_model(), ports=BackendPorts())
    target = make_target(version="s3://artifacts/web/1.2.3.tar.gz")

    started = backend.start(target)
    state = stored(started.state)
    created = backend.poll(target, state)
    _moto_status(state["deployment_id"], "InProgress")
    in_progress = backend.poll(target, state)
    _moto_status(state["deployment_id"], "Succeeded")
    done = backend.poll(target, state)

    info = codedeploy.get_deployment(deploymentId=state["deployment_id"])["deploymentInfo"]
    assert info["revision"] == {
        "revisionType": "S3",
        "s3Location": {"bucket": "artifacts", "key": "web/1.2.3.tar.gz", "bundleType": "tgz"},
    }
    assert "shipbot deploy 7: web s3://artifacts/web/1.2.3.tar.gz" in info["description"]
    assert [p.status for p in (created, in_progress, done)] == [
        Status.running,
        Status.running,
        Status.succeeded,
    ]
    assert state["deployment_id"] in (started.logs_url or "")


def test_failed_deployment_fails(codedeploy: Any) -> None:
    backend = build_backend(_model(), ports=BackendPorts())
    target = make_target(version="s3://artifacts/web/1.2.3.zip")
    state = stored(backend.start(target).state)
    _moto_status(state["deployment_id"], "Failed")

    assert backend.poll(target, state).status is Status.failed


def test_unknown_group_is_refused(codedeploy: Any) -> None:
    with pytest.raises(BackendError, match="DeploymentGroupDoesNotExistException"):
        build_backend(_model(deployment_group="nope"), ports=BackendPorts()).start(
            make_target(version="s3://artifacts/web/1.zip")
        )


@pytest.fixture
def fake(http_server: FakeHttpServer, aws_credentials: None) -> FakeCodeDeploy:
    return FakeCodeDeploy(http_server)


def _fake_backend(server: FakeHttpServer) -> Any:
    def client(service: str, region: str | None) -> Any:
        return boto3.client(
            service,
            region_name=region or AWS_REGION,
            endpoint_url=server.url,
            config=Config(retries={"total_max_attempts": 1}),
        )

    return build_backend(_model(), ports=BackendPorts(aws_client=client))


def test_plain_version_follows_the_groups_last_s3_revision_then_cancel(
    http_server: FakeHttpServer, fake: FakeCodeDeploy
) -> None:
    fake.groups[("web", "prod")] = {
        "deploymentGroupName": "prod",
        "targetRevision": {
            "revisionType": "S3",
            "s3Location": {"bucket": "artifacts", "key": "web/1.0.0.zip", "bundleType": "zip"},
        },
    }
    backend = _fake_backend(http_server)
    target = make_target(version="1.1.0")
    state = stored(backend.start(target).state)

    assert fake.deployments[state["deployment_id"]]["revision"]["s3Location"] == {
        "bucket": "artifacts",
        "key": "web/1.1.0.zip",
        "bundleType": "zip",
    }
    assert backend.cancel(target, state) is True
    progress = backend.poll(target, state)
    assert (progress.status, progress.detail) == (Status.cancelled, "Stopped: stopped by user")
    assert fake.deployments[state["deployment_id"]]["stop_rollback"] is True
    assert backend.cancel(target, state) is False  # already completed


def test_revision_convention() -> None:
    github = {
        "revisionType": "GitHub",
        "gitHubLocation": {"repository": "acme/web", "commitId": "x"},
    }
    assert revision_for(make_target(version=COMMIT), github) == {
        "revisionType": "GitHub",
        "gitHubLocation": {"repository": "acme/web", "commitId": COMMIT},
    }
    with pytest.raises(BackendError, match="40-character commit id"):
        revision_for(make_target(version="1.2.3"), github)
    with pytest.raises(BackendError, match="s3://bucket/key"):
        revision_for(make_target(version="1.2.3"), None)
    assert (
        revision_for(make_target(version="s3://b/app.yaml"), None)["s3Location"]["bundleType"]
        == "YAML"
    )


def test_stopped_by_an_alarm_is_a_failure(
    http_server: FakeHttpServer, fake: FakeCodeDeploy
) -> None:
    backend = _fake_backend(http_server)
    fake.groups[("web", "prod")] = {"deploymentGroupName": "prod"}
    target = make_target(version="s3://artifacts/web/2.zip")
    state = stored(backend.start(target).state)
    fake.deployments[state["deployment_id"]].update(
        status="Stopped",
        errorInformation={"code": "ALARM_ACTIVE", "message": "alarm 5xx-rate fired"},
        deploymentOverview={"Succeeded": 1, "Failed": 1},
    )

    progress = backend.poll(target, state)

    assert (progress.status, progress.detail) == (
        Status.failed,
        "Stopped (1 succeeded, 1 failed): alarm 5xx-rate fired",
    )
