"""Delivery keys: claimed once, in the effect's transaction, on both databases."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from workflows.clock import FakeClock
from workflows.delivery import claim_delivery, prune_deliveries, was_delivered
from workflows.errors import DuplicateDelivery
from workflows.store.db import Database
from workflows.store.models import Delivery


def test_a_key_is_claimed_once(database: Database, clock: FakeClock) -> None:
    with database.transaction() as session:
        claim_delivery(session=session, clock=clock, key="slack:event:Ev1", source="slack")
    with pytest.raises(DuplicateDelivery), database.transaction() as session:
        claim_delivery(session=session, clock=clock, key="slack:event:Ev1", source="slack")
    with database.session() as session:
        assert was_delivered(session=session, key="slack:event:Ev1")
        assert not was_delivered(session=session, key="slack:event:Ev2")


def test_a_failed_effect_releases_its_claim(database: Database, clock: FakeClock) -> None:
    with pytest.raises(ZeroDivisionError), database.transaction() as session:
        claim_delivery(session=session, clock=clock, key="k", source="slack")
        _ = 1 / 0  # the effect fails after the claim
    with database.transaction() as session:  # so a retry can still run it
        claim_delivery(session=session, clock=clock, key="k", source="slack")


def test_concurrent_claims_of_one_key_let_exactly_one_through(
    database: Database, clock: FakeClock
) -> None:
    outcomes: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(6)

    def claim() -> None:
        start.wait()
        try:
            with database.transaction() as session:
                claim_delivery(session=session, clock=clock, key="same", source="slack")
            result = "claimed"
        except DuplicateDelivery:
            result = "duplicate"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=claim) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["claimed"] + ["duplicate"] * 5
    with database.session() as session:
        assert session.execute(select(func.count()).select_from(Delivery)).scalar() == 1


def test_old_keys_are_pruned(database: Database, clock: FakeClock) -> None:
    with database.transaction() as session:
        claim_delivery(session=session, clock=clock, key="old", source="slack")
    clock.advance(hours=24 * 8)
    with database.transaction() as session:
        claim_delivery(session=session, clock=clock, key="new", source="slack")
        removed = prune_deliveries(session=session, older_than=clock.now() - timedelta(days=7))
    assert removed == 1
    with database.session() as session:
        assert not was_delivered(session=session, key="old")
        assert was_delivered(session=session, key="new")


def test_a_read_session_does_not_wait_for_a_writer(
    sqlite_database: Database, clock: FakeClock
) -> None:
    # A writer holds SQLite's write lock; the early duplicate check must still answer.
    with sqlite_database.transaction() as writer:
        claim_delivery(session=writer, clock=clock, key="held", source="slack")
        with sqlite_database.read_session() as reader:
            assert not was_delivered(session=reader, key="held")  # not committed yet
    with sqlite_database.read_session() as reader:
        assert was_delivered(session=reader, key="held")
