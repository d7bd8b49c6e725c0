"""Pending approvals: deploys waiting for approval, oldest first, and who can approve them.

The approvers of a deploy are the environment's ``approval.from_groups`` (users and Slack
user groups), less those who already approved it and, unless self-approval is allowed,
the requester. An environment without ``from_groups`` lets anyone approve: nobody in
particular is mentioned then.
"""

from __future__ import annotations

from datetime import datetime
from typing import TypedDict

from sqlalchemy import and_, func, literal, select
from sqlmodel import Session, col

from workflows.config import ShipbotConfig
from workflows.deploys.models import ApprovalDecision, Deploy, DeployApproval, DeployState
from workflows.reports.sql import as_float, dialect_of, seconds_between, split_agg, string_agg
from workflows.store.types import UTCDateTime

MAX_LISTED = 20


class Pending(TypedDict):
    id: int
    service: str
    environment: str
    version: str
    requested_by: str
    age_seconds: float
    approvals: int
    required: int
    anyone: bool
    waiting_users: list[str]
    waiting_usergroups: list[str]


class PendingApprovals(TypedDict):
    as_of: str
    count: int
    items: list[Pending]


def _waiting_on(
    config: ShipbotConfig, environment: str, requester: str, approvers: list[str]
) -> tuple[bool, list[str], list[str]]:
    settings = config.environments.get(environment)
    refs = settings.approval.from_groups if settings is not None else []
    if not refs:
        return True, [], []
    principals = config.principals(refs)
    users = set(principals.users) - set(approvers)
    if settings is not None and not settings.approval.allow_self_approval:
        users.discard(requester)
    return False, sorted(users), sorted(principals.usergroups)


def compute(*, session: Session, config: ShipbotConfig, as_of: datetime) -> PendingApprovals:
    """The deploys awaiting approval (asked for before ``as_of``), with their age then."""
    dialect = dialect_of(session)
    waiting = and_(
        col(Deploy.state) == DeployState.awaiting_approval.value,
        col(Deploy.requested_at) <= as_of,
    )
    count = session.execute(select(func.count()).where(waiting)).scalar_one()
    approved = and_(
        col(DeployApproval.deploy_id) == col(Deploy.id),
        col(DeployApproval.decision) == ApprovalDecision.approve.value,
    )
    age = seconds_between(dialect, literal(as_of, UTCDateTime()), col(Deploy.requested_at))
    rows = session.execute(
        select(
            col(Deploy.id),
            col(Deploy.service),
            col(Deploy.environment),
            col(Deploy.version),
            col(Deploy.requested_by),
            col(Deploy.approvals_required),
            age.label("age"),
            func.count(col(DeployApproval.id)).label("approvals"),
            string_agg(dialect, col(DeployApproval.approver)).label("approvers"),
        )
        .select_from(Deploy)
        .outerjoin(DeployApproval, approved)
        .where(waiting)
        .group_by(col(Deploy.id))
        .order_by(col(Deploy.requested_at), col(Deploy.id))
        .limit(MAX_LISTED)
    ).all()
    items = []
    for row in rows:
        anyone, users, usergroups = _waiting_on(
            config, row.environment, row.requested_by, split_agg(row.approvers)
        )
        items.append(
            Pending(
                id=int(row.id),
                service=row.service,
                environment=row.environment,
                version=row.version,
                requested_by=row.requested_by,
                age_seconds=round(as_float(row.age) or 0.0, 3),
                approvals=int(row.approvals),
                required=int(row.approvals_required),
                anyone=anyone,
                waiting_users=users,
                waiting_usergroups=usergroups,
            )
        )
    return PendingApprovals(as_of=as_of.isoformat(), count=int(count), items=items)
