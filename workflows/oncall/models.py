"""The pages sent through PagerDuty's Events API v2: one row per (incident, schedule)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel

from workflows.store.types import UTCDateTime


def _utc(*, nullable: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable))


class OnCallPage(SQLModel, table=True):
    """A page: asked for once, sent as one trigger (``dedup_key`` is unique, and
    PagerDuty deduplicates by it too), then followed until someone acknowledges it."""

    __tablename__ = "oncall_pages"

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incidents.id", index=True)
    schedule: str
    dedup_key: str = Field(sa_column=Column(Text, nullable=False, unique=True))
    message: str = Field(sa_column=Column(Text, nullable=False))
    requested_by: str
    channel: str | None = None  # where its message shows
    status: str = "sending"  # sending, triggered, acknowledged, resolved, failed
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # The provider's text, stored as given; escaped when shown.
    acknowledged_by_name: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    acknowledged_by_user: str | None = None  # a Slack user id, when the email maps to one
    acknowledged_at: datetime | None = _utc(nullable=True)
    pagerduty_url: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    requested_at: datetime = _utc()
    sent_at: datetime | None = _utc(nullable=True)
    updated_at: datetime = _utc()
