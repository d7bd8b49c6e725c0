"""The ``aws_codedeploy`` backend: create a deployment of the version's revision.

The config has no revision field, so the revision comes from the version by convention:

* ``s3://<bucket>/<key>`` (the version is a full S3 URI): that object; ``bundleType`` from
  the extension (``.zip``, ``.tar``, ``.tar.gz``/``.tgz``, ``.yaml``/``.yml``, ``.json``).
* otherwise, by the deployment group's last revision (``targetRevision``):
  - S3: ``s3://<the same bucket>/<service>/<version>.<extension of its bundle type>``;
  - GitHub: the same repository at commit ``<version>`` (a full 40-hex commit id).

Poll ``get_deployment``: ``Created``/``Queued``/``InProgress``/``Baking``/``Ready`` is
running, ``Succeeded`` succeeded, ``Failed`` failed, ``Stopped`` cancelled when stopped by
hand (``MANUAL_STOP``) and failed otherwise (an alarm, a timeout). Cancel:
``stop_deployment(autoRollbackEnabled=True)``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from workflows.backends._aws import AwsClientMixin, aws_errors, error_code
from workflows.backends.base import (
    BackendError,
    BackendPorts,
    DeployTarget,
    Progress,
    Started,
    Status,
)
from workflows.backends.settings import AwsCodeDeployBackend
from workflows.redact import redact_text

_BUNDLE_TYPES = (
    (".tar.gz", "tgz"),
    (".tgz", "tgz"),
    (".tar", "tar"),
    (".zip", "zip"),
    (".yaml", "YAML"),
    (".yml", "YAML"),
    (".json", "JSON"),
)
_EXTENSIONS = {"tgz": ".tar.gz", "tar": ".tar", "zip": ".zip", "YAML": ".yaml", "JSON": ".json"}
_COMMIT = re.compile(r"[0-9a-f]{40}")
_RUNNING = frozenset({"Created", "Queued", "InProgress", "Baking", "Ready"})


def _s3_revision(bucket: str, key: str, bundle_type: str | None = None) -> dict[str, Any]:
    if bundle_type is None:
        lowered = key.lower()
        bundle_type = next((kind for ext, kind in _BUNDLE_TYPES if lowered.endswith(ext)), "zip")
    return {
        "revisionType": "S3",
        "s3Location": {"bucket": bucket, "key": key, "bundleType": bundle_type},
    }


def revision_for(target: DeployTarget, last_revision: Mapping[str, Any] | None) -> dict[str, Any]:
    """The CodeDeploy revision for ``target.version`` (see the module docstring)."""
    version = target.version
    if version.startswith("s3://"):
        bucket, _, key = version[len("s3://") :].partition("/")
        if not bucket or not key:
            raise BackendError(f"not an S3 object URI: {version!r} (expected s3://bucket/key)")
        return _s3_revision(bucket, key)
    last: Mapping[str, Any] = last_revision or {}
    kind = last.get("revisionType")
    if kind == "S3":
        location = last["s3Location"]
        bundle_type = location.get("bundleType") or "zip"
        key = f"{target.service}/{version}{_EXTENSIONS.get(bundle_type, '.zip')}"
        return _s3_revision(location["bucket"], key, bundle_type)
    if kind == "GitHub":
        if not _COMMIT.fullmatch(version):
            raise BackendError(
                f"this deployment group deploys from GitHub: the version must be a full "
                f"40-character commit id, not {version!r}"
            )
        repository = last["gitHubLocation"]["repository"]
        return {
            "revisionType": "GitHub",
            "gitHubLocation": {"repository": repository, "commitId": version},
        }
    raise BackendError(
        "cannot tell which CodeDeploy revision to deploy: give the version as "
        "s3://bucket/key.zip, or deploy the group once from S3 or GitHub so shipbot can "
        "follow its convention"
    )


class AwsCodeDeployDeployBackend(AwsClientMixin):
    """Creates and follows deployments of one CodeDeploy deployment group."""

    name = "aws_codedeploy"
    _service = "codedeploy"

    def __init__(self, config: AwsCodeDeployBackend, *, ports: BackendPorts) -> None:
        self.config = config
        self.ports = ports
        self.region = config.region

    def start(self, target: DeployTarget) -> Started:
        client = self.client()
        where = f"CodeDeploy {self.config.application}/{self.config.deployment_group}"
        last_revision = None
        if not target.version.startswith("s3://"):
            with aws_errors(where):
                group = client.get_deployment_group(
                    applicationName=self.config.application,
                    deploymentGroupName=self.config.deployment_group,
                )["deploymentGroupInfo"]
            last_revision = group.get("targetRevision")
        revision = revision_for(target, last_revision)
        description = (
            f"shipbot deploy {target.deploy_id}: {target.service} {target.version} "
            f"to {target.environment} by {target.requested_by}"
        )[:1000]
        with aws_errors(where):
            deployment_id = client.create_deployment(
                applicationName=self.config.application,
                deploymentGroupName=self.config.deployment_group,
                revision=revision,
                description=description,
            )["deploymentId"]
        state = {"deployment_id": deployment_id, "revision": revision}
        return Started(state=state, logs_url=self._logs_url(deployment_id))

    def _logs_url(self, deployment_id: str) -> str:
        region = self.console_region()
        return (
            f"https://{region}.console.aws.amazon.com/codesuite/codedeploy/deployments/"
            f"{deployment_id}?region={region}"
        )

    def poll(self, target: DeployTarget, state: Mapping[str, Any]) -> Progress:
        deployment_id = str(state["deployment_id"])
        with aws_errors(f"CodeDeploy deployment {deployment_id}"):
            info = self.client().get_deployment(deploymentId=deployment_id)["deploymentInfo"]
        status = info.get("status") or "Created"
        overview = info.get("deploymentOverview") or {}
        counts = ", ".join(f"{n} {k.lower()}" for k, n in overview.items() if n)
        detail = f"{status}" + (f" ({counts})" if counts else "")
        error = info.get("errorInformation") or {}
        if error.get("message"):
            detail += f": {redact_text(str(error['message']))[:200]}"
        logs_url = self._logs_url(deployment_id)
        if status in _RUNNING:
            return Progress(status=Status.running, detail=detail, logs_url=logs_url)
        if status == "Succeeded":
            return Progress(status=Status.succeeded, detail=detail, logs_url=logs_url)
        if status == "Stopped" and error.get("code") in (None, "MANUAL_STOP"):
            return Progress(status=Status.cancelled, detail=detail, logs_url=logs_url)
        return Progress(status=Status.failed, detail=detail, logs_url=logs_url)

    def cancel(self, target: DeployTarget, state: Mapping[str, Any]) -> bool:
        """Stop the deployment and let CodeDeploy roll back what it already changed."""
        deployment_id = str(state["deployment_id"])
        try:
            self.client().stop_deployment(deploymentId=deployment_id, autoRollbackEnabled=True)
        except ClientError as exc:
            if error_code(exc) == "DeploymentAlreadyCompletedException":
                return False
            with aws_errors(f"CodeDeploy stop_deployment {deployment_id}"):
                raise
        return True
