"""Exactly-once handling of inbound deliveries (rule 2).

Every delivery that changes something (a Slack command, click, event or a webhook) has
an idempotency key. The flow claims the key in the SAME transaction as its effect: a
retry or a second click then finds the key taken and does nothing, and a failed attempt
rolls its claim back with everything else, so a later retry can still run it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, select
from sqlmodel import Session, col

from workflows.clock import Clock
from workflows.errors import DuplicateDelivery
from workflows.store.models import Delivery
from workflows.store.upsert import insert_or_ignore


def claim_delivery(*, session: Session, clock: Clock, key: str, source: str) -> None:
    """Record ``key`` as handled, or raise ``DuplicateDelivery`` if it already was.

    On PostgreSQL a concurrent claim of the same key waits for the first transaction and
    then finds the key taken; on SQLite writers are already serialised.
    """
    values = {"key": key, "source": source, "received_at": clock.now()}
    # RETURNING, not rowcount: through the ORM's insert path rowcount is not the number of
    # rows inserted, so a skipped conflict would pass for a claim.
    statement = (
        insert_or_ignore(session, Delivery, key=["key"])
        .values(**values)
        .returning(col(Delivery.key))
    )
    if session.execute(statement).first() is None:
        raise DuplicateDelivery(f"delivery {key!r} was handled before")


def was_delivered(*, session: Session | Connection, key: str) -> bool:
    """A cheap early look; ``claim_delivery`` is the authority."""
    found = session.execute(select(col(Delivery.key)).where(col(Delivery.key) == key))
    return found.first() is not None


def prune_deliveries(*, session: Session, older_than: datetime) -> int:
    """Forget keys older than any retry could be (Slack retries within minutes)."""
    result = session.exec(delete(Delivery).where(col(Delivery.received_at) < older_than))
    return int(result.rowcount or 0)


DELIVERY_RETENTION = timedelta(days=7)
