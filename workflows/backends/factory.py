"""``build_backend``: the deploy backend for a service's ``deploy`` config."""

from __future__ import annotations

import importlib
from typing import Any

from workflows.backends.argocd import ArgoCDDeployBackend
from workflows.backends.aws_codedeploy import AwsCodeDeployDeployBackend
from workflows.backends.aws_codepipeline import AwsCodePipelineDeployBackend
from workflows.backends.aws_ecs import AwsEcsDeployBackend
from workflows.backends.aws_lambda import AwsLambdaDeployBackend
from workflows.backends.base import BackendPorts, DeployBackend
from workflows.backends.command import CommandDeployBackend
from workflows.backends.github_actions import GithubActionsDeployBackend
from workflows.backends.settings import (
    ArgoCDBackend,
    ArgoRolloutsBackend,
    AwsCodeDeployBackend,
    AwsCodePipelineBackend,
    AwsEcsBackend,
    AwsLambdaBackend,
    CommandBackend,
    GithubActionsBackend,
    KubernetesBackend,
    WebhookBackend,
)
from workflows.backends.settings import DeployBackend as DeployBackendConfig
from workflows.backends.webhook import WebhookDeployBackend

IMPLEMENTATIONS: dict[type[Any], type[Any]] = {
    CommandBackend: CommandDeployBackend,
    WebhookBackend: WebhookDeployBackend,
    GithubActionsBackend: GithubActionsDeployBackend,
    ArgoCDBackend: ArgoCDDeployBackend,
    AwsEcsBackend: AwsEcsDeployBackend,
    AwsLambdaBackend: AwsLambdaDeployBackend,
    AwsCodeDeployBackend: AwsCodeDeployDeployBackend,
    AwsCodePipelineBackend: AwsCodePipelineDeployBackend,
}
# Imported when first used: lightkube costs ~8 MiB and a good part of a second to import,
# which a shipbot without Kubernetes services should not pay at startup.
LAZY: dict[type[Any], tuple[str, str]] = {
    KubernetesBackend: ("workflows.backends.kubernetes", "KubernetesDeployBackend"),
    ArgoRolloutsBackend: ("workflows.backends.argo_rollouts", "ArgoRolloutsDeployBackend"),
}


def build_backend(config: DeployBackendConfig, *, ports: BackendPorts) -> DeployBackend:
    """The backend ``config`` describes, talking to the outside world through ``ports``.

    Cheap (no network): build one per job. Secrets in ``config`` are registered for
    redaction here."""
    implementation = IMPLEMENTATIONS.get(type(config))
    if implementation is None and type(config) in LAZY:
        module, name = LAZY[type(config)]
        implementation = getattr(importlib.import_module(module), name)
    if implementation is None:
        raise TypeError(f"no deploy backend for {type(config).__name__}")
    backend: DeployBackend = implementation(config, ports=ports)
    return backend
