"""Loopback fakes of AWS JSON-protocol services moto does not fully implement.

The real boto3 client talks to them through ``endpoint_url``: requests are
``POST /`` with ``X-Amz-Target: <prefix>.<Operation>`` and a JSON body, answers are JSON
(``application/x-amz-json-1.1``), errors are ``{"__type": <code>, "message": ...}``.
moto implements neither CodePipeline's execution lifecycle (executions succeed at once,
no ``clientRequestToken``, no ``StopPipelineExecution``) nor CodeDeploy's
``StopDeployment``.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from tests.workflows.backends.http_fake import FakeHttpServer, Recorded, Reply


class AwsError(Exception):
    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


class AwsJsonFake:
    """Dispatches ``X-Amz-Target`` operations to methods of the same name."""

    prefix = ""

    def __init__(self, server: FakeHttpServer) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.errors: dict[str, AwsError] = {}  # operation -> error to answer (scripted)
        server.add("POST", "/", self._handle)

    def _handle(self, request: Recorded, match: re.Match[str]) -> Reply:
        prefix, _, operation = request.headers.get("x-amz-target", "").partition(".")
        body = request.json() if request.body else {}
        self.calls.append((operation, body))
        try:
            if prefix != self.prefix or not hasattr(self, operation):
                raise AwsError("UnknownOperationException", f"{prefix}.{operation}")
            if operation in self.errors:
                raise self.errors[operation]
            answer = getattr(self, operation)(body)
        except AwsError as error:
            return Reply(
                error.status,
                {"__type": error.code, "message": error.message},
                headers={"Content-Type": "application/x-amz-json-1.1"},
            )
        return Reply(200, answer, headers={"Content-Type": "application/x-amz-json-1.1"})

    def operations(self) -> list[str]:
        return [operation for operation, _ in self.calls]


class FakeCodePipeline(AwsJsonFake):
    prefix = "CodePipeline_20150709"

    def __init__(self, server: FakeHttpServer) -> None:
        super().__init__(server)
        self.pipelines: dict[str, dict[str, Any]] = {}
        self.executions: dict[str, dict[str, Any]] = {}
        self.tokens: dict[str, str] = {}

    def GetPipeline(self, body: dict[str, Any]) -> dict[str, Any]:
        pipeline = self.pipelines.get(body["name"])
        if pipeline is None:
            raise AwsError("PipelineNotFoundException", f"pipeline {body['name']} not found")
        return {
            "pipeline": pipeline,
            "metadata": {"pipelineArn": f"arn:aws:codepipeline:::{body['name']}"},
        }

    def StartPipelineExecution(self, body: dict[str, Any]) -> dict[str, Any]:
        self.GetPipeline({"name": body["name"]})
        token = body.get("clientRequestToken")
        if token in self.tokens:  # idempotent, as the real API
            return {"pipelineExecutionId": self.tokens[token]}
        execution_id = str(uuid.uuid4())
        self.executions[execution_id] = {
            "pipelineName": body["name"],
            "pipelineVersion": 1,
            "pipelineExecutionId": execution_id,
            "status": "InProgress",
            "variables": [
                {"name": v["name"], "resolvedValue": v["value"]} for v in body.get("variables", [])
            ],
            "artifactRevisions": [],
        }
        if token:
            self.tokens[token] = execution_id
        return {"pipelineExecutionId": execution_id}

    def GetPipelineExecution(self, body: dict[str, Any]) -> dict[str, Any]:
        execution = self.executions.get(body["pipelineExecutionId"])
        if execution is None or execution["pipelineName"] != body["pipelineName"]:
            raise AwsError("PipelineExecutionNotFoundException", "no such execution")
        return {"pipelineExecution": execution}

    def StopPipelineExecution(self, body: dict[str, Any]) -> dict[str, Any]:
        execution = self.GetPipelineExecution(body)["pipelineExecution"]
        if execution["status"] != "InProgress":
            raise AwsError("PipelineExecutionNotStoppableException", "not in progress")
        execution["status"] = "Stopping"
        execution["statusSummary"] = body.get("reason", "")
        return {"pipelineExecutionId": execution["pipelineExecutionId"]}


class FakeCodeDeploy(AwsJsonFake):
    prefix = "CodeDeploy_20141006"

    def __init__(self, server: FakeHttpServer) -> None:
        super().__init__(server)
        self.groups: dict[tuple[str, str], dict[str, Any]] = {}
        self.deployments: dict[str, dict[str, Any]] = {}

    def GetDeploymentGroup(self, body: dict[str, Any]) -> dict[str, Any]:
        key = (body["applicationName"], body["deploymentGroupName"])
        if key not in self.groups:
            raise AwsError("DeploymentGroupDoesNotExistException", "No Deployment Group found")
        return {"deploymentGroupInfo": self.groups[key]}

    def CreateDeployment(self, body: dict[str, Any]) -> dict[str, Any]:
        self.GetDeploymentGroup(body)
        deployment_id = "d-" + uuid.uuid4().hex[:9].upper()
        self.deployments[deployment_id] = {
            "deploymentId": deployment_id,
            "applicationName": body["applicationName"],
            "deploymentGroupName": body["deploymentGroupName"],
            "revision": body["revision"],
            "description": body.get("description"),
            "status": "Created",
        }
        return {"deploymentId": deployment_id}

    def GetDeployment(self, body: dict[str, Any]) -> dict[str, Any]:
        deployment = self.deployments.get(body["deploymentId"])
        if deployment is None:
            raise AwsError("DeploymentDoesNotExistException", "no such deployment")
        return {"deploymentInfo": deployment}

    def StopDeployment(self, body: dict[str, Any]) -> dict[str, Any]:
        deployment = self.GetDeployment(body)["deploymentInfo"]
        if deployment["status"] in ("Succeeded", "Failed", "Stopped"):
            raise AwsError("DeploymentAlreadyCompletedException", "already completed")
        deployment["stop_rollback"] = body.get("autoRollbackEnabled")
        deployment["status"] = "Stopped"
        deployment["errorInformation"] = {"code": "MANUAL_STOP", "message": "stopped by user"}
        return {"status": "Pending", "statusMessage": "Stop requested"}
