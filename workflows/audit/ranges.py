"""Checking one range of the chain from raw rows: the hot loop of ``verify``.

Each row stores its ``prev_hash``, so a range ``[lo, hi]`` is checked on its own: every
row's hash against its contents and every row's ``prev_hash`` against the row before it
*within the range*. The one link a range cannot check, its first row's ``prev_hash``, is
returned for the caller to stitch to the previous range. Ranges therefore run in any
order, in other processes (hashing and JSON are CPU-bound; threads would share one GIL).

Rows are read through the DB-API cursor in keyset batches, with ``created_at`` and
``params`` as text, so no ORM object, type processor or datetime is built per row.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from workflows.audit.canon import canonical_json, format_timestamp, hashed_text

BATCH_ROWS = 20_000

# Each row's hashed text, built by the database (in C, no Python object per column): the
# same canonical JSON as ``hashed_text`` (json_quote / to_json escape strings exactly as
# Python's encoder does; a row whose text differs only falls to the Python path below).
# Building it from the stored params text is sound because that text is one complete JSON
# value (PostgreSQL's json type validates it; on SQLite json_valid must hold, else NULL):
# text equal to the canonical text of the original entry then holds the same values,
# as JSON parses one way. SQLite timestamps not in the form SQLAlchemy writes give NULL.
_SQLITE_TEXT = """CASE WHEN json_valid(params) AND length(created_at) = 26
 AND substr(created_at, 11, 1) = ' ' THEN
 '{"action":' || json_quote(action) || ',"actor":' || json_quote(actor)
 || ',"channel":' || json_quote(channel)
 || ',"created_at":"' || substr(created_at, 1, 10) || 'T' || substr(created_at, 12) || 'Z"'
 || ',"message_ts":' || json_quote(message_ts) || ',"outcome":' || json_quote(outcome)
 || ',"params":' || CAST(params AS TEXT) || ',"seq":' || CAST(seq AS TEXT)
 || ',"target":' || json_quote(target) || '}' END"""
_POSTGRES_TEXT = """'{"action":' || to_json(action)::text || ',"actor":' || to_json(actor)::text
 || ',"channel":' || coalesce(to_json(channel)::text, 'null')
 || ',"created_at":"' || to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US')
 || 'Z","message_ts":' || coalesce(to_json(message_ts)::text, 'null')
 || ',"outcome":' || to_json(outcome)::text || ',"params":' || params::text
 || ',"seq":' || seq::text || ',"target":' || to_json(target)::text || '}'"""
_FAST = "SELECT seq, {text}, prev_hash, hash FROM audit_entries WHERE seq BETWEEN {lo} AND {hi}"
_FAST += " ORDER BY seq"
# Every hashed column as stored, for rows the fast text did not confirm.
_RAW = "SELECT seq, {created_at}, actor, action, target, {params}, outcome, channel, message_ts,"
_RAW += " prev_hash, hash FROM audit_entries WHERE seq BETWEEN {lo} AND {hi} ORDER BY seq"
_PG_TIMESTAMP = """to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""
_QUERIES = {
    "postgresql": (
        _FAST.format(text=_POSTGRES_TEXT, lo="%s", hi="%s"),
        _RAW.format(
            created_at=_PG_TIMESTAMP,
            params="params::text",
            lo="%s",
            hi="%s",
        ),
    ),
    "sqlite": (
        _FAST.format(text=_SQLITE_TEXT, lo="?", hi="?"),
        _RAW.format(created_at="created_at", params="CAST(params AS TEXT)", lo="?", hi="?"),
    ),
}

Row = Sequence[Any]


class Cursor(Protocol):
    """The part of a DB-API cursor the reader uses."""

    def execute(self, operation: str, parameters: Sequence[Any], /) -> Any: ...

    def fetchall(self) -> Sequence[Row]: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Problem:
    seq: int
    text: str


@dataclass(frozen=True)
class RangeResult:
    """What one range found. ``first_*`` describe its first row, whose link to the row
    before the range the caller checks; ``checked`` counts rows verified before
    ``problem`` (the first row's link aside)."""

    first_seq: int | None = None
    first_prev_hash: str | None = None
    last_seq: int | None = None
    last_hash: str | None = None
    checked: int = 0
    problem: Problem | None = None


def missing(expected: int, found: int) -> Problem:
    """Entries ``expected``..``found - 1`` are absent."""
    if found == expected + 1:
        return Problem(expected, f"entry {expected} is missing (deleted?)")
    return Problem(expected, f"entries {expected}-{found - 1} are missing (deleted?)")


def relinked(seq: int, described: str, prev_seq: int) -> Problem:
    """Entry ``seq`` does not point at the hash of entry ``prev_seq``."""
    return Problem(
        seq,
        f"{described}: its prev_hash does not match the hash of entry {prev_seq} "
        "(reordered or replaced?)",
    )


def _sqlite_timestamp(value: Any) -> str:
    if isinstance(value, str) and len(value) == 26 and value[10] == " " and value[19] == ".":
        return f"{value[:10]}T{value[11:]}Z"
    # Anything else was not written by shipbot; read it as SQLAlchemy would (naive = UTC).
    parsed = datetime.fromisoformat(str(value))
    return format_timestamp(parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC))


def _as_is(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"created_at {value!r} is not a timestamp")
    return value


_TIMESTAMPS: dict[str, Callable[[Any], str]] = {"postgresql": _as_is, "sqlite": _sqlite_timestamp}


def stored_rows(cursor: Cursor, dialect: str, lo: int, hi: int) -> Sequence[Row]:
    """Entries ``lo``..``hi`` with every hashed column as stored (timestamps canonical)."""
    cursor.execute(_QUERIES[dialect][1], (lo, hi))
    return cursor.fetchall()


def _describe(row: Row, timestamp: str) -> str:
    return f"entry {row[0]} ({row[3]} by {row[2]} at {timestamp})"


def describe(cursor: Cursor, *, dialect: str, seq: int) -> str:
    """``entry N (action by actor at time)``, the way problems name an entry."""
    rows = stored_rows(cursor, dialect, seq, seq)
    if not rows:
        return f"entry {seq}"
    try:
        timestamp = _TIMESTAMPS[dialect](rows[0][1])
    except (ValueError, TypeError):
        timestamp = str(rows[0][1])
    return _describe(rows[0], timestamp)


def _python_check(row: Row, dialect: str) -> Problem | None:
    """The slow path, one row: parse the params and hash their canonical text. Rows
    written by 0.2 come here (their params were stored as ``json.dumps`` wrote them)."""
    seq, _, actor, action, target, params, outcome, channel, message_ts, prev_hash, digest = row
    try:
        timestamp = _TIMESTAMPS[dialect](row[1])
        text = hashed_text(
            seq=seq,
            created_at=timestamp,
            actor=actor,
            action=action,
            target=target,
            params=canonical_json(json.loads(params)),
            outcome=outcome,
            channel=channel,
            message_ts=message_ts,
        )
    except (ValueError, TypeError) as exc:
        return Problem(seq, f"entry {seq} cannot be read (edited?): {exc}")
    if hashlib.sha256((prev_hash + text).encode("utf-8")).hexdigest() != digest:
        return Problem(
            seq, f"{_describe(row, timestamp)}: hash does not match its contents (edited?)"
        )
    return None


def _recheck(cursor: Cursor, dialect: str, suspects: list[int]) -> Problem | None:
    """The first of ``suspects`` (rows the fast text did not confirm) that is edited."""
    if not suspects:
        return None
    wanted = set(suspects)
    for row in stored_rows(cursor, dialect, suspects[0], suspects[-1]):
        if row[0] in wanted:
            problem = _python_check(row, dialect)
            if problem is not None:
                return problem
    return None


def check_range(cursor: Cursor, *, dialect: str, lo: int, hi: int) -> RangeResult:
    """Check rows ``lo``..``hi`` in ``seq`` order, ``BATCH_ROWS`` per query (keyset: each
    batch is an index range scan, and memory stays bounded whatever the range)."""
    fast = _QUERIES[dialect][0]
    first_seq: int | None = None
    first_prev = prev_hash = ""
    prev_seq = lo - 1
    sha256 = hashlib.sha256
    for start in range(lo, hi + 1, BATCH_ROWS):
        cursor.execute(fast, (start, min(start + BATCH_ROWS - 1, hi)))
        suspects: list[int] = []
        broken: Problem | None = None
        for seq, text, prev, digest in cursor.fetchall():
            if first_seq is None:
                first_seq, first_prev = seq, prev
            elif seq != prev_seq + 1:
                broken = missing(prev_seq + 1, seq)
                break
            elif prev != prev_hash:
                broken = relinked(seq, describe(cursor, dialect=dialect, seq=seq), prev_seq)
                break
            if text is None or sha256((prev + text).encode("utf-8")).hexdigest() != digest:
                suspects.append(seq)
            prev_seq, prev_hash = seq, digest
        # Suspects all precede a broken link, and a row's link is checked before its hash.
        problem = _recheck(cursor, dialect, suspects) or broken
        if problem is not None:
            checked = problem.seq - first_seq if first_seq is not None else 0
            return RangeResult(first_seq, first_prev, prev_seq, prev_hash, checked, problem)
    if first_seq is None:
        return RangeResult()
    return RangeResult(first_seq, first_prev, prev_seq, prev_hash, prev_seq - first_seq + 1)


def check_range_at(target: tuple[str, str], lo: int, hi: int) -> RangeResult:
    """``check_range`` over a connection of its own (in a worker process). ``target`` is
    ``(dialect, dsn)``: a SQLite file path or a libpq connection string. The driver is
    used directly: a worker imports this module, ``canon`` and the driver, nothing more."""
    dialect, dsn = target
    connection: Any
    if dialect == "sqlite":
        import sqlite3

        connection = sqlite3.connect(dsn)
    elif dialect == "postgresql":
        import psycopg

        connection = psycopg.connect(dsn)
    else:
        raise ValueError(f"the audit log supports SQLite and PostgreSQL, not {dialect}")
    try:
        return check_range(connection.cursor(), dialect=dialect, lo=lo, hi=hi)
    finally:
        connection.close()
