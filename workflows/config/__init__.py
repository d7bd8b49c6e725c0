"""shipbot's configuration as code: one YAML file, validated, with a JSON Schema for editors.

Public API::

    config = load_config("shipbot.yaml")          # or parse_config(text)
    config.channel_id("deploys")                   # -> "C0DEPLOYS"
    schema = config_json_schema()

Errors are ``workflows.errors.ConfigError`` (precisely ``ConfigValidationError``) whose
str() has one ``<dotted.path>: <message>`` line per problem. See docs/configuration.md.
"""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, SecretStr
from pydantic.json_schema import GenerateJsonSchema

from workflows.backends.settings import (
    BACKENDS,
    ArgoCDBackend,
    AwsCodeDeployBackend,
    AwsCodePipelineBackend,
    AwsEcsBackend,
    AwsLambdaBackend,
    CommandBackend,
    DeployBackend,
    GithubActionsBackend,
    WebhookBackend,
)
from workflows.config.loader import ConfigValidationError, interpolate, load_config, parse_config
from workflows.config.models import (
    SEVERITIES,
    AlertRoute,
    Alerts,
    AlertSource,
    AlertSources,
    Approval,
    AutoDeclare,
    BreakGlass,
    Environment,
    FreezeWindow,
    Group,
    HealthCheck,
    Incidents,
    Principals,
    Report,
    Service,
    SeverityName,
    SeverityPolicy,
    ShipbotConfig,
    User,
)
from workflows.config.types import cron_trigger, format_duration, parse_duration

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

# What a `${VAR}` looks like in the raw file; numbers and booleans also accept it.
_INTERPOLATION_SCHEMA = {
    "type": "string",
    "pattern": r"\$\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\}",
    "description": "Interpolated from the environment when the file is loaded.",
}
_INNER_KEYWORDS = {"type", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}


def _accept_interpolation(node: Any) -> Any:
    """Let every number and boolean in the schema also be a ``${VAR}`` string, so that
    the raw file validates in an editor before interpolation turns it into a number."""
    if isinstance(node, list):
        return [_accept_interpolation(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _accept_interpolation(value) for key, value in node.items()}
    if node.get("type") in ("integer", "number", "boolean"):
        inner = {key: value for key, value in node.items() if key in _INNER_KEYWORDS}
        outer = {key: value for key, value in node.items() if key not in _INNER_KEYWORDS}
        return {**outer, "anyOf": [inner, copy.deepcopy(_INTERPOLATION_SCHEMA)]}
    return node


class _SchemaGenerator(GenerateJsonSchema):
    def encode_default(self, dft: Any) -> Any:
        # Show duration defaults as they are written in the file ("4h"), not ISO 8601.
        if isinstance(dft, timedelta):
            return format_duration(dft)
        return super().encode_default(dft)


def config_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the config file, as it is written before
    interpolation. Export it with ``shipbot config schema > shipbot.schema.json``."""
    schema = ShipbotConfig.model_json_schema(mode="validation", schema_generator=_SchemaGenerator)
    schema = _accept_interpolation(schema)
    return {
        "$schema": SCHEMA_DIALECT,
        "title": "shipbot configuration",
        **{key: value for key, value in schema.items() if key != "title"},
    }


def secret_values(config: ShipbotConfig) -> list[str]:
    """Every secret the config holds (tokens, HMAC secrets), so the edge can register them
    for redaction: a secret that leaks into an error message or a command's output is
    then masked even when it does not look like a token."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, SecretStr):
            found.append(node.get_secret_value())
        elif isinstance(node, BaseModel):
            for name in type(node).model_fields:
                walk(getattr(node, name))
        elif isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, list | tuple):
            for value in node:
                walk(value)

    walk(config)
    return [value for value in found if value]


__all__ = [
    "BACKENDS",
    "SEVERITIES",
    "AlertRoute",
    "AlertSource",
    "AlertSources",
    "Alerts",
    "Approval",
    "ArgoCDBackend",
    "AutoDeclare",
    "AwsCodeDeployBackend",
    "AwsCodePipelineBackend",
    "AwsEcsBackend",
    "AwsLambdaBackend",
    "BreakGlass",
    "CommandBackend",
    "ConfigValidationError",
    "DeployBackend",
    "Environment",
    "FreezeWindow",
    "GithubActionsBackend",
    "Group",
    "HealthCheck",
    "Incidents",
    "Principals",
    "Report",
    "Service",
    "SeverityName",
    "SeverityPolicy",
    "ShipbotConfig",
    "User",
    "WebhookBackend",
    "config_json_schema",
    "cron_trigger",
    "format_duration",
    "interpolate",
    "load_config",
    "parse_config",
    "parse_duration",
    "secret_values",
]
