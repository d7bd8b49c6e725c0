"""A static rotation, computed locally and deterministically.

Turn ``k`` (any integer; negative turns lie before ``start``) begins on local date
``start + k * length`` at ``handoff`` in the rotation's time zone and belongs to
``users[k mod len(users)]``. Because lengths are whole days, a handoff keeps its local
wall-clock time across daylight-saving changes; a handoff time that does not exist on a
spring-forward day is read as the wall clock before the change would show it
(``fold=0``), so handoffs still move strictly forward.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from workflows.config.oncall import StaticRotation
from workflows.oncall.base import OnCallNow, OnCallPerson, OnCallShift, ScheduleConfig


def handoff_at(rotation: StaticRotation, turn: int) -> datetime:
    """When turn ``turn`` begins, in UTC."""
    days = rotation.length.days * turn
    local_date = rotation.start + timedelta(days=days)
    local = datetime.combine(local_date, rotation.handoff_time(), ZoneInfo(rotation.timezone))
    return local.astimezone(UTC)


def turn_at(rotation: StaticRotation, at: datetime) -> int:
    """The turn running at ``at``: ``handoff_at(turn) <= at < handoff_at(turn + 1)``."""
    local = at.astimezone(ZoneInfo(rotation.timezone))
    turn = (local.date() - rotation.start).days // rotation.length.days
    while handoff_at(rotation, turn) > at:
        turn -= 1
    while handoff_at(rotation, turn + 1) <= at:
        turn += 1
    return turn


def shift(rotation: StaticRotation, turn: int) -> OnCallShift:
    user = rotation.users[turn % len(rotation.users)]
    return OnCallShift(
        person=OnCallPerson(name=user, slack_user=user),
        start=handoff_at(rotation, turn),
        end=handoff_at(rotation, turn + 1),
    )


class StaticRotations:
    """The provider of every ``provider: static`` schedule (no I/O)."""

    def who_is_on_call(self, *, target: ScheduleConfig, at: datetime) -> OnCallNow:
        if target.provider != "static":
            raise ValueError(f"not a static rotation: {target.provider}")
        turn = turn_at(target, at)
        return OnCallNow(now=(shift(target, turn),), next=(shift(target, turn + 1),))
