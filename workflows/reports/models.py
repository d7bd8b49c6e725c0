"""Tables of scheduled reports: one row per claimed fire time, so a report posts once.

``ReportRun`` is unique on ``(report_name, fire_time)``: every replica's cron clock tries
to insert the row for a fire time and exactly one succeeds. The run keeps the figures it
computed (JSON), so the Slack message is a pure rendering of stored state and re-renders
are identical. ``ReportSchedule`` remembers, per report, when it was first scheduled and
the latest fire time claimed, which is what "missed while down" is measured against.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from workflows.store.types import UTCDateTime


def _utc(*, nullable: bool = False, index: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable, index=index))


class RunTrigger(StrEnum):
    scheduled = "scheduled"  # claimed at (or within the grace after) its fire time
    missed = "missed"  # the latest fire time missed during downtime (missed: run_once)
    manual = "manual"  # `/shipbot report run` or `shipbot report run`


class RunState(StrEnum):
    claimed = "claimed"  # the fire time is ours; the report.run job is queued
    computed = "computed"  # figures stored; the message render is queued (if any)


class ReportRun(SQLModel, table=True):
    """One run of one report: a claimed fire time and, once computed, its figures."""

    __tablename__ = "report_runs"
    __table_args__ = (
        UniqueConstraint("report_name", "fire_time", name="uq_report_runs_name_fire_time"),
    )

    id: int | None = Field(default=None, primary_key=True)
    report_name: str
    kind: str
    trigger: str = Field(default=RunTrigger.scheduled)
    # The instant the figures are computed "as of" (the window ends here), UTC.
    fire_time: datetime = _utc()
    timezone: str = "UTC"
    channel: str  # Slack channel id, resolved when claimed
    requested_by: str  # "scheduler", "cli" or the Slack user id
    claimed_by: str = ""  # which replica or process claimed it (for operators)
    claimed_at: datetime = _utc()
    state: str = Field(default=RunState.claimed)
    # Inputs fixed at claim time (the audit checkpoint's anchor), JSON.
    params: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    figures: dict[str, Any] | None = Field(
        default=None, sa_column=Column(JSON(none_as_null=True), nullable=True)
    )
    computed_at: datetime | None = _utc(nullable=True)
    # The chart upload (files.getUploadURLExternal -> POST -> files.completeUploadExternal),
    # resumable: a retried job reuses the file it started.
    chart_file_id: str | None = None
    chart_upload_url: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    chart_shared_at: datetime | None = _utc(nullable=True)


class ReportSchedule(SQLModel, table=True):
    """Per report name: since when it is scheduled and the latest fire time claimed."""

    __tablename__ = "report_schedules"

    report_name: str = Field(sa_column=Column(Text, primary_key=True))
    registered_at: datetime = _utc()
    last_fire_time: datetime | None = _utc(nullable=True)
    last_run_id: int | None = None
