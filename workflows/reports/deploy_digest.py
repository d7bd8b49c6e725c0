"""The daily deploy digest: what shipped, what failed, break-glass and who approved it.

Counting rules (docs/reports.md):

- a deploy counts in the window it *finished* in (``finished_at``), with the outcome it
  has when the report is computed: succeeded (``succeeded`` or later ``rolled_back``),
  failed, cancelled, other (rejected or expired); ``rollbacks`` counts deploys of kind
  ``rollback`` or ``auto_rollback`` among them;
- break-glass overrides count in the window they were *asked for* (``requested_at``),
  finished or not, each with the approvers who approved it (``approve`` decisions);
- the slowest deploys are those finished in the window, by ``finished_at - started_at``.
"""

from __future__ import annotations

from typing import Any, TypedDict

from sqlalchemy import and_, case, func, select
from sqlmodel import Session, col

from workflows.deploys.models import ApprovalDecision, Deploy, DeployApproval, DeployState
from workflows.reports.periods import Window
from workflows.reports.sql import as_float, dialect_of, seconds_between, split_agg, string_agg

SUCCEEDED = (DeployState.succeeded.value, DeployState.rolled_back.value)
OTHER = (DeployState.rejected.value, DeployState.expired.value)
ROLLBACK_KINDS = ("rollback", "auto_rollback")
MAX_OVERRIDES = 10
SLOWEST = 5


class Counts(TypedDict):
    deploys: int
    succeeded: int
    failed: int
    cancelled: int
    other: int
    rollbacks: int


class TargetCounts(Counts):
    service: str
    environment: str


class Override(TypedDict):
    id: int
    service: str
    environment: str
    version: str
    state: str
    requested_by: str
    reason: str
    approvers: list[str]


class Slow(TypedDict):
    id: int
    service: str
    environment: str
    version: str
    seconds: float


class DeployDigest(TypedDict):
    window: dict[str, str]
    totals: Counts
    by_target: list[TargetCounts]
    overrides: int
    override_list: list[Override]
    slowest: list[Slow]


def _count_columns() -> list[Any]:
    state, kind = col(Deploy.state), col(Deploy.kind)

    def count_if(condition: Any, name: str) -> Any:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0).label(name)

    return [
        func.count().label("deploys"),
        count_if(state.in_(SUCCEEDED), "succeeded"),
        count_if(state == DeployState.failed.value, "failed"),
        count_if(state == DeployState.cancelled.value, "cancelled"),
        count_if(state.in_(OTHER), "other"),
        count_if(kind.in_(ROLLBACK_KINDS), "rollbacks"),
    ]


def _counts(row: Any) -> Counts:
    return Counts(
        deploys=int(row.deploys),
        succeeded=int(row.succeeded),
        failed=int(row.failed),
        cancelled=int(row.cancelled),
        other=int(row.other),
        rollbacks=int(row.rollbacks),
    )


def _finished_in(window: Window) -> Any:
    return and_(col(Deploy.finished_at) >= window.start, col(Deploy.finished_at) < window.end)


def _by_target(session: Session, window: Window) -> list[TargetCounts]:
    service, environment = col(Deploy.service), col(Deploy.environment)
    rows = session.execute(
        select(service, environment, *_count_columns())
        .where(_finished_in(window))
        .group_by(service, environment)
        .order_by(service, environment)
    ).all()
    return [
        TargetCounts(service=row.service, environment=row.environment, **_counts(row))
        for row in rows
    ]


def _overrides_requested_in(window: Window) -> Any:
    return and_(
        col(Deploy.requested_at) >= window.start,
        col(Deploy.requested_at) < window.end,
        col(Deploy.override).is_(True),
    )


def _overrides(session: Session, window: Window) -> list[Override]:
    """The first break-glass deploys asked for in ``window``, each with its approvers."""
    approved = and_(
        col(DeployApproval.deploy_id) == col(Deploy.id),
        col(DeployApproval.decision) == ApprovalDecision.approve.value,
    )
    rows = session.execute(
        select(
            col(Deploy.id),
            col(Deploy.service),
            col(Deploy.environment),
            col(Deploy.version),
            col(Deploy.state),
            col(Deploy.requested_by),
            col(Deploy.override_reason),
            string_agg(dialect_of(session), col(DeployApproval.approver)).label("approvers"),
        )
        .select_from(Deploy)
        .outerjoin(DeployApproval, approved)
        .where(_overrides_requested_in(window))
        .group_by(col(Deploy.id))
        .order_by(col(Deploy.requested_at), col(Deploy.id))
        .limit(MAX_OVERRIDES)
    ).all()
    return [
        Override(
            id=int(row.id),
            service=row.service,
            environment=row.environment,
            version=row.version,
            state=row.state,
            requested_by=row.requested_by,
            reason=row.override_reason or "",
            approvers=split_agg(row.approvers),
        )
        for row in rows
    ]


def _slowest(session: Session, window: Window) -> list[Slow]:
    duration = seconds_between(dialect_of(session), col(Deploy.finished_at), col(Deploy.started_at))
    rows = session.execute(
        select(
            col(Deploy.id),
            col(Deploy.service),
            col(Deploy.environment),
            col(Deploy.version),
            duration.label("seconds"),
        )
        .where(_finished_in(window), col(Deploy.started_at).is_not(None))
        .order_by(duration.desc(), col(Deploy.id))
        .limit(SLOWEST)
    ).all()
    return [
        Slow(
            id=int(row.id),
            service=row.service,
            environment=row.environment,
            version=row.version,
            seconds=round(as_float(row.seconds) or 0.0, 3),
        )
        for row in rows
    ]


def compute(*, session: Session, window: Window) -> DeployDigest:
    """The digest of ``window`` (see the module doc for what counts where)."""
    totals_row = session.execute(select(*_count_columns()).where(_finished_in(window))).one()
    override_count = session.execute(
        select(func.count()).where(_overrides_requested_in(window))
    ).scalar_one()
    return DeployDigest(
        window=window.as_json(),
        totals=_counts(totals_row),
        by_target=_by_target(session, window),
        overrides=int(override_count),
        override_list=_overrides(session, window),
        slowest=_slowest(session, window),
    )
