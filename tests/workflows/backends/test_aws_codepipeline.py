"""The aws_codepipeline backend: its lifecycle against a loopback CodePipeline fake (moto
lacks execution progress, idempotency tokens and stop), a smoke test against moto."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.workflows.backends.aws_json_fake import AwsError, FakeCodePipeline
from tests.workflows.backends.conftest import AWS_REGION
from tests.workflows.backends.helpers import make_target, stored
from tests.workflows.backends.http_fake import FakeHttpServer
from workflows.backends import BackendError, BackendPorts, Status, build_backend
from workflows.backends.settings import AwsCodePipelineBackend

NO_RETRIES = Config(retries={"total_max_attempts": 1})


@pytest.fixture
def pipeline(http_server: FakeHttpServer, aws_credentials: None) -> FakeCodePipeline:
    fake = FakeCodePipeline(http_server)
    fake.pipelines["web-deploy"] = {
        "name": "web-deploy",
        "roleArn": "arn:aws:iam::123456789012:role/pipeline",
        "stages": [],
        "version": 1,
        "variables": [{"name": "version"}, {"name": "shipbot_deploy_id"}],
    }
    return fake


def _backend(server: FakeHttpServer, name: str = "web-deploy") -> Any:
    def client(service: str, region: str | None) -> Any:
        return boto3.client(service, region_name=region, endpoint_url=server.url, config=NO_RETRIES)

    model = AwsCodePipelineBackend(backend="aws_codepipeline", pipeline=name, region=AWS_REGION)
    return build_backend(model, ports=BackendPorts(aws_client=client))


def test_start_with_token_and_variables_then_follow(
    http_server: FakeHttpServer, pipeline: FakeCodePipeline
) -> None:
    backend = _backend(http_server)
    target = make_target(deploy_id=31, version="4.5.6")

    started = backend.start(target)
    again = backend.start(target)  # e.g. a retried start: the token makes it the same run
    state = stored(started.state)
    execution = pipeline.executions[state["execution_id"]]
    running = backend.poll(target, state)
    execution["status"] = "Succeeded"
    execution["artifactRevisions"] = [
        {"name": "Source", "revisionId": "c0ffee", "created": 1767600000.0}
    ]
    done = backend.poll(target, state)

    start_call = next(body for op, body in pipeline.calls if op == "StartPipelineExecution")
    assert start_call["name"] == "web-deploy"
    assert start_call["clientRequestToken"] == "shipbot-31"
    assert start_call["variables"] == [
        {"name": "version", "value": "4.5.6"},
        {"name": "shipbot_deploy_id", "value": "31"},
    ]
    assert again.state == started.state and len(pipeline.executions) == 1
    assert (running.status, done.status) == (Status.running, Status.succeeded)
    assert done.commit_at == datetime.fromtimestamp(1767600000, UTC)
    assert f"pipelines/web-deploy/executions/{state['execution_id']}" in (done.logs_url or "")


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("Failed", Status.failed),
        ("Superseded", Status.failed),
        ("Stopped", Status.cancelled),
        ("Cancelled", Status.cancelled),
        ("Stopping", Status.running),
    ],
)
def test_terminal_statuses(
    http_server: FakeHttpServer, pipeline: FakeCodePipeline, status: str, expected: Status
) -> None:
    backend = _backend(http_server)
    target = make_target()
    state = stored(backend.start(target).state)
    pipeline.executions[state["execution_id"]].update(status=status, statusSummary="why")

    progress = backend.poll(target, state)

    assert (progress.status, progress.detail) == (expected, f"{status}: why")


def test_cancel_stops_without_abandoning(
    http_server: FakeHttpServer, pipeline: FakeCodePipeline
) -> None:
    backend = _backend(http_server)
    target = make_target(deploy_id=5)
    state = stored(backend.start(target).state)

    assert backend.cancel(target, state) is True
    assert backend.poll(target, state).status is Status.running  # Stopping
    assert backend.cancel(target, state) is False  # not stoppable any more

    stop = next(body for op, body in pipeline.calls if op == "StopPipelineExecution")
    assert stop["abandon"] is False
    assert stop["reason"] == "cancelled from shipbot (deploy 5)"


def test_refusals_are_backend_errors_and_throttling_is_retryable(
    http_server: FakeHttpServer, pipeline: FakeCodePipeline
) -> None:
    with pytest.raises(BackendError, match="PipelineNotFoundException"):
        _backend(http_server, "nope").start(make_target())

    pipeline.errors["StartPipelineExecution"] = AwsError("AccessDeniedException", "not allowed")
    with pytest.raises(BackendError, match="AccessDeniedException: not allowed"):
        _backend(http_server).start(make_target())

    pipeline.errors["StartPipelineExecution"] = AwsError("ThrottlingException", "slow down")
    with pytest.raises(ClientError) as caught:
        _backend(http_server).start(make_target())
    assert not isinstance(caught.value, BackendError)


def test_smoke_against_moto(moto: str) -> None:
    iam = boto3.client("iam", region_name=AWS_REGION)
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "codepipeline.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    role = iam.create_role(RoleName="pipeline", AssumeRolePolicyDocument=json.dumps(trust))
    stage = {
        "name": "Source",
        "actions": [
            {
                "name": "Source",
                "actionTypeId": {
                    "category": "Source",
                    "owner": "AWS",
                    "provider": "S3",
                    "version": "1",
                },
                "configuration": {"S3Bucket": "artifacts", "S3ObjectKey": "web.zip"},
                "outputArtifacts": [{"name": "src"}],
            }
        ],
    }
    boto3.client("codepipeline", region_name=AWS_REGION).create_pipeline(
        pipeline={
            "name": "web-deploy",
            "roleArn": role["Role"]["Arn"],
            "artifactStore": {"type": "S3", "location": "artifacts"},
            "stages": [stage, {**stage, "name": "Deploy"}],
        }
    )
    model = AwsCodePipelineBackend(backend="aws_codepipeline", pipeline="web-deploy")
    backend = build_backend(model, ports=BackendPorts())
    target = make_target()

    progress = backend.poll(target, stored(backend.start(target).state))

    assert progress.status is Status.succeeded  # moto's executions succeed at once
