"""Environment settings, read in one place. Names are the ones ARCHITECTURE.md promises."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SLACK_API_URL = "https://slack.com/api/"


class SettingsError(ValueError):
    """A required environment variable is missing or invalid."""


def _env(name: str) -> AliasChoices:
    return AliasChoices(name)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    slack_bot_token: SecretStr | None = Field(
        default=None, validation_alias=_env("SLACK_BOT_TOKEN")
    )
    slack_signing_secret: SecretStr | None = Field(
        default=None, validation_alias=_env("SLACK_SIGNING_SECRET")
    )
    slack_app_token: SecretStr | None = Field(
        default=None, validation_alias=_env("SLACK_APP_TOKEN")
    )
    slack_api_url: str = Field(
        default=DEFAULT_SLACK_API_URL, validation_alias=_env("SLACK_API_URL")
    )
    database_url: str = Field(
        default="sqlite:///./shipbot.db", validation_alias=_env("SHIPBOT_DATABASE_URL")
    )
    config_path: Path = Field(
        default=Path("./shipbot.yaml"), validation_alias=_env("SHIPBOT_CONFIG")
    )
    port: int = Field(default=3000, ge=0, le=65535, validation_alias=_env("SHIPBOT_PORT"))
    host: str = Field(default="0.0.0.0", validation_alias=_env("SHIPBOT_HOST"))
    worker_threads: int = Field(
        default=4, ge=1, le=64, validation_alias=_env("SHIPBOT_WORKER_THREADS")
    )
    # Slack requests and webhooks handled at once; more wait on the event loop, costing no
    # CPU. Few threads keep the one holding the write lock from queueing for the GIL
    # behind dozens of others (docs/performance.md).
    http_threads: int = Field(
        default=8, ge=1, le=256, validation_alias=_env("SHIPBOT_HTTP_THREADS")
    )
    ack_mode: Literal["inline", "deferred"] = Field(
        default="inline",
        validation_alias=_env("SHIPBOT_ACK_MODE"),
        description=(
            "inline: a write's flow runs before the ack and the ack is its answer. "
            "deferred: a write is stored as a job and acked 'received'; the worker runs it "
            "and answers through response_url (faster acks under bursts; docs/operations.md)."
        ),
    )
    log_level: str = Field(default="INFO", validation_alias=_env("SHIPBOT_LOG_LEVEL"))
    log_format: Literal["text", "json"] = Field(
        default="text",
        validation_alias=_env("SHIPBOT_LOG_FORMAT"),
        description="json: one JSON object a line, with the request's or job's context.",
    )
    socket_down_grace: float = Field(
        default=60.0,
        ge=0,
        validation_alias=_env("SHIPBOT_SOCKET_DOWN_GRACE"),
        description="Seconds without a Socket Mode connection before /readyz says 503.",
    )
    socket_ping_interval: float = Field(
        default=10.0,
        gt=0,
        validation_alias=_env("SHIPBOT_SOCKET_PING_INTERVAL"),
        description="Seconds between Socket Mode pings; 3 unanswered count as a lost link.",
    )
    state_dir: Path = Field(
        default=Path("./.shipbot"),
        validation_alias=_env("SHIPBOT_STATE_DIR"),
        description="Local files: the command backend's run output and exit status.",
    )

    @property
    def api_url(self) -> str:
        """The Web API base URL with the trailing slash slack_sdk expects."""
        return self.slack_api_url if self.slack_api_url.endswith("/") else self.slack_api_url + "/"

    def require_http_credentials(self) -> tuple[str, str]:
        """Token and signing secret for HTTP mode, or one error naming every missing variable."""
        missing = [
            name
            for name, value in (
                ("SLACK_BOT_TOKEN", self.slack_bot_token),
                ("SLACK_SIGNING_SECRET", self.slack_signing_secret),
            )
            if value is None or not value.get_secret_value()
        ]
        if missing:
            raise SettingsError(
                f"missing environment variable(s): {', '.join(missing)} "
                "(from your Slack app's settings: OAuth & Permissions and Basic Information)"
            )
        assert self.slack_bot_token is not None and self.slack_signing_secret is not None
        return self.slack_bot_token.get_secret_value(), self.slack_signing_secret.get_secret_value()

    def require_app_token(self) -> str:
        if self.slack_app_token is None or not self.slack_app_token.get_secret_value():
            raise SettingsError(
                "socket mode needs SLACK_APP_TOKEN (an app-level token, xapp-..., with the "
                "connections:write scope)"
            )
        token = self.slack_app_token.get_secret_value()
        if not token.startswith("xapp-"):
            raise SettingsError("SLACK_APP_TOKEN must be an app-level token starting with xapp-")
        return token


def load_settings() -> Settings:
    try:
        return Settings()
    except ValueError as error:  # pydantic's ValidationError subclasses ValueError
        raise SettingsError(str(error)) from error
