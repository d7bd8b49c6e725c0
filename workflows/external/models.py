"""Tables of outside events: CI workflow state per workflow and branch, GitHub releases,
and the checkpoints of `shipbot import deploys`.

External deploys themselves are ``Deploy`` rows with ``source`` set (workflows.deploys).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from workflows.store.types import UTCDateTime


def _utc(*, nullable: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable))


class CiState(StrEnum):
    failing = "failing"
    fixed = "fixed"


class CiWorkflow(SQLModel, table=True):
    """One GitHub Actions workflow on one branch of a repository, as its message shows it.

    A failure while ``fixed`` starts a new ``episode`` (a new message); failures while
    ``failing`` update the same message; the next success turns it ``fixed``."""

    __tablename__ = "ci_workflows"
    __table_args__ = (UniqueConstraint("repository", "workflow", "branch", name="uq_ci_workflow"),)

    id: int | None = Field(default=None, primary_key=True)
    service: str
    repository: str
    workflow: str = Field(sa_column=Column(Text, nullable=False))
    branch: str = Field(sa_column=Column(Text, nullable=False))
    state: str = CiState.failing
    episode: int = 1
    failures: int = 0  # failed runs in this episode
    run_number: int = 0  # of the latest run seen (older runs arriving late are ignored)
    run_url: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    head_sha: str = ""
    actor: str = ""
    channel: str = ""  # the service's channel
    failed_at: datetime = _utc()
    fixed_at: datetime | None = _utc(nullable=True)
    updated_at: datetime = _utc()


class ExternalRelease(SQLModel, table=True):
    """A published GitHub release, announced once in its service's channel."""

    __tablename__ = "external_releases"
    __table_args__ = (UniqueConstraint("repository", "release_id", name="uq_external_release"),)

    id: int | None = Field(default=None, primary_key=True)
    service: str
    repository: str
    release_id: str
    tag: str
    name: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    url: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    author: str = ""
    prerelease: bool = False
    channel: str = ""
    published_at: datetime = _utc()


class ImportCheckpoint(SQLModel, table=True):
    """Where `shipbot import deploys` got to for one source and service: the next page to
    read, so a run that was killed goes on from there."""

    __tablename__ = "import_checkpoints"
    __table_args__ = (UniqueConstraint("source", "service", name="uq_import_checkpoint"),)

    id: int | None = Field(default=None, primary_key=True)
    source: str
    service: str
    since: datetime = _utc()
    cursor: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    imported: int = 0
    done: bool = False
    updated_at: datetime = _utc()
