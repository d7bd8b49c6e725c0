"""Verifying the chain: every range checked on its own (in parallel when it is long), the
ranges stitched together, then the head and an outside anchor."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Engine, func
from sqlalchemy import select as sa_select
from sqlmodel import Session

from workflows.audit.canon import GENESIS_HASH
from workflows.audit.chain import ENTRIES, HEAD
from workflows.audit.ranges import (
    Problem,
    RangeResult,
    check_range,
    describe,
    missing,
    relinked,
)
from workflows.audit.workers import run as run_in_workers
from workflows.errors import AuditChainBroken

# Below this many entries one process is quicker than starting others.
PARALLEL_MIN_ENTRIES = 100_000
MAX_WORKERS = 8
_table = ENTRIES
_head_table = HEAD


@dataclass(frozen=True)
class VerifyReport:
    """The outcome of ``verify``. ``entries`` counts the entries checked before the first
    problem (all of them when ``ok``); ``problem`` names the entry in words."""

    ok: bool
    entries: int
    head_seq: int | None
    head_hash: str | None
    first_bad_seq: int | None = None
    problem: str | None = None

    def raise_if_broken(self) -> None:
        """Raise ``AuditChainBroken`` with the problem when the chain does not verify."""
        if not self.ok:
            raise AuditChainBroken(self.problem or "the audit chain does not verify")


def _head(session: Session) -> tuple[int, str] | None:
    query = sa_select(_head_table.c.seq, _head_table.c.hash).where(_head_table.c.id == 1)
    row = session.connection().execute(query).first()
    return None if row is None else (row.seq, row.hash)


def _hash_of(session: Session, seq: int) -> str | None:
    query = sa_select(_table.c.hash).where(_table.c.seq == seq)
    return session.connection().execute(query).scalar_one_or_none()


def _max_seq(session: Session) -> int:
    return session.connection().execute(sa_select(func.max(_table.c.seq))).scalar() or 0


def _ranges(lo: int, hi: int, size: int) -> list[tuple[int, int]]:
    return [(start, min(start + size - 1, hi)) for start in range(lo, hi + 1, size)]


def _worker_target(session: Session) -> tuple[str, str] | None:
    """``(dialect, dsn)`` a worker process connects with (``check_range_at``), or None where
    only this connection can see the rows (SQLite in memory)."""
    bind = session.get_bind()
    url = bind.url if isinstance(bind, Engine) else bind.engine.url
    if url.get_backend_name() == "sqlite":
        if url.database in (None, "", ":memory:"):
            return None
        return "sqlite", url.database
    # The driver's own connection string: the URL without SQLAlchemy's "+driver".
    return "postgresql", url.set(drivername="postgresql").render_as_string(hide_password=False)


def _check_ranges(
    session: Session, ranges: list[tuple[int, int]], workers: int
) -> Sequence[RangeResult]:
    target = _worker_target(session) if workers > 1 and len(ranges) > 1 else None
    if target is not None:
        # Processes of their own, not forks: the caller may be a threaded server (the
        # checkpoint report); see ``workers`` for why not ``multiprocessing``.
        return run_in_workers(target, ranges, min(workers, len(ranges)))
    dialect = session.get_bind().dialect.name
    cursor = session.connection().connection.cursor()
    try:
        return [check_range(cursor, dialect=dialect, lo=lo, hi=hi) for lo, hi in ranges]
    finally:
        cursor.close()


@dataclass
class _Walk:
    """The chain walked so far: up to entry ``seq`` with ``hash``, ``checked`` entries."""

    seq: int
    hash: str
    checked: int = 0


def _stitch(session: Session, walk: _Walk, results: Sequence[RangeResult]) -> Problem | None:
    """Join the ranges in order, as if one walk had read every row: the first problem."""
    for result in results:
        if result.first_seq is None:
            continue  # an empty range: the next row (or the head) names the gap
        if result.first_seq != walk.seq + 1:
            return missing(walk.seq + 1, result.first_seq)
        if result.first_prev_hash != walk.hash:
            cursor = session.connection().connection.cursor()
            dialect = session.get_bind().dialect.name
            described = describe(cursor, dialect=dialect, seq=result.first_seq)
            return relinked(result.first_seq, described, walk.seq)
        walk.checked += result.checked
        if result.problem is not None:
            return result.problem
        assert result.last_seq is not None and result.last_hash is not None
        walk.seq, walk.hash = result.last_seq, result.last_hash
    return None


def _end_problem(session: Session, walk: _Walk, head: tuple[int, str] | None) -> Problem | None:
    """What is wrong with where the chain ends, given the head row."""
    if head is None:
        if walk.seq > 0:
            return Problem(0, f"the head row is missing but the chain has {walk.seq} entries")
        return None
    head_seq, head_hash = head
    if walk.seq < head_seq:
        return Problem(
            walk.seq + 1,
            f"chain ends at entry {walk.seq} but the head says {head_seq} (truncated?)",
        )
    if walk.hash != head_hash:
        return Problem(walk.seq, f"entry {walk.seq}'s hash does not match the head's (replaced?)")
    beyond = sa_select(func.min(_table.c.seq)).where(_table.c.seq > head_seq)
    extra = session.connection().execute(beyond).scalar_one_or_none()
    latest = _head(session)
    if extra is not None and (latest is None or latest[0] < extra):
        return Problem(
            extra, f"entry {extra} lies beyond the head ({head_seq}) (appended by hand?)"
        )
    return None


def _anchor_problem(session: Session, walk: _Walk, anchor: tuple[int, str]) -> Problem | None:
    anchor_seq, anchor_hash = anchor
    found = GENESIS_HASH if anchor_seq == 0 else _hash_of(session, anchor_seq)
    if found is None:
        return Problem(
            min(anchor_seq, walk.seq + 1),
            f"the anchor says entry {anchor_seq} has hash {anchor_hash[:12]}… but the chain "
            f"ends at entry {walk.seq} (truncated?)",
        )
    if found != anchor_hash:
        return Problem(
            anchor_seq,
            f"entry {anchor_seq}'s hash does not match the anchor {anchor_hash[:12]}… "
            "(the chain was rewritten?)",
        )
    return None


def anchor_mismatch(*, session: Session, anchor: tuple[int, str]) -> str | None:
    """Why the chain does not contain entry ``anchor[0]`` with hash ``anchor[1]``, if it
    does not (one lookup: for anchors beyond the one a full ``verify`` checked)."""
    head = _head(session)
    problem = _anchor_problem(session, _Walk(head[0] if head else 0, ""), anchor)
    return None if problem is None else problem.text


def default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, MAX_WORKERS))


def verify(
    *,
    session: Session,
    since_seq: int | None = None,
    expected_head: tuple[int, str] | None = None,
    workers: int | None = None,
    range_entries: int | None = None,
) -> VerifyReport:
    """Check the chain and report the first edited, deleted, reordered or truncated entry.

    ``since_seq`` starts at that entry, trusting the stored hash of the one before it.
    ``expected_head`` is an anchor kept outside the database (``(seq, hash)`` as posted
    by the audit checkpoint report): the chain must contain that entry with that hash,
    which catches a truncation whose head row was rewound to match.
    ``workers`` processes check ranges of ``range_entries`` at once (default: one per CPU
    for chains of ``PARALLEL_MIN_ENTRIES`` or more, four ranges per worker); the answer
    is the same as one walk's. Entries appended while this runs are left for the next run.
    """
    head = _head(session)
    head_seq, head_hash = head if head is not None else (None, None)
    start = max(since_seq or 1, 1)
    walk = _Walk(start - 1, GENESIS_HASH)

    def report(problem: Problem | None) -> VerifyReport:
        if problem is None:
            return VerifyReport(True, walk.checked, head_seq, head_hash)
        first_bad = None if problem.seq == 0 else problem.seq
        return VerifyReport(False, walk.checked, head_seq, head_hash, first_bad, problem.text)

    if start > 1:
        trusted = _hash_of(session, start - 1)
        if trusted is None:
            return report(missing(start - 1, start))
        walk.hash = trusted
    # Read the head first and stop there: appends racing this walk are not truncation.
    end = head_seq if head_seq is not None else _max_seq(session)
    count = max(end - start + 1, 0)
    if workers is None:
        workers = default_workers() if count >= PARALLEL_MIN_ENTRIES else 1
    size = range_entries or max(-(-count // (workers * 4)), 1)
    results = _check_ranges(session, _ranges(start, end, size), workers)
    problem = _stitch(session, walk, results) or _end_problem(session, walk, head)
    if problem is None and expected_head is not None:
        problem = _anchor_problem(session, walk, expected_head)
    return report(problem)
