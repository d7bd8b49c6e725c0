"""Reading alert groups: by id or key, their state, and their view key."""

from __future__ import annotations

from typing import Literal

from sqlmodel import Session, col, func, select

from workflows.alerts.models import Alert, AlertGroup
from workflows.boundary import fits_id

GROUP_VIEW_PREFIX = "alert-group:"
GroupState = Literal["firing", "acknowledged", "resolved"]


def group_view_key(group_id: int) -> str:
    """The view key of a group's Slack message."""
    return f"{GROUP_VIEW_PREFIX}{group_id}"


def group_id_of_view(view_key: str) -> int | None:
    """The group id in ``alert-group:<id>``, or None for any other key."""
    if not view_key.startswith(GROUP_VIEW_PREFIX):
        return None
    rest = view_key[len(GROUP_VIEW_PREFIX) :]
    return int(rest) if rest.isdigit() else None


def get_group(*, session: Session, group_id: int) -> AlertGroup | None:
    if not fits_id(group_id):  # names nothing, and would overflow the driver
        return None
    return session.get(AlertGroup, group_id, populate_existing=True)


def get_group_by_key(*, session: Session, group_key: str) -> AlertGroup | None:
    return session.exec(select(AlertGroup).where(col(AlertGroup.group_key) == group_key)).first()


def list_groups(*, session: Session, limit: int = 100) -> list[AlertGroup]:
    """The newest groups first."""
    query = select(AlertGroup).order_by(col(AlertGroup.id).desc()).limit(limit)
    return list(session.exec(query))


def count_alerts(*, session: Session, group_id: int | None = None) -> int:
    """Stored alert notifications, of one group or of all."""
    query = select(func.count()).select_from(Alert)
    if group_id is not None:
        query = query.where(col(Alert.group_id) == group_id)
    return int(session.exec(query).one())


def group_state(group: AlertGroup) -> GroupState:
    """Firing while more alerts fired than resolved (acknowledged if the latest news was an
    acknowledgement); resolved once every firing has its resolution."""
    if group.firing > group.resolved:
        return "acknowledged" if group.last_status == "acknowledged" else "firing"
    if group.resolved > 0:
        return "resolved"
    return "acknowledged" if group.acknowledged > 0 else "firing"


def active_count(group: AlertGroup) -> int:
    """Alerts of the group still firing (never negative)."""
    return max(group.firing - group.resolved, 0)
