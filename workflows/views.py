"""Slack messages as views of stored state (rule 3), on the store side.

A change to an object calls ``request_render`` in the change's own transaction: it bumps
the message's ``desired_version`` and makes sure a ``render`` job is waiting. The render
job (``bot/sender.py``) renders whatever is stored when it runs, so every change made
before it runs is shown by one Slack call. The job is keyed on the version Slack shows now
(``render_job_key``), not on the change: the 2nd to 100th change before a render share the
first one's job instead of each leaving a job that finds nothing to do.

Why no change is lost: a change that finds its key's job pending or running leaves it be.
A pending job will read the change when it runs. A running one has not yet recorded its
render (it would have moved the key on), and its record waits for the change's row lock,
so its next read of the row sees the change; a render that ends behind raises
``RetryLater`` and runs again. A finished job of the key (a render that went dead, or one
that found a newer render had beaten it) is re-armed.

While a render talks to Slack it holds a short lease on the message (``render_owner``),
so two renders of one message never overtake each other, and ``post_started_at`` marks a
post in flight so that a crash between Slack's ok and our commit can be recovered without
posting twice. ``ChannelPace`` spaces messages to one channel across every replica.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, update
from sqlmodel import Session, col, select

from workflows.clock import Clock
from workflows.jobs import enqueue_many
from workflows.store.db import Database
from workflows.store.models import ChannelPace, SlackMessage
from workflows.store.tables import table_of
from workflows.store.upsert import dialect_insert, insert_or_ignore

RENDER_JOB_KIND = "render"
# Enough attempts, with backoff capped at 10 minutes, to ride out a Slack outage of hours.
RENDER_MAX_ATTEMPTS = 25


@dataclass(frozen=True)
class RenderTarget:
    """One message to bring up to date: its key, and where it lives when first made."""

    view_key: str
    channel: str
    thread_ts: str | None = None


def request_render(
    *,
    session: Session,
    clock: Clock,
    view_key: str,
    channel: str,
    thread_ts: str | None = None,
    kind: str = RENDER_JOB_KIND,
) -> SlackMessage:
    """Ask for the message of ``view_key`` to show the object's current state.

    Creates the message row on first use (``channel``/``thread_ts`` are fixed then: a
    message cannot move) and sees that a render job waits (one per version Slack shows,
    shared by every change made meanwhile: see the module's note). Does not commit.
    ``kind`` names another job that brings a surface other than a message in step (an
    App Home, ``workflows.home``) with the same versions and leases.
    """
    target = RenderTarget(view_key=view_key, channel=channel, thread_ts=thread_ts)
    return request_renders(session=session, clock=clock, targets=[target], kind=kind)[view_key]


def request_renders(
    *,
    session: Session,
    clock: Clock,
    targets: Sequence[RenderTarget],
    kind: str = RENDER_JOB_KIND,
) -> dict[str, SlackMessage]:
    """``request_render`` for several messages in two statements (one upsert of every
    row, one insert of every job) instead of two each: a change that shows on four
    messages costs the same round trips as one. Returns the rows by view key."""
    if not targets:
        return {}
    now = clock.now()
    unique = {target.view_key: target for target in targets}
    rows = [
        {
            "view_key": key,
            "channel": unique[key].channel,
            "thread_ts": unique[key].thread_ts,
            "desired_version": 1,
            "rendered_version": 0,
            "created_at": now,
            "updated_at": now,
        }
        for key in sorted(unique)  # one lock order for every transaction
    ]
    table = table_of(SlackMessage)
    # One atomic statement: concurrent first renders of one key cannot both insert. The
    # rows come back as the statement left them (populate_existing refreshes a copy
    # already in this session), so no read follows. They go as parameters, so SQLAlchemy
    # compiles the statement once; a multi-row VALUES changes text with the row count.
    statement = (
        dialect_insert(session, SlackMessage)
        .on_conflict_do_update(
            index_elements=["view_key"],
            set_={"desired_version": table.c.desired_version + 1, "updated_at": now},
        )
        .returning(SlackMessage)
    )
    found = session.scalars(statement, rows, execution_options={"populate_existing": True})
    messages = {message.view_key: message for message in found}
    enqueue_many(
        session=session,
        clock=clock,
        kind=kind,
        jobs=[
            ({"view_key": key}, render_job_key(kind, key, messages[key].rendered_version))
            for key in sorted(messages)
        ],
        max_attempts=RENDER_MAX_ATTEMPTS,
        rearm=True,
    )
    return messages


def render_job_key(kind: str, view_key: str, rendered_version: int) -> str:
    """The key of the job that brings ``view_key`` past ``rendered_version`` (what Slack
    shows now): every change made while Slack shows that version shares one job."""
    return f"{kind}:{view_key}:after:{rendered_version}"


def get_message(*, session: Session, view_key: str) -> SlackMessage | None:
    return session.exec(select(SlackMessage).where(col(SlackMessage.view_key) == view_key)).first()


def load_message(*, database: Database, view_key: str) -> SlackMessage | None:
    """A detached copy of the message row, read in a short transaction of its own."""
    with database.transaction() as session:
        return get_message(session=session, view_key=view_key)


def _owned(view_key: str, owner: str) -> ColumnElement[bool]:
    return and_(col(SlackMessage.view_key) == view_key, col(SlackMessage.render_owner) == owner)


def _update_owned(database: Database, view_key: str, owner: str, **values: Any) -> bool:
    with database.transaction() as session:
        result = session.exec(update(SlackMessage).where(_owned(view_key, owner)).values(**values))
        return bool(result.rowcount == 1)


def acquire_render(
    *, database: Database, clock: Clock, view_key: str, owner: str, lease: timedelta
) -> SlackMessage | None:
    """Take (or, for the same owner, extend) the render lease on the message.

    Returns a detached copy of the row, or None if another render holds an unexpired lease
    or the message does not exist.
    """
    now = clock.now()
    free = or_(
        col(SlackMessage.render_owner).is_(None),
        col(SlackMessage.render_owner) == owner,
        col(SlackMessage.render_lease_expires_at) < now,
    )
    with database.transaction() as session:
        result = session.exec(
            update(SlackMessage)
            .where(col(SlackMessage.view_key) == view_key, free)
            .values(render_owner=owner, render_lease_expires_at=now + lease)
        )
        if result.rowcount != 1:
            return None
        return get_message(session=session, view_key=view_key)


def release_render(*, database: Database, view_key: str, owner: str) -> bool:
    """Give the render lease back (no-op if it was taken over)."""
    return _update_owned(database, view_key, owner, render_owner=None, render_lease_expires_at=None)


def mark_post_started(*, database: Database, clock: Clock, view_key: str, owner: str) -> bool:
    """Record that a new post is about to go out, forgetting any stale ``ts``.

    An earlier unfinished post's start is kept, so a recovery looks back far enough.
    """
    return _update_owned(
        database,
        view_key,
        owner,
        ts=None,
        post_started_at=func.coalesce(col(SlackMessage.post_started_at), clock.now()),
        updated_at=clock.now(),
    )


def record_rendered(
    *,
    database: Database,
    clock: Clock,
    view_key: str,
    owner: str,
    version: int,
    ts: str | None,
    channel: str | None = None,
) -> bool:
    """Store the message's ``ts`` and the version Slack now shows; False if the render
    lease was taken over meanwhile (the new owner's write wins). ``channel`` replaces the
    stored one when Slack named another (a DM asked for by user id lives in a D channel,
    and later updates must name that)."""
    extra = {"channel": channel} if channel else {}
    return _update_owned(
        database,
        view_key,
        owner,
        **extra,
        ts=ts,
        rendered_version=version,
        post_started_at=None,
        last_error=None,
        updated_at=clock.now(),
    )


def record_render_error(
    *, database: Database, clock: Clock, view_key: str, owner: str, error: str
) -> bool:
    """Keep the reason a render gave up on the message row, for operators."""
    return _update_owned(database, view_key, owner, last_error=error, updated_at=clock.now())


def reserve_send_slot(
    *,
    database: Database,
    clock: Clock,
    channel: str,
    interval: timedelta = timedelta(seconds=1),
) -> datetime:
    """Reserve the next moment a message may go to ``channel`` and return it.

    The slot is ``max(next_at, now)`` and the channel's ``next_at`` moves to slot +
    ``interval``; the row is locked, so replicas never hand out the same slot. A slot
    far away is booked all the same (``workflows.pace_slots`` keeps it for its job).
    """
    with database.transaction() as session:
        now = clock.now()
        session.exec(
            insert_or_ignore(session, ChannelPace, key=["channel"]).values(
                channel=channel, next_at=now
            )
        )
        query = select(ChannelPace).where(col(ChannelPace.channel) == channel)
        if database.is_postgres:
            query = query.with_for_update()
        pace = session.exec(query).one()
        slot = max(pace.next_at, now)
        pace.next_at = slot + interval
        session.add(pace)
        return slot


def push_back_channel(*, database: Database, clock: Clock, channel: str, until: datetime) -> None:
    """Hold every replica's sends to ``channel`` until ``until`` (Slack said 429)."""
    with database.transaction() as session:
        session.exec(
            insert_or_ignore(session, ChannelPace, key=["channel"]).values(
                channel=channel, next_at=clock.now()
            )
        )
        query = select(ChannelPace).where(col(ChannelPace.channel) == channel)
        if database.is_postgres:
            query = query.with_for_update()
        pace = session.exec(query).one()
        if pace.next_at < until:
            pace.next_at = until
            session.add(pace)
