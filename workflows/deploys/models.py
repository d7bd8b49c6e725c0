"""Tables of the deploy flow: deploys, their approval decisions, and locks.

``Deploy.in_flight_key`` is ``"<service>:<environment>"`` while a deploy is not finished
and NULL once it is; its unique index makes "one deploy in flight per service and
environment" a property of the database, not of a check that two replicas could race.
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


class DeployState(StrEnum):
    requested = "requested"  # written, policy passed, nothing started yet
    awaiting_approval = "awaiting_approval"
    approved = "approved"  # approvals complete; the start job is queued
    running = "running"  # the backend accepted it; polling
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"
    rejected = "rejected"
    expired = "expired"  # the approval request outlived its TTL
    rolled_back = "rolled_back"  # it had succeeded, then a later rollback replaced it

    @property
    def label(self) -> str:
        """The state as people read it: "awaiting approval", "rolled back"."""
        return self.value.replace("_", " ")


TERMINAL_STATES = frozenset(
    {
        DeployState.succeeded,
        DeployState.failed,
        DeployState.cancelled,
        DeployState.rejected,
        DeployState.expired,
        DeployState.rolled_back,
    }
)


class DeployKind(StrEnum):
    deploy = "deploy"
    rollback = "rollback"  # a person asked for a rollback (command or button)
    auto_rollback = "auto_rollback"  # started by shipbot after a failed health check


SHIPBOT_SOURCE = "shipbot"
"""``Deploy.source`` of a deploy shipbot ran; anything else (``github``, ``argocd``) was
recorded from outside: never started, polled, cancelled or recovered by shipbot."""


class Deploy(SQLModel, table=True):
    __tablename__ = "deploys"
    __table_args__ = (
        UniqueConstraint("source", "external_id", name="uq_deploys_external"),
        Index("ix_deploys_service_env_requested", "service", "environment", "requested_at"),
        Index("ix_deploys_requested_at", "requested_at"),
        Index("ix_deploys_finished_at", "finished_at"),
        # The DORA report: one environment's deploys of one kind finished in a fortnight.
        Index("ix_deploys_env_kind_finished", "environment", "kind", "finished_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    service: str
    environment: str
    version: str
    reason: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    kind: str = Field(default=DeployKind.deploy)
    rollback_of: int | None = Field(default=None, description="The deploy this one replaces.")
    state: str = Field(default=DeployState.requested, index=True)
    in_flight_key: str | None = Field(default=None, sa_column=Column(Text, unique=True))
    requested_by: str
    requested_at: datetime = _utc()
    channel: str = ""  # where its message lives (the deploys channel, else where it was asked)
    approvals_channel: str = ""  # where its approval request lives
    approvals_required: int = 0
    approved_at: datetime | None = _utc(nullable=True)
    expires_at: datetime | None = _utc(nullable=True)
    started_at: datetime | None = _utc(nullable=True)
    finished_at: datetime | None = _utc(nullable=True)
    updated_at: datetime = _utc()
    # Break-glass: the deploy went through a freeze window or a blocking incident.
    override: bool = False
    override_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    backend: str = ""
    # What the backend needs to poll or cancel (run id, deployment id, pid, ...).
    backend_state: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False)
    )
    logs_url: str | None = None
    cancel_requested: bool = False
    cancelled_by: str | None = None
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    output_tail: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    health: str | None = None  # passed | failed | None (no check configured)
    # When the change was committed, where the backend or request tells (DORA lead time).
    commit_at: datetime | None = _utc(nullable=True)
    # What the deploy ships (commits since the running version), from the service's
    # ``source``; computed by a job after the request, so it never delays the ack.
    changes: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    # Who ran it: "shipbot", or the outside system that did (recorded by a hook or import).
    source: str = Field(
        default=SHIPBOT_SOURCE,
        sa_column=Column(Text, nullable=False, default=SHIPBOT_SOURCE, server_default="shipbot"),
    )
    # The outside system's id of it (unique per source); NULL for shipbot's own.
    external_id: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class ApprovalDecision(StrEnum):
    approve = "approve"
    reject = "reject"


class DeployApproval(SQLModel, table=True):
    """One approver's decision on one deploy. An approver counts once per deploy."""

    __tablename__ = "deploy_approvals"
    __table_args__ = (UniqueConstraint("deploy_id", "approver", name="uq_deploy_approver"),)

    id: int | None = Field(default=None, primary_key=True)
    deploy_id: int = Field(foreign_key="deploys.id", index=True)
    approver: str
    decision: str
    # Bound to exactly what was asked for: a click on a stale request cannot approve more.
    service: str
    environment: str
    version: str
    reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    decided_at: datetime = _utc()


ALL_SERVICES = "*"


class DeployLock(SQLModel, table=True):
    """No deploys to ``environment`` (of ``service``, or of every service for ``*``)."""

    __tablename__ = "deploy_locks"
    __table_args__ = (UniqueConstraint("environment", "service", name="uq_deploy_lock"),)

    id: int | None = Field(default=None, primary_key=True)
    environment: str
    service: str = ALL_SERVICES
    reason: str = Field(sa_column=Column(Text, nullable=False))
    locked_by: str
    locked_at: datetime = _utc()


class DeployPromotion(SQLModel, table=True):
    """One person's go-ahead to promote a deploy's canary past the pause at ``step``.

    Unique per (deploy, step, approver): a double click or a Slack retry counts once; the
    promote itself is a job whose idempotency key is the step, so it runs once."""

    __tablename__ = "deploy_promotions"
    __table_args__ = (
        UniqueConstraint("deploy_id", "step", "approver", name="uq_deploy_promotion"),
    )

    id: int | None = Field(default=None, primary_key=True)
    deploy_id: int = Field(foreign_key="deploys.id", index=True)
    step: int
    approver: str
    weight: int  # the canary weight the approver saw
    decided_at: datetime = _utc()
