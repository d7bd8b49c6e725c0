"""Where a service's code lives, so a deploy can show what changed (``source`` in config).

A version maps to a git ref through ``tag_pattern`` (``v{version}`` turns ``1.2.3`` into
``v1.2.3``; ``{version}`` uses the version as the ref itself, e.g. a commit sha).
"""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator
from pydantic_core import PydanticCustomError

from workflows.config.section import Section, owner_slash_name
from workflows.config.types import HttpUrl


class _Source(Section):
    tag_pattern: str = Field(
        default="v{version}", description="The git ref of a version: {version} is replaced."
    )
    flag_paths: list[str] = Field(
        default_factory=lambda: ["migrations/"],
        description="Commits touching a path that starts with one of these are flagged.",
    )

    @field_validator("tag_pattern")
    @classmethod
    def _has_version(cls, value: str) -> str:
        if value.count("{version}") != 1 or value.replace("{version}", "").count("{") > 0:
            raise PydanticCustomError(
                "tag_pattern", "tag_pattern needs exactly one {{version}} and no other braces"
            )
        return value

    def ref(self, version: str) -> str:
        return self.tag_pattern.replace("{version}", version)


class GithubSource(_Source):
    """A GitHub repository, read with the REST API (compare and commits)."""

    github: str = Field(description="owner/name")
    token: SecretStr | None = Field(default=None, description="Needed for private repositories.")
    api_url: HttpUrl = "https://api.github.com"
    deployments: bool = Field(
        default=False, description="Record each deploy as a GitHub deployment with statuses."
    )

    @field_validator("github")
    @classmethod
    def _owner_slash_name(cls, value: str) -> str:
        return owner_slash_name(value)


class GitSource(_Source):
    """A git repository on shipbot's disk (a clone kept fetched by something else)."""

    git: str = Field(description="Path of the repository.")
    compare_url: str | None = Field(
        default=None,
        description="Link to a compare view: a template with {from} and {to} (refs).",
    )


Source = GithubSource | GitSource
