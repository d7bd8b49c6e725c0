"""Deploy backend settings: one model per backend, chosen by the ``backend`` key.

They live with the backends (adding one touches this folder only), but the config schema
loads them: so this module imports pydantic and the config's types, never a backend or
its client library (boto3, httpx, the Kubernetes API), and ``workflows.backends`` loads
its public names lazily. An import contract in pyproject.toml keeps it so."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal, get_args

from pydantic import (
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from workflows.config.section import Section, owner_slash_name
from workflows.config.types import Duration, HttpUrl


class _Backend(Section):
    poll_interval: Duration = Field(
        default=timedelta(seconds=5), description="How often to poll the deploy's status."
    )
    timeout: Duration = Field(
        default=timedelta(minutes=30), description="Give up (and fail the deploy) after this."
    )


class CommandBackend(_Backend):
    """Run a local program. ``SHIPBOT_SERVICE``, ``SHIPBOT_VERSION`` and ``SHIPBOT_ENV`` are set."""

    backend: Literal["command"]
    argv: list[str] = Field(
        min_length=1, description="Program and arguments; never a shell string."
    )
    timeout: Duration = Field(
        default=timedelta(minutes=10), description="Kill the command after this."
    )
    cwd: str | None = Field(
        default=None,
        description="Where the command runs. Relative paths here and in argv are relative to "
        "the config file's folder, which is also the default.",
    )
    env: dict[str, str] = Field(default_factory=dict, description="Extra environment variables.")

    @model_validator(mode="before")
    @classmethod
    def _relative_to_the_config_file(cls, data: object, info: ValidationInfo) -> object:
        # As in other tools' config files: a path means the same wherever `shipbot serve`
        # was started. The command runs in the config's folder unless cwd says otherwise,
        # so relative argv paths resolve there too. (Text parsed without a file keeps the
        # process's directory: there is no folder to be relative to.)
        base = (info.context or {}).get("config_dir")
        if not isinstance(base, Path) or not isinstance(data, dict):
            return data
        cwd = data.get("cwd")
        if cwd is None:
            return {**data, "cwd": str(base)}
        if isinstance(cwd, str) and not Path(cwd).expanduser().is_absolute():
            return {**data, "cwd": str(base / cwd)}
        return data

    @field_validator("argv", mode="before")
    @classmethod
    def _no_shell_string(cls, value: object) -> object:
        # A string would need a shell to split it, and a shell means injection via versions.
        if isinstance(value, str):
            raise PydanticCustomError(
                "argv_string",
                "argv must be a list of arguments, not a shell string "
                '(write e.g. ["sh", "deploy.sh"])',
            )
        return value


class WebhookBackend(_Backend):
    """POST the deploy to ``url``, signed with HMAC(``secret``); optionally poll ``status_url``."""

    backend: Literal["webhook"]
    url: HttpUrl
    secret: SecretStr
    status_url: HttpUrl | None = None


class GithubActionsBackend(_Backend):
    """Dispatch a GitHub Actions workflow and follow its run."""

    backend: Literal["github_actions"]
    repo: str = Field(description="owner/name")
    workflow: str = Field(description="Workflow file name (deploy.yml) or id.")
    ref: str = "main"
    token: SecretStr
    api_url: HttpUrl = "https://api.github.com"
    inputs: dict[str, str] = Field(default_factory=dict)

    @field_validator("repo")
    @classmethod
    def _owner_slash_name(cls, value: str) -> str:
        return owner_slash_name(value)


class ArgoCDBackend(_Backend):
    """Sync an Argo CD application, optionally setting an image parameter to the version."""

    backend: Literal["argocd"]
    server_url: HttpUrl
    app: str
    token: SecretStr
    image_parameter: str | None = None


class _KubernetesTarget(_Backend):
    """Where the cluster is and which container gets the version."""

    namespace: str = "default"
    name: str = Field(description="The workload's name.")
    container: str = Field(description="The container whose image is set.")
    image: str | None = Field(
        default=None,
        description="Image repository (registry/app); default: the container's current one.",
    )
    kubeconfig: str | None = Field(
        default=None, description="Path of a kubeconfig file; default: $KUBECONFIG, ~/.kube/config."
    )
    context: str | None = Field(default=None, description="Kubeconfig context; default: current.")
    in_cluster: bool = Field(
        default=False, description="Use the pod's service account instead of a kubeconfig."
    )
    logs_url: str | None = Field(
        default=None,
        description="Link shown on the deploy: a template with {namespace}, {name}, {container},"
        " {service}, {environment}, {version} (e.g. a Grafana/Loki query).",
    )


class KubernetesBackend(_KubernetesTarget):
    """Set a container's image in a Deployment or StatefulSet and follow the rollout."""

    backend: Literal["kubernetes"]
    kind: Literal["Deployment", "StatefulSet"] = "Deployment"


class PromotionRule(Section):
    """Who must approve promoting a canary past ``above_weight`` percent."""

    above_weight: int = Field(ge=0, le=100, description="Promoting past this weight needs it.")
    required: int = Field(default=1, ge=1)
    from_groups: list[str] = Field(default_factory=list, description="Empty = anyone.")


class ArgoRolloutsBackend(_KubernetesTarget):
    """Set the image of an Argo Rollouts ``Rollout`` and follow (promote, abort) its canary."""

    backend: Literal["argo_rollouts"]
    promotion: dict[str, list[PromotionRule]] = Field(
        default_factory=dict,
        description="Per environment: approvals a Promote click needs, by canary weight.",
    )


class _AwsBackend(_Backend):
    region: str | None = Field(default=None, description="Default: the standard AWS variables.")


class AwsEcsBackend(_AwsBackend):
    """Register a task definition revision with the new image and update the ECS service."""

    backend: Literal["aws_ecs"]
    cluster: str
    service: str
    container: str


class AwsLambdaBackend(_AwsBackend):
    """Publish a Lambda version and point the alias at it."""

    backend: Literal["aws_lambda"]
    function_name: str
    alias: str


class AwsCodeDeployBackend(_AwsBackend):
    """Create a CodeDeploy deployment for the revision."""

    backend: Literal["aws_codedeploy"]
    application: str
    deployment_group: str


class AwsCodePipelineBackend(_AwsBackend):
    """Start a CodePipeline execution and follow it."""

    backend: Literal["aws_codepipeline"]
    pipeline: str


DeployBackend = Annotated[
    CommandBackend
    | WebhookBackend
    | GithubActionsBackend
    | ArgoCDBackend
    | AwsEcsBackend
    | AwsLambdaBackend
    | AwsCodeDeployBackend
    | AwsCodePipelineBackend
    | KubernetesBackend
    | ArgoRolloutsBackend,
    Field(discriminator="backend"),
]

BACKENDS: dict[str, type[_Backend]] = {
    get_args(model.model_fields["backend"].annotation)[0]: model
    for model in (
        CommandBackend,
        WebhookBackend,
        GithubActionsBackend,
        ArgoCDBackend,
        AwsEcsBackend,
        AwsLambdaBackend,
        AwsCodeDeployBackend,
        AwsCodePipelineBackend,
        KubernetesBackend,
        ArgoRolloutsBackend,
    )
}
