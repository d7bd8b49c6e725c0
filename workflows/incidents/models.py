"""Tables of the incident flow: incidents and their timelines.

The incidents work owns this module and may add columns; the fields below are the ones
deploy policy and reports rely on, so their names and meanings stay.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, Column, Index, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from workflows.store.types import UTCDateTime


def _utc(*, nullable: bool = False, index: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable, index=index))


class IncidentStatus(StrEnum):
    investigating = "investigating"
    identified = "identified"
    monitoring = "monitoring"
    resolved = "resolved"


class Incident(SQLModel, table=True):
    __tablename__ = "incidents"
    __table_args__ = (
        Index("ix_incidents_service_status", "service", "status"),
        Index("ix_incidents_declared_at", "declared_at"),
        # The DORA report: was an incident declared on this service soon after a deploy?
        Index("ix_incidents_service_declared", "service", "declared_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(sa_column=Column(Text, nullable=False))
    severity: str  # SEV1..SEV4
    status: str = Field(default=IncidentStatus.investigating)
    service: str | None = Field(default=None, index=True)
    declared_by: str
    commander: str | None = None
    comms: str | None = None
    scribe: str | None = None
    channel_id: str | None = None  # set once the channel exists
    channel_name: str | None = None
    declared_at: datetime = _utc()
    acknowledged_at: datetime | None = _utc(nullable=True)  # first status update or ack
    last_update_at: datetime | None = _utc(nullable=True)
    resolved_at: datetime | None = _utc(nullable=True)
    summary: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # Set when an alert group declared it (auto-declare), so it happens once per group.
    source_alert_group: str | None = Field(default=None, sa_column=Column(Text, unique=True))
    updated_at: datetime = _utc()
    # When the commander is next reminded to post an update; a status update, a severity
    # change or a snooze moves it, which makes the reminder job already queued stale.
    reminder_due_at: datetime | None = _utc(nullable=True)
    # The postmortem draft uploaded into the channel on resolve (uploaded once).
    postmortem_file_id: str | None = None
    # A private incident has a private channel and is shown only to its members and the
    # incident managers (workflows.incidents.visibility); elsewhere it is only counted.
    private: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, server_default=text("false"))
    )
    # When the resolved incident's channel is archived (workflows.incidents.aftercare);
    # reopening clears it, which makes the queued warning and archive jobs stale.
    archive_due_at: datetime | None = _utc(nullable=True)
    archived_at: datetime | None = _utc(nullable=True)


class IncidentEvent(SQLModel, table=True):
    """One line of an incident's timeline."""

    __tablename__ = "incident_events"

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incidents.id", index=True)
    at: datetime = _utc()
    actor: str
    kind: str  # declared, status, severity, assign, note, alert, resolved, ...
    text: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class IncidentDeployWatch(SQLModel, table=True):
    """An incident channel follows one deploy of its service (``workflows/incidents/watch``).

    One row per (incident, deploy): the incident's message about the deploy is a view of
    the deploy, and ``last_state`` is the state the timeline last recorded, so a re-render
    of the same state adds no second timeline line."""

    __tablename__ = "incident_deploy_watches"
    __table_args__ = (UniqueConstraint("incident_id", "deploy_id", name="uq_incident_deploy"),)

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incidents.id", index=True)
    deploy_id: int = Field(foreign_key="deploys.id", index=True)
    last_state: str
    created_at: datetime = _utc()
class IncidentMember(SQLModel, table=True):
    """Someone who may see a private incident: its declarer, whoever it invited or gave a
    role, and whoever joined its channel (``member_joined_channel``). Slack's channel
    membership is the truth; this is shipbot's copy, only ever added to."""

    __tablename__ = "incident_members"
    __table_args__ = (UniqueConstraint("incident_id", "user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incidents.id", index=True)
    user_id: str
    added_by: str
    added_at: datetime = _utc()


class FollowUp(SQLModel, table=True):
    """One action item of an incident, filed once in the configured tracker.

    ``external_id`` is stored once the tracker answered; ``marker`` (also written into the
    issue) lets a retry find an issue its crashed predecessor created."""

    __tablename__ = "incident_follow_ups"
    __table_args__ = (UniqueConstraint("incident_id", "digest"),)

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incidents.id", index=True)
    text: str = Field(sa_column=Column(Text, nullable=False))
    digest: str  # sha256 of the normalised text: the same item added twice is one row
    added_by: str
    added_at: datetime = _utc()
    state: str = Field(default="pending")  # pending, filed, failed
    external_id: str | None = None
    external_url: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
