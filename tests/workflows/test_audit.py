"""The audit chain on both databases: appends, tampering by hand, concurrency, export."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import threading
from datetime import UTC, datetime, timedelta, timezone
from itertools import pairwise
from typing import Any

import pytest
from sqlalchemy import Table, select, text

from workflows.audit import (
    EXPORT_FIELDS,
    GENESIS_HASH,
    HASHED_FIELDS,
    VerifyReport,
    canonical_json,
    entries,
    entry_hash,
    export,
    hash_fields,
    record,
    verify,
)
from workflows.clock import FakeClock
from workflows.errors import AuditChainBroken
from workflows.store.db import Database
from workflows.store.models import AuditEntry, AuditHead

SLACK_TOKEN = "xox" + "b-1234567890-0987654321-AbCdEfGhIjKlMnOp"  # split: not a real token
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def append(database: Database, clock: FakeClock, count: int, *, actor: str = "U0BOB") -> None:
    """``count`` entries in one transaction, one second apart."""
    with database.transaction() as session:
        for _ in range(count):
            clock.advance(seconds=1)
            record(
                session=session,
                clock=clock,
                actor=actor,
                action="deploy.request",
                target="api/production",
                params={"service": "api", "version": "1.2.3"},
            )


def check(database: Database, **kwargs: Any) -> VerifyReport:
    with database.session() as session:
        return verify(session=session, **kwargs)


def sql(database: Database, statement: str, **params: Any) -> None:
    with database.engine.begin() as connection:
        connection.execute(text(statement), params)


def stored_hash(database: Database, seq: int) -> str:
    with database.session() as session:
        entry = session.get(AuditEntry, seq)
        assert entry is not None
        return entry.hash


@pytest.fixture
def chain(database: Database, clock: FakeClock) -> Database:
    """Ten entries, written over three transactions."""
    append(database, clock, 4)
    append(database, clock, 3)
    append(database, clock, 3)
    return database


def test_canonical_json_and_hash_are_pinned_for_external_verifiers() -> None:
    fields = {
        "seq": 1,
        # Any zone is written as UTC.
        "created_at": datetime(2026, 1, 5, 12, 0, 0, 5, tzinfo=timezone(timedelta(hours=2))),
        "actor": "U0BOB",
        "action": "deploy.approve",
        "target": "api/production",
        "params": {"z": [1, 2.5, None], "a": "héllo"},
        "outcome": "ok",
        "channel": None,
        "message_ts": "1700000000.000100",
    }
    expected = (
        '{"action":"deploy.approve","actor":"U0BOB","channel":null,'
        '"created_at":"2026-01-05T10:00:00.000005Z","message_ts":"1700000000.000100",'
        '"outcome":"ok","params":{"a":"héllo","z":[1,2.5,null]},"seq":1,'
        '"target":"api/production"}'
    )
    assert canonical_json(fields) == expected
    digest = hashlib.sha256((GENESIS_HASH + expected).encode("utf-8")).hexdigest()
    assert entry_hash(prev_hash=GENESIS_HASH, fields=fields) == digest
    # The exported string form of created_at hashes the same as the datetime.
    as_exported = {**fields, "created_at": "2026-01-05T10:00:00.000005Z"}
    assert entry_hash(prev_hash=GENESIS_HASH, fields=as_exported) == digest


def test_canonical_json_refuses_what_it_cannot_pin() -> None:
    with pytest.raises(ValueError, match="naive"):
        canonical_json({"at": datetime(2026, 1, 5, 9, 0)})
    with pytest.raises(ValueError):
        canonical_json({"x": float("nan")})
    with pytest.raises(ValueError, match="exactly"):
        entry_hash(prev_hash=GENESIS_HASH, fields={"seq": 1})


def test_record_round_trips_through_the_database(database: Database, clock: FakeClock) -> None:
    with database.transaction() as session:
        written = record(
            session=session,
            clock=clock,
            actor="U0BOB",
            action="deploy.approve",
            target="api/production",
            params={"ratio": 0.1, "tags": ("a", "b"), "at": T0, 7: "int key", "name": "Zoë"},
            outcome="ok",
            channel="C0DEPLOY",
            message_ts="1700000000.000100",
        )
    assert (written.seq, written.prev_hash) == (1, GENESIS_HASH)
    with database.session() as session:
        [stored] = entries(session=session)
        head = session.get(AuditHead, 1)
    assert stored.params == {
        "ratio": 0.1,
        "tags": ["a", "b"],
        "at": "2026-01-05T09:00:00.000000Z",
        "7": "int key",
        "name": "Zoë",
    }
    assert hash_fields(stored) == hash_fields(written)
    assert stored.created_at == clock.now()
    assert stored.hash == entry_hash(prev_hash=GENESIS_HASH, fields=hash_fields(stored))
    assert head is not None and (head.seq, head.hash) == (1, stored.hash)


def test_empty_log_verifies(database: Database) -> None:
    report = check(database)
    assert report == VerifyReport(True, 0, None, None)


def test_chain_verifies_across_transactions(chain: Database) -> None:
    report = check(chain)
    assert report.ok and report.problem is None
    assert (report.entries, report.head_seq) == (10, 10)
    assert report.head_hash == stored_hash(chain, 10)
    with chain.session() as session:
        newest_first = entries(session=session, limit=20)
    assert [e.seq for e in newest_first] == list(range(10, 0, -1))
    oldest_first = newest_first[::-1]
    assert oldest_first[0].prev_hash == GENESIS_HASH
    for before, after in pairwise(oldest_first):
        assert after.prev_hash == before.hash


def test_rolled_back_transaction_leaves_no_entry_and_no_gap(
    database: Database, clock: FakeClock
) -> None:
    append(database, clock, 2)
    with pytest.raises(RuntimeError, match="the deploy failed"), database.transaction() as session:
        record(session=session, clock=clock, actor="U0BOB", action="deploy.request")
        raise RuntimeError("the deploy failed")
    append(database, clock, 1)
    with database.session() as session:
        assert [e.seq for e in entries(session=session)] == [3, 2, 1]
    assert check(database).ok


def test_a_session_reused_across_commits_sees_other_writers(
    database: Database, clock: FakeClock
) -> None:
    long_lived = database.session()
    try:
        record(session=long_lived, clock=clock, actor="U0A", action="a")
        long_lived.commit()
        # This session keeps the head it read (as a checkpoint report would) while
        # another session moves the head on.
        assert long_lived.get(AuditHead, 1) is not None
        long_lived.commit()
        append(database, clock, 1)
        entry = record(session=long_lived, clock=clock, actor="U0A", action="b")
        long_lived.commit()
    finally:
        long_lived.close()
    # record reads the head under its lock, never the copy this session kept, so the new
    # entry follows the other writer's.
    assert entry.seq == 3
    assert check(database).ok


def test_edited_entry_is_named(chain: Database) -> None:
    sql(chain, "UPDATE audit_entries SET actor = 'U0EVE' WHERE seq = 3")
    report = check(chain)
    assert (report.ok, report.first_bad_seq, report.entries) == (False, 3, 2)
    assert report.problem == (
        "entry 3 (deploy.request by U0EVE at 2026-01-05T09:00:03.000000Z): "
        "hash does not match its contents (edited?)"
    )
    with pytest.raises(AuditChainBroken, match="entry 3"):
        report.raise_if_broken()


def test_edited_params_are_caught(chain: Database) -> None:
    sql(chain, """UPDATE audit_entries SET params = '{"service": "evil"}' WHERE seq = 5""")
    report = check(chain)
    assert (report.ok, report.first_bad_seq) == (False, 5)
    assert report.problem is not None and "edited?" in report.problem


def test_unreadable_params_are_named(sqlite_database: Database, clock: FakeClock) -> None:
    # Only SQLite lets invalid JSON into a JSON column; PostgreSQL refuses the UPDATE.
    append(sqlite_database, clock, 4)
    sql(sqlite_database, "UPDATE audit_entries SET params = 'not json' WHERE seq = 2")
    report = check(sqlite_database)
    assert (report.ok, report.first_bad_seq) == (False, 2)
    assert report.problem is not None and report.problem.startswith("entry 2 cannot be read")


def test_deleted_entry_is_named(chain: Database) -> None:
    sql(chain, "DELETE FROM audit_entries WHERE seq = 3")
    report = check(chain)
    assert (report.ok, report.first_bad_seq) == (False, 3)
    assert report.problem == "entry 3 is missing (deleted?)"


def test_several_deleted_entries_are_named_as_a_range(chain: Database) -> None:
    sql(chain, "DELETE FROM audit_entries WHERE seq IN (4, 5, 6)")
    report = check(chain)
    assert (report.first_bad_seq, report.problem) == (4, "entries 4-6 are missing (deleted?)")


def swap(database: Database, a: int, b: int) -> None:
    """Exchange every column but ``seq`` of two rows: a reorder done by hand."""
    table: Table = AuditEntry.__table__  # type: ignore[assignment]
    columns = [column for column in table.c if column.name != "seq"]
    with database.engine.begin() as connection:
        row_a = connection.execute(select(*columns).where(table.c.seq == a)).one()._asdict()
        row_b = connection.execute(select(*columns).where(table.c.seq == b)).one()._asdict()
        connection.execute(table.update().where(table.c.seq == a).values(hash="moving"))
        connection.execute(table.update().where(table.c.seq == b).values(**row_a))
        connection.execute(table.update().where(table.c.seq == a).values(**row_b))


def test_reordered_entries_are_named(chain: Database) -> None:
    swap(chain, 3, 4)
    report = check(chain)
    assert (report.ok, report.first_bad_seq) == (False, 3)
    assert report.problem is not None
    assert "prev_hash does not match the hash of entry 2 (reordered" in report.problem


def test_truncated_tail_is_caught_by_the_head(chain: Database) -> None:
    sql(chain, "DELETE FROM audit_entries WHERE seq > 8")
    report = check(chain)
    assert (report.ok, report.first_bad_seq) == (False, 9)
    assert report.problem == "chain ends at entry 8 but the head says 10 (truncated?)"


def test_truncation_with_a_rewound_head_is_caught_by_the_anchor(chain: Database) -> None:
    anchor = (10, stored_hash(chain, 10))
    assert check(chain, expected_head=anchor).ok
    sql(chain, "DELETE FROM audit_entries WHERE seq > 8")
    sql(chain, "UPDATE audit_head SET seq = 8, hash = :h WHERE id = 1", h=stored_hash(chain, 8))
    # Without an anchor kept outside the database this is invisible, by construction.
    assert check(chain).ok
    report = check(chain, expected_head=anchor)
    assert (report.ok, report.first_bad_seq) == (False, 9)
    assert report.problem is not None
    assert "anchor says entry 10" in report.problem and "ends at entry 8" in report.problem


def test_anchor_with_another_hash_fails(chain: Database) -> None:
    report = check(chain, expected_head=(5, "f" * 64))
    assert (report.ok, report.first_bad_seq) == (False, 5)
    assert report.problem is not None and "does not match the anchor" in report.problem


def test_rewound_head_leaves_entries_beyond_it(chain: Database) -> None:
    sql(chain, "UPDATE audit_head SET seq = 8, hash = :h WHERE id = 1", h=stored_hash(chain, 8))
    report = check(chain)
    assert (report.ok, report.first_bad_seq) == (False, 9)
    assert report.problem == "entry 9 lies beyond the head (8) (appended by hand?)"


def test_deleted_head_fails_verify_and_refuses_appends(chain: Database, clock: FakeClock) -> None:
    sql(chain, "DELETE FROM audit_head")
    report = check(chain)
    assert (report.ok, report.head_seq) == (False, None)
    assert report.problem == "the head row is missing but the chain has 10 entries"
    with pytest.raises(AuditChainBroken, match="entries up to 10"):
        append(chain, clock, 1)


def test_verify_since_seq_trusts_the_entry_before(chain: Database) -> None:
    sql(chain, "UPDATE audit_entries SET actor = 'U0EVE' WHERE seq = 3")
    since = check(chain, since_seq=5)
    assert (since.ok, since.entries) == (True, 6)
    assert check(chain, since_seq=3).first_bad_seq == 3
    beyond = check(chain, since_seq=20)
    assert (beyond.ok, beyond.problem) == (False, "entry 19 is missing (deleted?)")


def append_one(database: Database, clock: FakeClock, actor: str, n: int) -> None:
    with database.transaction() as session:
        record(session=session, clock=clock, actor=actor, action="tick", params={"n": n})


def test_concurrent_appends_stay_gap_free(database: Database, clock: FakeClock) -> None:
    # Four writers race from an empty log, so creating the head races too.
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def writer(actor: str) -> None:
        try:
            barrier.wait()
            for n in range(25):
                append_one(database, clock, actor, n)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(f"U0W{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with database.session() as session:
        written = entries(session=session, limit=1000)
    assert sorted(e.seq for e in written) == list(range(1, 101))
    assert sorted((e.actor, e.params["n"]) for e in written) == sorted(
        (f"U0W{i}", n) for i in range(4) for n in range(25)
    )
    report = check(database)
    assert (report.ok, report.entries, report.head_seq) == (True, 100, 100)


def test_secrets_are_stored_redacted_and_still_verify(database: Database, clock: FakeClock) -> None:
    with database.transaction() as session:
        record(
            session=session,
            clock=clock,
            actor="U0BOB",
            action="deploy.request",
            target=f"api?token={SLACK_TOKEN}",
            params={
                "bot_token": "not-token-shaped",
                "steps": [{"run": ["curl", "-H", f"Authorization: Bearer {SLACK_TOKEN}"]}],
                "note": f"used {SLACK_TOKEN}",
            },
            outcome=f"error: slack said invalid_auth for {SLACK_TOKEN}",
        )
    with database.session() as session:
        [stored] = entries(session=session)
    assert stored.params == {
        "bot_token": "[redacted]",
        "steps": [{"run": ["curl", "-H", "Authorization: [redacted]"]}],
        "note": "used [redacted]",
    }
    assert stored.target == "api?token=[redacted]"
    assert stored.outcome == "error: slack said invalid_auth for [redacted]"
    assert SLACK_TOKEN not in canonical_json(hash_fields(stored))
    assert check(database).ok


def write_sample(database: Database, clock: FakeClock) -> None:
    append(database, clock, 2)
    with database.transaction() as session:
        clock.advance(seconds=1)
        record(
            session=session,
            clock=clock,
            actor='Zoë, "the" approver',
            action="deploy.approve",
            target="api,production",
            params={"lines": "a\nb", "n": [1, 2.5]},
            channel="C0DEPLOY",
            message_ts="1700000000.000100",
        )
    append(database, clock, 2)


def reverify(rows: list[dict[str, Any]]) -> None:
    """What an auditor does offline with an export: recompute every link."""
    prev = GENESIS_HASH
    for row in rows:
        assert row["prev_hash"] == prev
        fields = {name: row[name] for name in HASHED_FIELDS}
        assert entry_hash(prev_hash=prev, fields=fields) == row["hash"]
        prev = row["hash"]


def test_export_jsonl_reverifies_offline(database: Database, clock: FakeClock) -> None:
    write_sample(database, clock)
    out = io.StringIO()
    with database.session() as session:
        assert export(session=session, out=out, fmt="jsonl") == 5
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [row["seq"] for row in rows] == [1, 2, 3, 4, 5]
    assert all(set(row) == set(EXPORT_FIELDS) for row in rows)
    assert rows[2]["channel"] == "C0DEPLOY" and rows[2]["params"]["lines"] == "a\nb"
    reverify(rows)
    assert rows[-1]["hash"] == stored_hash(database, 5)


def test_export_csv_reverifies_offline(database: Database, clock: FakeClock) -> None:
    write_sample(database, clock)
    out = io.StringIO()
    with database.session() as session:
        assert export(session=session, out=out, fmt="csv") == 5
    reader = csv.DictReader(io.StringIO(out.getvalue()))
    assert tuple(reader.fieldnames or ()) == EXPORT_FIELDS
    rows: list[dict[str, Any]] = []
    for raw in reader:
        row: dict[str, Any] = dict(raw)
        row["seq"] = int(row["seq"])
        row["params"] = json.loads(row["params"])
        for nullable in ("channel", "message_ts"):
            row[nullable] = row[nullable] or None
        rows.append(row)
    assert rows[2]["actor"] == 'Zoë, "the" approver'
    reverify(rows)


def test_export_filters_on_created_at(database: Database, clock: FakeClock) -> None:
    append(database, clock, 5)  # created at T0 + 1s ... T0 + 5s
    out = io.StringIO()
    with database.session() as session:
        count = export(
            session=session,
            out=out,
            fmt="jsonl",
            since=T0 + timedelta(seconds=2),
            until=T0 + timedelta(seconds=4),
        )
        assert (
            export(session=session, out=io.StringIO(), fmt="csv", since=T0 + timedelta(seconds=5))
            == 1
        )
    assert count == 2
    assert [json.loads(line)["seq"] for line in out.getvalue().splitlines()] == [2, 3]


def test_entries_filters_newest_first(database: Database, clock: FakeClock) -> None:
    with database.transaction() as session:
        for action, target in [("a", "x"), ("b", "x"), ("a", "y"), ("a", "x")]:
            record(session=session, clock=clock, actor="U0BOB", action=action, target=target)
    with database.session() as session:
        assert [e.seq for e in entries(session=session, action="a")] == [4, 3, 1]
        assert [e.seq for e in entries(session=session, action="a", target="x")] == [4, 1]
        assert [e.seq for e in entries(session=session, target="x", limit=2)] == [4, 2]
