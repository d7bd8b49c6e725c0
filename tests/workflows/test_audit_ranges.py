"""verify in ranges: the database-built text is byte-identical to Python's canonical
JSON, and checking a chain in ranges (in worker processes or not) finds exactly what one
walk finds, wherever the tampering falls relative to the range boundaries."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import select, text

from workflows import audit
from workflows.audit.chain import ENTRIES
from workflows.audit.ranges import _QUERIES
from workflows.clock import FakeClock
from workflows.store.db import Database

TRICKY = [
    "plain",
    'quo"te \\ back/slash',
    "nl\ncr\rtab\t\b\f",
    "\x01\x1f\x7f",
    "héllo ✓ 😀 \u2028\u2029",
    "",
]


def test_hashed_text_is_canonical_json() -> None:
    for value in TRICKY:
        fields: dict[str, Any] = {
            "seq": 12345678901,
            "created_at": datetime(2026, 1, 5, 12, 0, 0, 5, tzinfo=timezone(timedelta(hours=2))),
            "actor": value,
            "action": f"a{value}",
            "target": value[::-1],
            "params": {"z": [1, 2.5, None, value], value: {"x": True}},
            "outcome": "ok",
            "channel": value or None,
            "message_ts": None,
        }
        assembled = audit.hashed_text(
            **{
                **fields,
                "created_at": audit.format_timestamp(fields["created_at"]),
                "params": audit.canonical_json(fields["params"]),
            }
        )
        assert assembled == audit.canonical_json(fields)


def test_the_database_builds_the_same_text(database: Database, clock: FakeClock) -> None:
    with database.transaction() as session:
        for value in TRICKY:
            clock.advance(seconds=1.000001)
            audit.record(
                session=session,
                clock=clock,
                actor=value,
                action=f"a{value}",
                target=value[::-1],
                params={"z": [1, 2.5, None, value], value: {"x": True}},
                channel=value or None,
                message_ts=value or None,
            )
    with database.session() as session:
        stored = session.execute(select(ENTRIES).order_by(ENTRIES.c.seq)).all()
        cursor = session.connection().connection.cursor()
        cursor.execute(_QUERIES[database.dialect][0], (1, len(TRICKY)))
        built = cursor.fetchall()
    assert len(built) == len(stored) == len(TRICKY)
    for row, (seq, built_text, _, _) in zip(stored, built, strict=True):
        fields = {name: getattr(row, name) for name in audit.HASHED_FIELDS}
        assert (seq, built_text) == (row.seq, audit.canonical_json(fields))


def sql(database: Database, statement: str, **params: Any) -> None:
    with database.engine.begin() as connection:
        connection.execute(text(statement), params)


def swap(database: Database, a: int, b: int) -> None:
    """Exchange every column but ``seq`` of two rows."""
    columns = [column for column in ENTRIES.c if column.name != "seq"]
    with database.engine.begin() as connection:
        row_a = connection.execute(select(*columns).where(ENTRIES.c.seq == a)).one()._asdict()
        row_b = connection.execute(select(*columns).where(ENTRIES.c.seq == b)).one()._asdict()
        connection.execute(ENTRIES.update().where(ENTRIES.c.seq == a).values(hash="moving"))
        connection.execute(ENTRIES.update().where(ENTRIES.c.seq == b).values(**row_a))
        connection.execute(ENTRIES.update().where(ENTRIES.c.seq == a).values(**row_b))


def edit_then_delete(database: Database) -> None:
    sql(database, "UPDATE audit_entries SET actor='X' WHERE seq=11")
    sql(database, "DELETE FROM audit_entries WHERE seq=6")


# Ranges of 4 entries: 1-4, 5-8, 9-12, 13-15 (15 entries). Tampering at, inside and
# across those boundaries.
TAMPERING: dict[str, Callable[[Database], None]] = {
    "edit first of a range": lambda d: sql(d, "UPDATE audit_entries SET actor='X' WHERE seq=5"),
    "edit last of a range": lambda d: sql(d, "UPDATE audit_entries SET target='X' WHERE seq=8"),
    "edit inside": lambda d: sql(d, "UPDATE audit_entries SET outcome='X' WHERE seq=10"),
    "delete first of a range": lambda d: sql(d, "DELETE FROM audit_entries WHERE seq=9"),
    "delete across ranges": lambda d: sql(
        d, "DELETE FROM audit_entries WHERE seq BETWEEN 4 AND 13"
    ),
    "delete a whole range": lambda d: sql(d, "DELETE FROM audit_entries WHERE seq BETWEEN 5 AND 8"),
    "swap across a boundary": lambda d: swap(d, 8, 9),
    "swap inside": lambda d: swap(d, 2, 3),
    "truncate the tail": lambda d: sql(d, "DELETE FROM audit_entries WHERE seq > 10"),
    "edit and delete later": edit_then_delete,
}


@pytest.fixture
def fifteen(database: Database, clock: FakeClock) -> Database:
    with database.transaction() as session:
        for n in range(15):
            clock.advance(seconds=1)
            audit.record(
                session=session, clock=clock, actor="U0BOB", action="tick", params={"n": n}
            )
    return database


def reports(database: Database, **kwargs: Any) -> audit.VerifyReport:
    with database.read_session() as session:
        return audit.verify(session=session, **kwargs)


@pytest.mark.parametrize("tamper", TAMPERING)
def test_ranges_find_what_one_walk_finds(fifteen: Database, tamper: str) -> None:
    assert reports(fifteen, workers=1, range_entries=4).ok
    TAMPERING[tamper](fifteen)
    walk = reports(fifteen, workers=1, range_entries=100)
    assert not walk.ok and walk.problem
    assert reports(fifteen, workers=1, range_entries=4) == walk
    assert reports(fifteen, workers=1, range_entries=1) == walk


def test_worker_processes_find_what_one_walk_finds(fifteen: Database) -> None:
    # Real processes (spawned, each with its own connection) over both kinds of failure:
    # an edit inside one range and a swap across a boundary.
    intact = reports(fifteen, workers=2, range_entries=4)
    assert (intact.ok, intact.entries, intact.head_seq) == (True, 15, 15)
    swap(fifteen, 8, 9)
    sql(fifteen, "UPDATE audit_entries SET actor='X' WHERE seq=13")
    walk = reports(fifteen, workers=1, range_entries=100)
    assert (walk.first_bad_seq, walk.entries) == (8, 7)
    assert reports(fifteen, workers=2, range_entries=4) == walk
    swap(fifteen, 8, 9)
    edited = reports(fifteen, workers=2, range_entries=4)
    assert (edited.first_bad_seq, edited.entries) == (13, 12)
    assert edited.problem is not None and "edited?" in edited.problem


def test_ranges_honour_since_seq_and_the_anchor(fifteen: Database) -> None:
    anchor_hash = reports(fifteen).head_hash
    assert anchor_hash is not None
    sql(fifteen, "UPDATE audit_entries SET actor='X' WHERE seq=3")
    assert reports(fifteen, since_seq=6, workers=1, range_entries=4).ok
    sql(fifteen, "DELETE FROM audit_entries WHERE seq > 12")
    head12 = (12, reports(fifteen, since_seq=6).head_hash)
    assert head12[1] is not None
    with fifteen.session() as session:
        stored = session.execute(select(ENTRIES.c.hash).where(ENTRIES.c.seq == 12)).scalar_one()
    sql(fifteen, "UPDATE audit_head SET seq = 12, hash = :h", h=stored)
    rewound = reports(fifteen, since_seq=6, workers=1, range_entries=4)
    assert rewound.ok  # a rewound head alone is invisible
    anchored = reports(
        fifteen, since_seq=6, workers=1, range_entries=4, expected_head=(15, anchor_hash)
    )
    assert (anchored.ok, anchored.first_bad_seq) == (False, 13)
