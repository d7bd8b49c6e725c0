"""The aws_lambda backend against moto (reached through AWS_ENDPOINT_URL)."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import boto3
import pytest

from tests.workflows.backends.conftest import AWS_REGION
from tests.workflows.backends.helpers import make_target, stored
from workflows.backends import BackendError, BackendPorts, Status, build_backend
from workflows.backends.settings import AwsLambdaBackend


def _zip(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", source)
    return buffer.getvalue()


@pytest.fixture
def lambda_client(moto: str) -> Any:
    iam = boto3.client("iam", region_name=AWS_REGION)
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    role = iam.create_role(RoleName="web-fn", AssumeRolePolicyDocument=json.dumps(trust))
    client = boto3.client("lambda", region_name=AWS_REGION)
    client.create_function(
        FunctionName="web",
        Runtime="python3.12",
        Role=role["Role"]["Arn"],
        Handler="handler.main",
        Code={"ZipFile": _zip("def main(event, context):\n    return 1\n")},
    )
    return client


def _backend(function_name: str = "web") -> Any:
    model = AwsLambdaBackend(backend="aws_lambda", function_name=function_name, alias="live")
    return build_backend(model, ports=BackendPorts())


def test_publish_and_create_the_alias_then_move_it(lambda_client: Any) -> None:
    backend = _backend()
    first = make_target(deploy_id=1, version="1.0.0")
    started = backend.start(first)
    first_progress = backend.poll(first, stored(started.state))

    lambda_client.update_function_code(
        FunctionName="web", ZipFile=_zip("def main(event, context):\n    return 2\n")
    )
    second = make_target(deploy_id=2, version="1.1.0")
    state = stored(backend.start(second).state)
    progress = backend.poll(second, state)

    alias = lambda_client.get_alias(FunctionName="web", Name="live")
    assert started.state["previous_version"] is None
    assert first_progress.status is Status.succeeded
    assert state["previous_version"] == started.state["function_version"]
    assert alias["FunctionVersion"] == state["function_version"] != state["previous_version"]
    published = lambda_client.get_function(FunctionName="web", Qualifier=state["function_version"])
    assert published["Configuration"]["Description"] == "1.1.0"
    assert (progress.status, progress.detail) == (
        Status.succeeded,
        f"alias live → version {state['function_version']}",
    )
    assert "#/functions/web/aliases/live" in (started.logs_url or "")


def test_alias_moved_by_someone_else_fails(lambda_client: Any) -> None:
    backend = _backend()
    target = make_target()
    state = stored(backend.start(target).state)
    lambda_client.update_alias(FunctionName="web", Name="live", FunctionVersion="$LATEST")

    progress = backend.poll(target, state)

    assert progress.status is Status.failed
    assert "now points at version $LATEST" in progress.detail


def test_cancel_is_not_possible(lambda_client: Any) -> None:
    backend = _backend()
    target = make_target()
    state = stored(backend.start(target).state)

    assert backend.cancel(target, state) is False
    assert (
        lambda_client.get_alias(FunctionName="web", Name="live")["FunctionVersion"]
        == state["function_version"]
    )


def test_missing_function_is_refused(moto: str) -> None:
    with pytest.raises(BackendError, match="Lambda function 'nope': ResourceNotFoundException"):
        _backend("nope").start(make_target())
