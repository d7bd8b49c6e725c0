"""Tables of alert intake: alert groups (one Slack message each) and the alerts in them.

An ``AlertGroup`` collects the alerts of one service and alert name that arrive within
``alerts.group_window`` of the group's first alert; it is shown as one Slack message
(view key ``alert-group:<id>``) updated in place. ``group_key`` is
``"<service>/<alertname>#<generation>"``: unique, so two replicas opening the same new
group race on the index instead of creating two.

An ``Alert`` is one received alert notification. ``dedup_key`` is the source's own
identity of that notification (Alertmanager: fingerprint + status + startsAt; SNS:
MessageId; PagerDuty: event id; ...), unique, so a redelivery inserts nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from workflows.store.types import UTCDateTime


def _utc(*, nullable: bool = False, index: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable, index=index))


class AlertGroup(SQLModel, table=True):
    __tablename__ = "alert_groups"
    __table_args__ = (
        UniqueConstraint("group_key", name="uq_alert_groups_group_key"),
        Index("ix_alert_groups_base_generation", "base_key", "generation"),
    )

    id: int | None = Field(default=None, primary_key=True)
    group_key: str = Field(sa_column=Column(Text, nullable=False))
    base_key: str = Field(sa_column=Column(Text, nullable=False))  # "<service>/<alertname>"
    generation: int = 1  # 1, 2, ... : a new group of the same base key after each window
    source: str  # the source of the first alert
    service: str  # label service, else job, else "unknown"
    alertname: str
    summary: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    labels: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    url: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # Where its message goes (None: no route, no service channel, no default: not posted).
    channel: str | None = None
    incident_id: int | None = Field(default=None, index=True)  # routed to this incident
    firing: int = 0  # firing notifications received
    resolved: int = 0  # resolved notifications received
    acknowledged: int = 0  # acknowledgements received (PagerDuty)
    last_status: str = "firing"
    opened_at: datetime = _utc(index=True)
    last_alert_at: datetime = _utc()
    updated_at: datetime = _utc()


class Alert(SQLModel, table=True):
    __tablename__ = "alerts"
    __table_args__ = (
        UniqueConstraint("dedup_key", name="uq_alerts_dedup_key"),
        Index("ix_alerts_source_ref", "source", "alert_ref"),
    )

    id: int | None = Field(default=None, primary_key=True)
    dedup_key: str = Field(sa_column=Column(Text, nullable=False))
    source: str
    # The source's identity of the alert regardless of status (fingerprint, alarm ARN,
    # PagerDuty incident id, generic id): a resolution joins its firing alert's group.
    alert_ref: str = Field(sa_column=Column(Text, nullable=False))
    group_id: int | None = Field(default=None, foreign_key="alert_groups.id", index=True)
    status: str  # firing, resolved, acknowledged
    service: str
    alertname: str
    summary: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    labels: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    starts_at: datetime | None = _utc(nullable=True)
    ends_at: datetime | None = _utc(nullable=True)
    received_at: datetime = _utc(index=True)
