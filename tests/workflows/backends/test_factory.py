"""build_backend picks the implementation of each config model."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import TypeAdapter

from workflows.backends import BackendPorts, build_backend
from workflows.backends.settings import BACKENDS, DeployBackend
from workflows.redact import redact_text

SAMPLES: dict[str, dict[str, Any]] = {
    "command": {"argv": ["true"]},
    "webhook": {"url": "https://hooks.example/deploy", "secret": "webhook-secret-1"},
    "github_actions": {"repo": "acme/web", "workflow": "deploy.yml", "token": "gh-token-123456"},
    "argocd": {"server_url": "https://argo.example", "app": "web", "token": "argo-token-123456"},
    "aws_ecs": {"cluster": "prod", "service": "web", "container": "app"},
    "aws_lambda": {"function_name": "web", "alias": "live"},
    "aws_codedeploy": {"application": "web", "deployment_group": "prod"},
    "aws_codepipeline": {"pipeline": "web-deploy"},
    "kubernetes": {"name": "web", "container": "app"},
    "argo_rollouts": {"name": "web", "container": "app", "namespace": "shop"},
}


def test_every_backend_in_the_config_has_an_implementation() -> None:
    assert set(SAMPLES) == set(BACKENDS)


@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_build_backend(kind: str) -> None:
    config = TypeAdapter(DeployBackend).validate_python({"backend": kind, **SAMPLES[kind]})

    backend = build_backend(config, ports=BackendPorts())

    assert backend.name == kind
    for method in ("start", "poll", "cancel"):
        assert callable(getattr(backend, method))
    for key in ("secret", "token"):
        if key in SAMPLES[kind]:  # config secrets are masked from now on
            assert redact_text(f"x {SAMPLES[kind][key]} y") == "x [redacted] y"
