"""Where an incident's follow-ups (postmortem action items) are filed: GitHub issues or
Jira tickets (``incidents.tracker``), and when its channel is archived after resolving."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, SecretStr, field_validator

from workflows.config.section import Section, owner_slash_name
from workflows.config.types import Duration, HttpUrl

DEFAULT_ARCHIVE_AFTER = timedelta(days=7)
DEFAULT_ARCHIVE_WARNING = timedelta(hours=24)


class GithubTracker(Section):
    """File each follow-up as an issue in one GitHub repository."""

    kind: Literal["github"]
    repo: str = Field(description="owner/name")
    token: SecretStr = Field(description="A token that may create issues in the repository.")
    api_url: HttpUrl = "https://api.github.com"
    labels: list[str] = Field(default_factory=lambda: ["incident-follow-up"])

    @field_validator("repo")
    @classmethod
    def _owner_slash_name(cls, value: str) -> str:
        return owner_slash_name(value)


class JiraTracker(Section):
    """File each follow-up as a ticket in one Jira project (REST API v2, basic auth)."""

    kind: Literal["jira"]
    url: HttpUrl = Field(description="The site, e.g. https://acme.atlassian.net")
    project: str = Field(pattern=r"^[A-Z][A-Z0-9_]{0,19}$", description="The project key.")
    email: str = Field(min_length=3, description="The account the API token belongs to.")
    token: SecretStr
    issue_type: str = "Task"
    labels: list[str] = Field(default_factory=lambda: ["incident-follow-up"])


Tracker = Annotated[GithubTracker | JiraTracker, Field(discriminator="kind")]


def _never(value: Any) -> Any:
    """``0``, ``"0"``, ``"never"`` and null all mean: never archive."""
    if value is None or value == 0 or (isinstance(value, str) and value.strip() in ("0", "never")):
        return None
    return value


ArchiveAfter = Annotated[Duration | None, BeforeValidator(_never)]


class AfterIncidents(Section):
    """What happens after an incident is resolved (the ``incidents`` section's part)."""

    archive_after: ArchiveAfter = Field(
        default=DEFAULT_ARCHIVE_AFTER,
        description="Archive the channel this long after resolving; 0 or never = keep it.",
    )
    archive_warning: Duration = Field(
        default=DEFAULT_ARCHIVE_WARNING, description="Warn in the channel this long before."
    )
    tracker: Tracker | None = Field(
        default=None, description="Where follow-ups become GitHub issues or Jira tickets."
    )
