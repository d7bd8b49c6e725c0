"""The ``aws_codepipeline`` backend: start an execution of a pipeline and follow it.

1. ``get_pipeline``: the pipeline must exist; its declared pipeline-level variables
   (V2 pipelines) named ``version``, ``environment``, ``service`` or
   ``shipbot_deploy_id`` are filled in (undeclared variables would be refused).
2. ``start_pipeline_execution(name, clientRequestToken="shipbot-<deploy_id>")``: the token
   makes a retried start return the same execution instead of starting a second one.

Poll ``get_pipeline_execution``: ``InProgress``/``Stopping`` is running, ``Succeeded``
succeeded, ``Stopped``/``Cancelled`` cancelled, ``Failed``/``Superseded`` failed. The
source revision's ``created`` time is reported as ``commit_at``. Cancel:
``stop_pipeline_execution(abandon=False)`` (in-progress actions finish, nothing new starts).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote

from botocore.exceptions import ClientError

from workflows.backends._aws import AwsClientMixin, aws_errors, error_code
from workflows.backends.base import (
    BackendPorts,
    DeployTarget,
    Progress,
    Started,
    Status,
)
from workflows.backends.settings import AwsCodePipelineBackend
from workflows.redact import redact_text

_RUNNING = frozenset({"InProgress", "Stopping"})
_CANCELLED = frozenset({"Stopped", "Cancelled"})


def request_token(target: DeployTarget) -> str:
    return f"shipbot-{target.deploy_id}"


class AwsCodePipelineDeployBackend(AwsClientMixin):
    """Starts and follows executions of one pipeline."""

    name = "aws_codepipeline"
    _service = "codepipeline"

    def __init__(self, config: AwsCodePipelineBackend, *, ports: BackendPorts) -> None:
        self.config = config
        self.ports = ports
        self.region = config.region

    def start(self, target: DeployTarget) -> Started:
        client = self.client()
        where = f"CodePipeline {self.config.pipeline!r}"
        with aws_errors(where):
            pipeline = client.get_pipeline(name=self.config.pipeline)["pipeline"]
        offered = {
            "version": target.version,
            "environment": target.environment,
            "service": target.service,
            "shipbot_deploy_id": str(target.deploy_id),
        }
        declared = {v.get("name") for v in pipeline.get("variables") or []}
        variables = [{"name": k, "value": v} for k, v in offered.items() if k in declared]
        arguments: dict[str, Any] = {
            "name": self.config.pipeline,
            "clientRequestToken": request_token(target),
        }
        if variables:
            arguments["variables"] = variables
        with aws_errors(where):
            execution_id = client.start_pipeline_execution(**arguments)["pipelineExecutionId"]
        state = {"execution_id": execution_id}
        return Started(state=state, logs_url=self._logs_url(execution_id))

    def _logs_url(self, execution_id: str) -> str:
        region = self.console_region()
        pipeline = quote(self.config.pipeline, safe="")
        return (
            f"https://{region}.console.aws.amazon.com/codesuite/codepipeline/pipelines/"
            f"{pipeline}/executions/{execution_id}/timeline?region={region}"
        )

    def poll(self, target: DeployTarget, state: Mapping[str, Any]) -> Progress:
        execution_id = str(state["execution_id"])
        with aws_errors(f"CodePipeline execution {execution_id}"):
            execution = self.client().get_pipeline_execution(
                pipelineName=self.config.pipeline, pipelineExecutionId=execution_id
            )["pipelineExecution"]
        status = execution.get("status") or "InProgress"
        summary = redact_text(str(execution.get("statusSummary") or ""))[:200]
        detail = f"{status}: {summary}" if summary else status
        common: dict[str, Any] = {
            "logs_url": self._logs_url(execution_id),
            "commit_at": _commit_at(execution),
        }
        if status in _RUNNING:
            return Progress(status=Status.running, detail=detail, **common)
        if status == "Succeeded":
            return Progress(status=Status.succeeded, detail=detail, **common)
        if status in _CANCELLED:
            return Progress(status=Status.cancelled, detail=detail, **common)
        return Progress(status=Status.failed, detail=detail, **common)

    def cancel(self, target: DeployTarget, state: Mapping[str, Any]) -> bool:
        """Stop after the running actions finish (``abandon=False``)."""
        execution_id = str(state["execution_id"])
        try:
            self.client().stop_pipeline_execution(
                pipelineName=self.config.pipeline,
                pipelineExecutionId=execution_id,
                abandon=False,
                reason=f"cancelled from shipbot (deploy {target.deploy_id})",
            )
        except ClientError as exc:
            code = error_code(exc)
            if code == "DuplicatedStopRequestException":
                return True
            if code == "PipelineExecutionNotStoppableException":
                return False
            with aws_errors(f"CodePipeline stop_pipeline_execution {execution_id}"):
                raise
        return True


def _commit_at(execution: Mapping[str, Any]) -> datetime | None:
    created = [
        revision["created"]
        for revision in execution.get("artifactRevisions") or []
        if isinstance(revision.get("created"), datetime)
    ]
    return min(created) if created else None
