"""CI/CD event sources (``hooks:`` in config): GitHub and Argo CD webhooks and the history
import (``shipbot import deploys``). Which service an event belongs to is said on the
service: ``services.<name>.repository`` (else its ``source.github``) and
``services.<name>.argocd_applications``. See docs/notifications.md.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_core import PydanticCustomError

from workflows.config.section import Section
from workflows.config.types import HttpUrl


class _Secrets(Section):
    secret: SecretStr | None = None
    secrets: list[SecretStr] = Field(
        default_factory=list, description="More accepted secrets, for rotation."
    )

    def all_secrets(self) -> list[str]:
        """Every accepted secret: ``secret`` first, then ``secrets`` (rotation)."""
        values = [self.secret, *self.secrets] if self.secret else list(self.secrets)
        return [value.get_secret_value() for value in values]


class GithubHooks(_Secrets):
    """``POST /hooks/github``: signed with ``X-Hub-Signature-256`` by any of the secrets."""

    branches: list[str] = Field(
        default_factory=lambda: ["main"],
        description="workflow_run failures on these branches are posted.",
    )
    environments: dict[str, str] = Field(
        default_factory=dict,
        description="GitHub environment -> shipbot environment; unlisted names map to themselves.",
    )
    api_url: HttpUrl = "https://api.github.com"
    token: SecretStr | None = Field(default=None, description="For `shipbot import deploys`.")

    @model_validator(mode="after")
    def _has_secret(self) -> GithubHooks:
        if not self.all_secrets():
            raise PydanticCustomError("auth", "the github hook needs a secret (or secrets)")
        return self

    def environment(self, name: str) -> str:
        return self.environments.get(name, name)


class ArgocdHooks(_Secrets):
    """``POST /hooks/argocd``: Argo CD notifications' webhook service, authenticated by a
    shared token in ``header`` (``auth: token``) or an HMAC of the body (``auth: hmac``)."""

    auth: Literal["token", "hmac"] = "token"
    header: str | None = Field(
        default=None,
        description="token: default Authorization (Bearer); hmac: default X-Shipbot-Signature.",
    )
    api_url: HttpUrl | None = Field(default=None, description="For `shipbot import deploys`.")
    token: SecretStr | None = Field(default=None, description="Argo CD API token (import).")

    @model_validator(mode="after")
    def _has_secret(self) -> ArgocdHooks:
        if not self.all_secrets():
            raise PydanticCustomError("auth", "the argocd hook needs a secret (or secrets)")
        return self


class Hooks(Section):
    """CI/CD webhooks; a source left out answers 404."""

    github: GithubHooks | None = None
    argocd: ArgocdHooks | None = None
