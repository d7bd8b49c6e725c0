"""Group commit on both databases: what arrives while a transaction is open goes into the
next one, every caller returns only after its own commit, and a bad item fails alone."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError, OperationalError

from workflows.clock import FakeClock
from workflows.job_intake import JobIntake
from workflows.jobs import new_job_row
from workflows.store.db import Database
from workflows.store.group_commit import GroupCommit
from workflows.store.models import Job
from workflows.store.tables import table_of

NOW = datetime(2026, 12, 1, tzinfo=UTC)
SETTLE = 10.0  # generous bound on waiting for threads to queue; never a measured figure


def _until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + SETTLE
    while not condition():
        assert time.monotonic() < deadline, "threads never queued"
        time.sleep(0.005)


def _keys(database: Database) -> list[str]:
    with database.read_connection() as connection:  # on SQLite: not behind the write gate
        return sorted(connection.scalars(select(table_of(Job).c.idempotency_key)))


class _Held:
    """A write that records each transaction's items and holds the first one open until
    ``release``: what arrives meanwhile has to queue for the next transaction."""

    def __init__(self, database: Database) -> None:
        self.batches: list[list[str]] = []
        self.release = threading.Event()
        self.intake = JobIntake(database=database, clock=FakeClock(NOW))
        self._insert = self.intake._group._write  # the real insert, wrapped below
        self.intake._group._write = self.write

    def write(self, connection: Connection, rows: Sequence[dict[str, Any]]) -> None:
        self.batches.append([row["idempotency_key"] for row in rows])
        if len(self.batches) == 1:
            assert self.release.wait(SETTLE)
        self._insert(connection, rows)

    def row(self, key: str) -> dict[str, Any]:
        return self.intake.row(kind="test", payload={"key": key}, idempotency_key=key)

    def enqueue(self, key: str, errors: list[BaseException]) -> threading.Thread:
        def run() -> None:
            try:
                self.intake.enqueue(self.row(key))
            except Exception as error:
                errors.append(error)

        thread = threading.Thread(target=run)
        thread.start()
        return thread


def test_a_burst_shares_one_transaction(database: Database) -> None:
    held = _Held(database)
    errors: list[BaseException] = []
    first = held.enqueue("first", errors)
    _until(lambda: len(held.batches) == 1)
    others = [held.enqueue(f"k{n}", errors) for n in range(8)]
    _until(lambda: held.intake._group.queued == 8)
    assert _keys(database) == []  # nobody returned: nothing is committed yet
    held.release.set()
    for thread in [first, *others]:
        thread.join(SETTLE)
    assert errors == []
    assert held.batches[0] == ["first"]
    assert sorted(held.batches[1]) == [f"k{n}" for n in range(8)]
    assert len(held.batches) == 2
    assert _keys(database) == sorted(["first", *(f"k{n}" for n in range(8))])


def test_a_repeat_in_the_same_transaction_is_stored_once(database: Database) -> None:
    held = _Held(database)
    errors: list[BaseException] = []
    first = held.enqueue("first", errors)
    _until(lambda: len(held.batches) == 1)
    repeats = [held.enqueue("again", errors) for _ in range(3)]
    _until(lambda: held.intake._group.queued == 3)
    held.release.set()
    for thread in [first, *repeats]:
        thread.join(SETTLE)
    assert errors == []
    assert held.batches[1] == ["again"] * 3
    assert _keys(database) == ["again", "first"]


def test_a_bad_item_fails_alone(database: Database) -> None:
    """A row the database refuses (a NULL kind) fails its own caller; the rows that shared
    its transaction are written again, each alone, and stored."""
    group: GroupCommit[dict[str, Any]] = GroupCommit(database.engine, _insert_rows)
    release = threading.Event()
    seen: list[int] = []

    def write(connection: Connection, rows: Sequence[dict[str, Any]]) -> None:
        seen.append(len(rows))
        if len(seen) == 1:
            assert release.wait(SETTLE)
        _insert_rows(connection, rows)

    group._write = write
    outcomes: dict[str, str] = {}

    def submit(key: str, kind: str | None) -> threading.Thread:
        def run() -> None:
            try:
                group.submit(_row(key, kind))
                outcomes[key] = "stored"
            except IntegrityError:
                outcomes[key] = "refused"

        thread = threading.Thread(target=run)
        thread.start()
        return thread

    threads = [submit("first", "test")]
    _until(lambda: seen == [1])
    threads += [submit("good-1", "test"), submit("bad", None), submit("good-2", "test")]
    _until(lambda: group.queued == 3)
    release.set()
    for thread in threads:
        thread.join(SETTLE)
    assert outcomes == {"first": "stored", "good-1": "stored", "bad": "refused", "good-2": "stored"}
    assert seen[:2] == [1, 3]  # the shared transaction failed, then each alone
    assert _keys(database) == ["first", "good-1", "good-2"]


def test_a_lone_caller_returns_committed(database: Database) -> None:
    intake = JobIntake(database=database, clock=FakeClock(NOW))
    intake.enqueue(intake.row(kind="test", payload={}, idempotency_key="alone"))
    other = Database(database.url)  # a pool of its own: it sees only what is committed
    try:
        assert _keys(other) == ["alone"]
    finally:
        other.dispose()
    assert intake._group.queued == 0


def test_a_caller_that_must_not_block_gets_a_future(database: Database) -> None:
    """``enqueue_nowait`` (the event loop's way in) returns at once; its rows queue behind
    the open transaction like anyone's, the group's committer thread writes them, and each
    future resolves only after that commit."""
    held = _Held(database)
    errors: list[BaseException] = []
    first = held.enqueue("first", errors)  # a blocking caller leads, held open
    _until(lambda: len(held.batches) == 1)
    futures = [held.intake.enqueue_nowait(held.row(f"n{n}")) for n in range(3)]
    assert held.intake._group.queued == 3
    assert not any(future.done() for future in futures)
    held.release.set()
    for future in futures:
        assert future.result(SETTLE) is None
    first.join(SETTLE)
    assert errors == []
    assert sorted(held.batches[1]) == ["n0", "n1", "n2"]
    assert _keys(database) == ["first", "n0", "n1", "n2"]


def test_blocking_callers_queue_behind_a_nowait_lead(database: Database) -> None:
    """A batch started by ``enqueue_nowait`` holds the lead on the committer thread; a
    blocking caller that arrives meanwhile leads the next batch itself and returns
    committed."""
    held = _Held(database)
    errors: list[BaseException] = []
    lead = held.intake.enqueue_nowait(held.row("first"))
    _until(lambda: len(held.batches) == 1)
    waiting = [held.enqueue(f"k{n}", errors) for n in range(2)]
    _until(lambda: held.intake._group.queued == 2)
    held.release.set()
    for thread in waiting:
        thread.join(SETTLE)
    assert lead.result(SETTLE) is None
    assert errors == []
    assert sorted(held.batches[1]) == ["k0", "k1"]
    assert _keys(database) == ["first", "k0", "k1"]


def test_a_refused_nowait_row_fails_its_own_future(database: Database) -> None:
    group: GroupCommit[dict[str, Any]] = GroupCommit(database.engine, _insert_rows)
    good, bad = group.submit_nowait(_row("good", "test")), group.submit_nowait(_row("bad", None))
    assert good.result(SETTLE) is None
    with pytest.raises(IntegrityError):
        bad.result(SETTLE)
    assert _keys(database) == ["good"]
    group.submit(_row("next", "test"))  # the lead was put down
    assert _keys(database) == ["good", "next"]


def _row(key: str, kind: str | None) -> dict[str, Any]:
    """A job's columns; ``kind=None`` makes a row the database refuses (NOT NULL)."""
    return {**new_job_row("test", {}, key, NOW, 5, NOW), "kind": kind}


def _insert_rows(connection: Connection, rows: Sequence[dict[str, Any]]) -> None:
    connection.execute(table_of(Job).insert(), list(rows))


def test_the_group_is_empty_again_after_an_error(database: Database) -> None:
    group: GroupCommit[dict[str, Any]] = GroupCommit(database.engine, _insert_rows)
    with pytest.raises(IntegrityError):
        group.submit(_row("bad", None))
    group.submit(_row("next", "test"))  # the lead was put down: this one writes at once
    assert _keys(database) == ["next"]
    assert group.queued == 0


def test_an_unreachable_database_fails_the_batch_once(database: Database) -> None:
    """When the database cannot be reached no row is to blame: the batch is not tried
    again row by row (each caller would wait out the outage once per row)."""
    group: GroupCommit[dict[str, Any]] = GroupCommit(database.engine, _insert_rows)
    release = threading.Event()
    seen: list[int] = []

    def write(connection: Connection, rows: Sequence[dict[str, Any]]) -> None:
        seen.append(len(rows))
        if len(seen) == 1:
            assert release.wait(SETTLE)
            _insert_rows(connection, rows)
            return
        raise OperationalError("INSERT", {}, ConnectionError("server closed the connection"))

    group._write = write
    outcomes: dict[str, str] = {}

    def submit(key: str) -> threading.Thread:
        def run() -> None:
            try:
                group.submit(_row(key, "test"))
                outcomes[key] = "stored"
            except OperationalError:
                outcomes[key] = "unreachable"

        thread = threading.Thread(target=run)
        thread.start()
        return thread

    threads = [submit("first")]
    _until(lambda: seen == [1])
    threads += [submit(f"k{n}") for n in range(3)]
    _until(lambda: group.queued == 3)
    release.set()
    for thread in threads:
        thread.join(SETTLE)
    assert outcomes == {
        "first": "stored",
        "k0": "unreachable",
        "k1": "unreachable",
        "k2": "unreachable",
    }
    assert seen == [1, 3]  # one try for the three, none alone
