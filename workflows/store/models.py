"""Tables of the foundation. Later flows (deploys, incidents, reports) add their own modules.

Every datetime column is ``UTCDateTime``: aware UTC on both databases.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from workflows.store.types import UTCDateTime


def _utc(*, nullable: bool = False, index: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable, index=index))


class AuditEntry(SQLModel, table=True):
    """One link of the hash chain. ``seq`` is gap-free; ``hash`` covers ``prev_hash``."""

    __tablename__ = "audit_entries"

    seq: int = Field(primary_key=True)
    created_at: datetime = _utc(index=True)
    actor: str
    action: str = Field(index=True)
    target: str = ""
    params: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    outcome: str = "ok"
    channel: str | None = None
    message_ts: str | None = None
    prev_hash: str
    hash: str = Field(sa_column=Column(Text, nullable=False, unique=True))


class AuditHead(SQLModel, table=True):
    """The chain's head, one row. Appends lock it, which serialises writers across replicas
    and lets ``audit verify`` notice a chain cut short at the end."""

    __tablename__ = "audit_head"

    id: int = Field(default=1, primary_key=True)
    seq: int = 0
    hash: str


class JobState(StrEnum):
    pending = "pending"
    running = "running"
    succeeded = "succeeded"
    dead = "dead"  # failed every attempt (or permanently); kept for `shipbot jobs list`


class Job(SQLModel, table=True):
    """Durable work. A worker claims a row with a lease; an expired lease is taken over."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_claim", "state", "run_after"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(index=True)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    idempotency_key: str = Field(sa_column=Column(Text, nullable=False, unique=True))
    state: str = Field(default=JobState.pending)
    run_after: datetime = _utc()
    attempts: int = 0
    max_attempts: int = 5
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    lease_owner: str | None = None
    lease_expires_at: datetime | None = _utc(nullable=True)
    created_at: datetime = _utc()
    updated_at: datetime = _utc()
    finished_at: datetime | None = _utc(nullable=True)


class Delivery(SQLModel, table=True):
    """An inbound delivery already acted on (Slack event/action/command, webhook)."""

    __tablename__ = "deliveries"

    key: str = Field(sa_column=Column(Text, primary_key=True))
    source: str
    received_at: datetime = _utc(index=True)


class SlackMessage(SQLModel, table=True):
    """A Slack message that is a view of one stored object (rule 3).

    A change bumps ``desired_version`` and enqueues a render; the renderer holds
    ``render_owner`` while it talks to Slack so renders of one message never overtake
    each other, and records ``rendered_version`` after Slack said ok.
    """

    __tablename__ = "slack_messages"
    __table_args__ = (UniqueConstraint("view_key", name="uq_slack_messages_view_key"),)

    id: int | None = Field(default=None, primary_key=True)
    view_key: str
    channel: str
    ts: str | None = None
    thread_ts: str | None = None
    desired_version: int = 1
    rendered_version: int = 0
    render_owner: str | None = None
    render_lease_expires_at: datetime | None = _utc(nullable=True)
    post_started_at: datetime | None = _utc(nullable=True)
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = _utc()
    updated_at: datetime = _utc()


class ChannelPace(SQLModel, table=True):
    """The next moment a message may go to a channel, shared by every replica."""

    __tablename__ = "channel_pace"

    channel: str = Field(primary_key=True)
    next_at: datetime = _utc()
