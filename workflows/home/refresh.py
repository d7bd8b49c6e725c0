"""Keeping every open App Home a view of stored state (rule 3).

A person's Home is a row in ``slack_messages`` under ``home:<user id>`` (created when
they first open it), so it gets the same versions, coalescing and render lease as a
message; its job (``home.publish``) calls ``views.publish`` instead of posting.

A change to something a Home shows (a deploy, an approval, an incident, a lock) calls
``homes_changed`` in its own transaction. That only enqueues one ``home.fanout`` job, so
the change's transaction stays short; the fan-out works out whose Home shows the change
and asks for each of them (``request_home``). Nothing here imports the domains it
serves, so every flow can call it.
"""

from __future__ import annotations

import uuid
import weakref

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from workflows.clock import Clock
from workflows.delivery import claim_delivery
from workflows.jobs import enqueue
from workflows.store.models import SlackMessage
from workflows.views import request_render

HOME_PREFIX = "home:"
PUBLISH_JOB = "home.publish"
FANOUT_JOB = "home.fanout"
ALL = "all"


def home_view_key(user_id: str) -> str:
    return f"{HOME_PREFIX}{user_id}"


def user_of(view_key: str) -> str | None:
    """The user whose Home ``view_key`` is, or None if it is not a Home's key."""
    user = view_key.removeprefix(HOME_PREFIX)
    return user if user != view_key and user else None


def deploy_scope(deploy_id: int) -> str:
    return f"deploy:{deploy_id}"


def request_home(*, session: Session, clock: Clock, user_id: str) -> None:
    """Ask for ``user_id``'s Home to show the current state (one publish per version,
    later changes coalescing into the newest). Does not commit."""
    request_render(
        session=session,
        clock=clock,
        view_key=home_view_key(user_id),
        channel=user_id,
        kind=PUBLISH_JOB,
    )


def home_users(*, session: Session) -> list[str]:
    """Everyone who has opened their Home (and so keeps it up to date)."""
    keys = session.exec(
        select(SlackMessage.view_key).where(col(SlackMessage.view_key).startswith(HOME_PREFIX))
    )
    return sorted(user for key in keys if (user := user_of(key)) is not None)


# Databases (engines) known to have a Home: once someone opened one, every change fans
# out and the look below (a prefix scan of slack_messages) is not made again.
_HAVE_HOMES: weakref.WeakSet[Engine] = weakref.WeakSet()


def _any_home(session: Session) -> bool:
    engine = session.get_bind()
    if isinstance(engine, Engine) and engine in _HAVE_HOMES:
        return True
    anyone = session.exec(
        select(SlackMessage.id).where(col(SlackMessage.view_key).startswith(HOME_PREFIX))
    ).first()
    if anyone is not None and isinstance(engine, Engine):
        _HAVE_HOMES.add(engine)
    return anyone is not None


def homes_changed(*, session: Session, clock: Clock, scope: str = ALL) -> None:
    """Something Homes show changed: ``scope`` is ``deploy_scope(id)`` (its requester and
    approvers care) or ``ALL`` (incidents and locks show on every Home). Enqueues one
    fan-out job, and none while nobody has a Home. Does not commit."""
    if not _any_home(session):
        return
    enqueue(
        session=session,
        clock=clock,
        kind=FANOUT_JOB,
        payload={"scope": scope},
        # Each change its own fan-out: the change itself happened once (its delivery was
        # claimed), and a fan-out run twice only asks for a Home that is already current.
        idempotency_key=f"{FANOUT_JOB}:{scope}:{uuid.uuid4().hex}",
    )


def home_opened(*, session: Session, clock: Clock, user_id: str, delivery_key: str = "") -> None:
    """``user_id`` opened their Home tab: publish it now, and keep it current from now on
    (their ``home:`` row is what the fan-out looks for). Does not commit."""
    if delivery_key:
        claim_delivery(session=session, clock=clock, key=delivery_key, source="slack")
    request_home(session=session, clock=clock, user_id=user_id)
