"""Events API events the incident domain listens to."""

from __future__ import annotations

from commands.common.seams import Deps
from commands.common.surfaces import AppEvent
from workflows.incidents.members import member_joined

MEMBER_JOINED = "member_joined_channel"


def joined(event: AppEvent, deps: Deps) -> None:
    """Someone joined a channel: if it is an incident's, they are one of its members from
    now on (a private incident is theirs to see). Idempotent: a redelivery stores nothing
    new."""
    if not event.channel_id or not event.user_id:
        return
    with deps.database.transaction() as session:
        member_joined(
            session=session, clock=deps.clock, channel_id=event.channel_id, user_id=event.user_id
        )
