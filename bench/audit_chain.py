"""How fast `shipbot audit verify` checks a million entries, and what appending costs then.

Builds a correctly chained log of N entries with bulk inserts (hashes computed as
``record`` computes them), then prints, per database:

- verify: wall time of ``audit.verify`` (the CLI's path; parallel processes, one per CPU),
  entries/s, and its ratio to a baseline measured in the same run: reading the same rows
  with the same batched query and hashing each row's bytes once (sha256), one process;
- the same verify over a chain in the 0.2 storage format (params as ``json.dumps`` wrote
  them), which still verifies but must re-encode every row's params (``--legacy``);
- append: ``record`` + commit per entry, one transaction each, at N entries.

    .venv/bin/python bench/audit_chain.py [--entries 1000000] [--appends 500] [--legacy]

SQLite runs in a temporary file; PostgreSQL too when SHIPBOT_TEST_POSTGRES_URL is set (a
schema of its own, dropped afterwards).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from reports import bulk_insert  # bench/reports.py: executemany on SQLite, COPY on PostgreSQL
from sqlalchemy import text

from workflows import audit
from workflows.audit.chain import ENTRIES, HEAD
from workflows.audit.ranges import BATCH_ROWS, stored_rows
from workflows.audit.verifier import default_workers
from workflows.clock import SystemClock
from workflows.store.db import Database
from workflows.store.scratch import scratch_postgres

START = datetime(2026, 1, 1, tzinfo=UTC)
ACTIONS = ["deploy.request", "deploy.approve", "deploy.finish", "incident.note", "alerts.received"]


def chain(count: int, *, legacy: bool) -> Iterator[dict[str, Any]]:
    """``count`` entries hashed as ``record`` hashes them; ``legacy`` stores params as 0.2
    did (``json.dumps`` defaults), which hash the same but are not canonical text."""
    previous = audit.GENESIS_HASH
    for seq in range(1, count + 1):
        params = {"service": f"svc-{seq % 400}", "version": f"1.{seq % 50}.{seq % 7}", "n": seq}
        fields: dict[str, Any] = {
            "seq": seq,
            "created_at": START + timedelta(seconds=seq, microseconds=seq % 1000),
            "actor": f"U0USER{seq % 37}",
            "action": ACTIONS[seq % len(ACTIONS)],
            "target": f"svc-{seq % 400}/production",
            "outcome": "ok",
            "channel": "C0DEPLOYS" if seq % 3 else None,
            "message_ts": None,
        }
        canonical = audit.canonical_json(params)
        text = audit.hashed_text(
            **{**fields, "created_at": audit.format_timestamp(fields["created_at"])},
            params=canonical,
        )
        digest = hashlib.sha256((previous + text).encode()).hexdigest()
        stored = json.dumps(params) if legacy else canonical
        yield {**fields, "params": stored, "prev_hash": previous, "hash": digest}
        previous = digest


def build(database: Database, count: int, *, legacy: bool) -> None:
    started = time.perf_counter()
    last: dict[str, Any] = {}

    def remember(rows: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for row in rows:
            last.update(row)
            yield row

    bulk_insert(database, ENTRIES, remember(chain(count, legacy=legacy)))
    head = {"id": 1, "seq": last["seq"], "hash": last["hash"]}
    bulk_insert(database, HEAD, iter([head]))
    print(f"  built {count:,} entries in {time.perf_counter() - started:.1f} s")


def baseline(database: Database, count: int) -> float:
    """Seconds to read every row (all hashed columns, verify's batches) and sha256 its bytes."""
    started = time.perf_counter()
    raw = database.engine.raw_connection()
    try:
        cursor = raw.cursor()
        for start in range(1, count + 1, BATCH_ROWS):
            for row in stored_rows(cursor, database.dialect, start, start + BATCH_ROWS - 1):
                hashlib.sha256(repr(row).encode()).digest()
    finally:
        raw.close()
    return time.perf_counter() - started


def cpu_seconds() -> float:
    """CPU used by this process and its finished children (verify's worker processes)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def timed_verify(database: Database) -> tuple[float, float, audit.VerifyReport]:
    """Wall and CPU seconds of one ``audit.verify``, and its report."""
    started, cpu = time.perf_counter(), cpu_seconds()
    with database.read_session() as session:
        report = audit.verify(session=session)
    return time.perf_counter() - started, cpu_seconds() - cpu, report


def appends(database: Database, count: int) -> tuple[float, float]:
    """Wall and CPU milliseconds per entry: ``record`` and commit, a transaction each."""
    clock = SystemClock()
    started, cpu = time.perf_counter(), time.process_time()
    for n in range(count):
        with database.transaction() as session:
            audit.record(
                session=session,
                clock=clock,
                actor="U0BENCH",
                action="bench.append",
                target="bench",
                params={"n": n},
            )
    wall = (time.perf_counter() - started) * 1000 / count
    return wall, (time.process_time() - cpu) * 1000 / count


def run(
    name: str, make: Callable[[], AbstractContextManager[Database]], args: argparse.Namespace
) -> None:
    formats = [False, True] if args.legacy else [False]
    for legacy in formats:
        label = "0.2 format" if legacy else "0.3 format"
        print(f"{name}, {label}:")
        with make() as database:
            if not legacy:
                empty = appends(database, args.appends)  # the baseline: a log of 0 entries
                with database.engine.begin() as connection:
                    connection.execute(text("DELETE FROM audit_entries"))
                    connection.execute(text("DELETE FROM audit_head"))
            build(database, args.entries, legacy=legacy)
            base = baseline(database, args.entries)
            took, cpu, report = timed_verify(database)
            assert report.ok and report.entries == args.entries, report
            print(
                f"  verify {args.entries:,} entries: {took:.2f} s ({cpu:.2f} s CPU), "
                f"{args.entries / took:,.0f} entries/s, {default_workers()} workers; "
                f"baseline (read + sha256 once, 1 process) {base:.2f} s; "
                f"ratio {took / base:.2f}x"
            )
            if not legacy:
                wall, cpu = appends(database, args.appends)
                print(
                    f"  append at {args.entries:,} entries: {wall:.2f} ms per entry "
                    f"({cpu:.2f} ms CPU); on an empty log {empty[0]:.2f} ms ({empty[1]:.2f} ms "
                    f"CPU); ratio {wall / empty[0]:.2f}x"
                )
                assert timed_verify(database)[2].ok


@contextmanager
def sqlite_database() -> Iterator[Database]:
    with tempfile.TemporaryDirectory() as scratch:
        database = Database(f"sqlite:///{Path(scratch) / 'bench.db'}")
        database.upgrade()
        try:
            yield database
        finally:
            database.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--appends", type=int, default=500)
    parser.add_argument("--legacy", action="store_true", help="also a chain in 0.2's format")
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs")
    run("SQLite", sqlite_database, args)
    url = os.environ.get("SHIPBOT_TEST_POSTGRES_URL")
    if url:
        run("PostgreSQL", lambda: scratch_postgres(url, prefix="bench_audit"), args)
    else:
        print("PostgreSQL: skipped (SHIPBOT_TEST_POSTGRES_URL is not set)")


if __name__ == "__main__":
    main()
