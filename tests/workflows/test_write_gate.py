"""SQLite's write lock queued inside the process: handed over at once, foreground first,
and freed however a transaction ends (the gate is SQLite-only: PostgreSQL has no single
write lock to queue for)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from sqlalchemy import text

from workflows.store.db import Database
from workflows.store.write_gate import WriteGate, mark_background_thread

SETTLE = 10.0  # generous bound on waiting for a thread to queue; never a measured figure


def _until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + SETTLE
    while not condition():
        assert time.monotonic() < deadline, "thread never reached the gate"
        time.sleep(0.005)


def _waiter(gate: WriteGate, owner: int, order: list[int], *, background: bool) -> threading.Thread:
    def run() -> None:
        if background:
            mark_background_thread()
        gate.acquire(owner)
        order.append(owner)
        gate.release(owner)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def _queued(gate: WriteGate) -> int:
    return len(gate._foreground) + len(gate._background)


@pytest.mark.parametrize(
    ("patience", "order"),
    [(SETTLE, [3, 2]), (0.0, [2, 3])],
    ids=["a waiting request writes before a waiting job", "unless the job waited too long"],
)
def test_foreground_first_within_the_jobs_patience(patience: float, order: list[int]) -> None:
    gate = WriteGate(timeout=SETTLE, background_patience=patience)
    gate.acquire(1)
    seen: list[int] = []
    job = _waiter(gate, 2, seen, background=True)
    _until(lambda: _queued(gate) == 1)
    request = _waiter(gate, 3, seen, background=False)
    _until(lambda: _queued(gate) == 2)
    gate.release(1)
    job.join(SETTLE)
    request.join(SETTLE)
    assert seen == order


def test_only_the_holder_frees_the_gate() -> None:
    gate = WriteGate(timeout=SETTLE)
    gate.acquire(1)
    gate.release(2)  # e.g. the pool's rollback of a connection that only read
    order: list[int] = []
    other = _waiter(gate, 3, order, background=False)
    _until(lambda: _queued(gate) == 1)
    assert order == []
    gate.release(1)
    other.join(SETTLE)
    assert order == [3]


def _writes_while(database: Database, end: Callable[[], None]) -> None:
    """A second thread's write goes through once ``end`` finished the first transaction."""
    done = threading.Event()

    def second() -> None:
        with database.transaction() as session:
            session.execute(
                text(
                    "INSERT INTO deliveries (key, source, received_at) "
                    "VALUES ('second', 't', CURRENT_TIMESTAMP)"
                )
            )
        done.set()

    end()
    thread = threading.Thread(target=second)
    thread.start()
    assert done.wait(SETTLE)
    thread.join()


def test_commit_rollback_and_a_dropped_session_all_free_sqlite_writes(
    sqlite_database: Database,
) -> None:
    insert = text(
        "INSERT INTO deliveries (key, source, received_at) VALUES (:k, 't', CURRENT_TIMESTAMP)"
    )

    def committed() -> None:
        with sqlite_database.transaction() as session:
            session.execute(insert, {"k": "a"})

    def rolled_back() -> None:
        try:
            with sqlite_database.transaction() as session:
                session.execute(insert, {"k": "b"})
                raise RuntimeError("the flow refused")
        except RuntimeError:
            pass

    def dropped() -> None:
        session = sqlite_database.session()
        session.execute(insert, {"k": "c"})
        session.close()  # never committed: the pool rolls it back

    for end in (committed, rolled_back, dropped):
        _writes_while(sqlite_database, end)
        with sqlite_database.transaction() as session:
            session.execute(text("DELETE FROM deliveries WHERE key = 'second'"))
    with sqlite_database.read_session() as session:
        keys = session.execute(text("SELECT key FROM deliveries ORDER BY key")).scalars().all()
    assert keys == ["a"]
