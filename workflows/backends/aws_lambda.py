"""The ``aws_lambda`` backend: publish the function's current code as a version and
point the alias at it.

The version shipbot deploys is a label here: the code is whatever ``$LATEST`` holds (CI
uploaded it); ``publish_version`` freezes it with ``Description = <version>``, then
``update_alias`` (or ``create_alias`` the first time) moves ``alias`` to it. Lambda
returns the existing latest version when ``$LATEST`` has not changed since it was last
published; the alias then moves to that version.

Poll: ``get_alias`` still points at our version and ``get_function(Qualifier=version)``
is ``State: Active`` with ``LastUpdateStatus: Successful``. Cancel: impossible, the alias
moved at ``start`` (a rollback is a new deploy).
"""

from __future__ import annotations

from collections.abc import Mapping
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
from workflows.backends.settings import AwsLambdaBackend
from workflows.redact import redact_text


class AwsLambdaDeployBackend(AwsClientMixin):
    """Publishes a version of one function and moves one alias to it."""

    name = "aws_lambda"
    _service = "lambda"

    def __init__(self, config: AwsLambdaBackend, *, ports: BackendPorts) -> None:
        self.config = config
        self.ports = ports
        self.region = config.region

    def _alias_version(self) -> str | None:
        try:
            answer = self.client().get_alias(
                FunctionName=self.config.function_name, Name=self.config.alias
            )
        except ClientError as exc:
            if error_code(exc) == "ResourceNotFoundException":
                return None
            with aws_errors(f"Lambda alias {self.config.alias!r}"):
                raise
        return str(answer.get("FunctionVersion"))

    def start(self, target: DeployTarget) -> Started:
        client = self.client()
        function = self.config.function_name
        with aws_errors(f"Lambda function {function!r}"):
            client.get_function(FunctionName=function)
        previous = self._alias_version()
        with aws_errors(f"Lambda publish_version {function!r}"):
            published = client.publish_version(
                FunctionName=function, Description=target.version[:256]
            )
        version = str(published["Version"])
        description = f"shipbot deploy {target.deploy_id}: {target.version}"[:256]
        alias_args = {
            "FunctionName": function,
            "Name": self.config.alias,
            "FunctionVersion": version,
            "Description": description,
        }
        with aws_errors(f"Lambda alias {self.config.alias!r}"):
            if previous is None:
                client.create_alias(**alias_args)
            else:
                client.update_alias(**alias_args)
        state = {"function_version": version, "previous_version": previous}
        return Started(state=state, logs_url=self._logs_url())

    def _logs_url(self) -> str:
        region = self.console_region()
        function = quote(self.config.function_name, safe="")
        alias = quote(self.config.alias, safe="")
        return (
            f"https://{region}.console.aws.amazon.com/lambda/home?region={region}"
            f"#/functions/{function}/aliases/{alias}"
        )

    def poll(self, target: DeployTarget, state: Mapping[str, Any]) -> Progress:
        version = str(state["function_version"])
        logs_url = self._logs_url()
        current = self._alias_version()
        if current != version:
            return Progress(
                status=Status.failed,
                detail=f"alias {self.config.alias} now points at version {current}, not {version}",
                logs_url=logs_url,
            )
        with aws_errors(f"Lambda function {self.config.function_name!r} version {version}"):
            configuration = self.client().get_function(
                FunctionName=self.config.function_name, Qualifier=version
            )["Configuration"]
        function_state = configuration.get("State") or "Active"
        update = configuration.get("LastUpdateStatus") or "Successful"
        label = f"version {version} ({function_state}, last update {update})"
        if function_state == "Failed" or update == "Failed":
            reason = configuration.get("StateReason") or configuration.get("LastUpdateStatusReason")
            detail = f"{label}: {redact_text(str(reason))}" if reason else label
            return Progress(status=Status.failed, detail=detail, logs_url=logs_url)
        if function_state == "Active" and update == "Successful":
            return Progress(
                status=Status.succeeded,
                detail=f"alias {self.config.alias} → version {version}",
                logs_url=logs_url,
            )
        return Progress(status=Status.running, detail=label, logs_url=logs_url)

    def cancel(self, target: DeployTarget, state: Mapping[str, Any]) -> bool:
        """The alias moved at ``start``; there is nothing in flight to stop."""
        return False
