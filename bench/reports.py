"""How long each scheduled report takes to compute on a big history.

Seeds one million deploys (a year of them, 40 services, 3 environments, with approvals
for break-glass and waiting deploys), ten thousand incidents and a hundred thousand audit
entries (a valid hash chain), with bulk inserts (SQLite ``executemany``, PostgreSQL
``COPY``), then times every report kind as of the end of that year. The weekly DORA report
should take well under two seconds.

    .venv/bin/python bench/reports.py [--deploys 1000000] [--incidents 10000] [--audit 100000]

Runs on SQLite (a temporary file), and also on PostgreSQL when SHIPBOT_TEST_POSTGRES_URL is
set (in a schema of its own, dropped afterwards).
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Table, event, text

from workflows.audit import GENESIS_HASH, canonical_json, entry_hash
from workflows.config import ShipbotConfig, parse_config
from workflows.deploys.models import Deploy, DeployApproval
from workflows.incidents.models import Incident
from workflows.reports.runner import compute_figures
from workflows.store.db import Database
from workflows.store.models import AuditEntry, AuditHead
from workflows.store.scratch import scratch_postgres
from workflows.store.types import UTCDateTime

END = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)  # Monday 09:00 Europe/Berlin
START = END - timedelta(days=365)
SERVICES = [f"svc-{n:02d}" for n in range(40)]
KINDS = ["deploy_digest", "dora", "incident_summary", "pending_approvals", "audit_checkpoint"]
BATCH = 20_000

CONFIG = """
channels: {deploys: C0DEPLOYS}
groups: {sre: {users: [U0BOB, U0CAROL]}}
environments:
  dev: {order: 1}
  staging: {order: 2}
  production: {order: 3, approval: {required: 2, from_groups: [sre]}, break_glass: {groups: [sre]}}
services:
""" + "".join(f'  {s}: {{deploy: {{backend: command, argv: ["true"]}}}}\n' for s in SERVICES)


def bench_config() -> ShipbotConfig:
    return parse_config(CONFIG)


def _columns(table: Table) -> list[tuple[str, Any]]:
    """Every column of ``table`` with the value used when a row leaves it out
    (the column's scalar default, ``{}`` for JSON, else NULL); ``id`` is kept if given."""
    spec: list[tuple[str, Any]] = []
    for column in table.columns:
        default: Any = None
        if column.default is not None and getattr(column.default, "is_scalar", False):
            default = column.default.arg
            default = default.value if hasattr(default, "value") else default
        elif column.name == "backend_state":
            default = "{}"
        spec.append((column.name, default))
    return spec


def deploys(count: int, rng: random.Random) -> Iterator[dict[str, Any]]:
    span = (END - START).total_seconds()
    for number in range(1, count + 1):
        requested = START + timedelta(seconds=span * number / count)
        roll = rng.random()
        kind = "deploy" if roll < 0.97 else "rollback" if roll < 0.99 else "auto_rollback"
        roll = rng.random()
        state = (
            "succeeded"
            if roll < 0.85
            else "failed"
            if roll < 0.92
            else "cancelled"
            if roll < 0.95
            else "rolled_back"
            if roll < 0.97
            else "rejected"
            if roll < 0.985
            else "expired"
        )
        if END - requested < timedelta(hours=6) and rng.random() < 0.05:
            state = "awaiting_approval"
        started = requested + timedelta(seconds=rng.uniform(5, 600))
        finished = started + timedelta(seconds=rng.uniform(30, 1800))
        waiting = state == "awaiting_approval"
        yield {
            "id": number,
            "service": rng.choice(SERVICES),
            "environment": rng.choices(["dev", "staging", "production"], [2, 4, 4])[0],
            "version": f"1.{number % 1000}.{number % 7}",
            "kind": kind,
            "rollback_of": max(number - rng.randint(1, 500), 1) if kind != "deploy" else None,
            "state": state,
            "requested_by": rng.choice(["U0ALICE", "U0BOB", "U0CAROL", "U0DAVE"]),
            "requested_at": requested,
            "approvals_required": 2 if waiting else 0,
            "started_at": None if waiting else started,
            "finished_at": None if waiting else finished,
            "updated_at": requested if waiting else finished,
            "override": rng.random() < 0.005,
            "commit_at": requested - timedelta(hours=rng.uniform(0.2, 48))
            if rng.random() < 0.7
            else None,
        }


def approvals(rows: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for row in rows:
        if row["override"] or row["state"] == "awaiting_approval":
            yield {
                "deploy_id": row["id"],
                "approver": "U0BOB",
                "decision": "approve",
                "service": row["service"],
                "environment": row["environment"],
                "version": row["version"],
                "decided_at": row["requested_at"] + timedelta(minutes=3),
            }


def incidents(count: int, rng: random.Random) -> Iterator[dict[str, Any]]:
    span = (END - START).total_seconds()
    for number in range(1, count + 1):
        declared = START + timedelta(seconds=rng.uniform(0, span))
        resolved = declared + timedelta(minutes=rng.uniform(10, 4320))
        resolved = resolved if resolved < END and rng.random() < 0.97 else None
        yield {
            "id": number,
            "title": f"incident {number}",
            "severity": rng.choices(["SEV1", "SEV2", "SEV3", "SEV4"], [1, 3, 6, 4])[0],
            "status": "resolved" if resolved else "investigating",
            "service": rng.choice(SERVICES) if rng.random() < 0.7 else None,
            "declared_by": "U0BOB",
            "declared_at": declared,
            "acknowledged_at": declared + timedelta(minutes=rng.uniform(1, 60))
            if rng.random() < 0.9
            else None,
            "resolved_at": resolved,
            "updated_at": resolved or declared,
            "private": number % 50 == 0,  # a few private ones: counted, never listed
        }


def audit_chain(count: int) -> tuple[list[dict[str, Any]], tuple[int, str]]:
    rows, previous = [], GENESIS_HASH
    for seq in range(1, count + 1):
        fields = {
            "seq": seq,
            "created_at": START + timedelta(seconds=seq * 60),
            "actor": "U0BOB",
            "action": "deploy.request",
            "target": f"deploy:{seq}",
            "params": {"n": seq},
            "outcome": "ok",
            "channel": None,
            "message_ts": None,
        }
        digest = entry_hash(prev_hash=previous, fields=fields)
        rows.append(
            {
                **fields,
                # As ``audit.record`` stores them since 0.3: canonical text, which verify
                # (and so the audit_checkpoint report) hashes without re-encoding.
                "params": canonical_json(fields["params"]),
                "prev_hash": previous,
                "hash": digest,
            }
        )
        previous = digest
    return rows, (count, previous)


def _sqlite_value(value: Any) -> Any:
    # The text form SQLAlchemy stores for UTCDateTime on SQLite (naive UTC, microseconds).
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
    return value


def bulk_insert(database: Database, table: Table, rows: Iterator[dict[str, Any]]) -> int:
    """Insert ``rows`` in batches: ``executemany`` on SQLite, ``COPY`` on PostgreSQL."""
    first = next(rows, None)
    if first is None:
        return 0
    spec = [(name, default) for name, default in _columns(table) if name != "id" or "id" in first]
    names = [name for name, _ in spec]
    raw = database.engine.raw_connection()
    written = 0
    try:
        if database.is_postgres:
            cursor = raw.driver_connection.cursor()  # type: ignore[union-attr]
            with cursor.copy(f"COPY {table.name} ({', '.join(names)}) FROM STDIN") as copy:
                for row in _chain(first, rows):
                    copy.write_row([row.get(name, default) for name, default in spec])
                    written += 1
            raw.commit()
            return written
        stamps = [i for i, name in enumerate(names) if isinstance(table.c[name].type, UTCDateTime)]
        marks = ", ".join("?" for _ in names)
        statement = f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({marks})"
        cursor = raw.cursor()
        cursor.execute("BEGIN")
        batch: list[list[Any]] = []
        for row in _chain(first, rows):
            values = [row.get(name, default) for name, default in spec]
            for index in stamps:
                values[index] = _sqlite_value(values[index])
            batch.append(values)
            if len(batch) >= BATCH:
                cursor.executemany(statement, batch)
                written, batch = written + len(batch), []
        cursor.executemany(statement, batch)
        cursor.execute("COMMIT")
        return written + len(batch)
    finally:
        raw.close()


def _chain(first: dict[str, Any], rest: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    yield first
    yield from rest


def seed(database: Database, args: argparse.Namespace) -> None:
    rng = random.Random(42)
    started = time.perf_counter()
    deploy_rows = list(deploys(args.deploys, rng))
    bulk_insert(database, Deploy.__table__, iter(deploy_rows))  # type: ignore[arg-type]
    bulk_insert(database, DeployApproval.__table__, approvals(deploy_rows))  # type: ignore[arg-type]
    bulk_insert(database, Incident.__table__, incidents(args.incidents, rng))  # type: ignore[arg-type]
    chain, (head_seq, head_hash) = audit_chain(args.audit)
    bulk_insert(database, AuditEntry.__table__, iter(chain))  # type: ignore[arg-type]
    bulk_insert(
        database, AuditHead.__table__, iter([{"id": 1, "seq": head_seq, "hash": head_hash}])
    )
    with database.engine.begin() as connection:
        connection.execute(text("ANALYZE"))
    print(
        f"  seeded {args.deploys:,} deploys, {args.incidents:,} incidents and {args.audit:,} "
        f"audit entries in {time.perf_counter() - started:.1f} s"
    )


def time_reports(database: Database, config: ShipbotConfig, repeat: int = 3) -> None:
    for kind in KINDS:
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            compute(database, config, kind)
            times.append(time.perf_counter() - started)
        print(f"  {kind:<18} first {times[0]:7.3f} s   best of {repeat} {min(times):7.3f} s")
        if kind == "dora":
            raw = raw_sql_seconds(database, config, kind, repeat)
            print(
                f"  {'dora: its SQL raw':<18} best of {repeat} {raw:7.3f} s   "
                f"report/raw SQL {min(times) / raw:.2f}x (goal: report < 1 s PostgreSQL, "
                "< 2 s SQLite)"
            )


def compute(database: Database, config: ShipbotConfig, kind: str) -> None:
    with database.read_session() as session:
        compute_figures(
            session=session,
            config=config,
            kind=kind,
            report_name=kind,
            fire_time=END,
            timezone="Europe/Berlin",
            params={},
        )


def raw_sql_seconds(database: Database, config: ShipbotConfig, kind: str, repeat: int) -> float:
    """The statements the report sends, captured from the driver and run again on a raw
    DBAPI cursor: the floor the report's own Python (ORM, rows, figures) adds to."""
    captured: list[tuple[str, Any]] = []

    def capture(_c: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if not statement.lstrip().upper().startswith("BEGIN"):  # the raw cursor has its own
            captured.append((statement, parameters))

    event.listen(database.engine, "before_cursor_execute", capture)
    try:
        compute(database, config, kind)
    finally:
        event.remove(database.engine, "before_cursor_execute", capture)
    best = float("inf")
    raw = database.engine.raw_connection()
    try:
        for _ in range(repeat):
            started = time.perf_counter()
            cursor = raw.cursor()
            for statement, parameters in captured:
                cursor.execute(statement, parameters)
                cursor.fetchall()
            cursor.close()
            best = min(best, time.perf_counter() - started)
        raw.rollback()
    finally:
        raw.close()
    return best


def postgres_database(base: str) -> AbstractContextManager[Database]:
    return scratch_postgres(base, prefix="bench")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deploys", type=int, default=1_000_000)
    parser.add_argument("--incidents", type=int, default=10_000)
    parser.add_argument("--audit", type=int, default=100_000)
    args = parser.parse_args()
    config = bench_config()
    with tempfile.TemporaryDirectory() as scratch:
        print("SQLite")
        database = Database(f"sqlite:///{Path(scratch) / 'bench.db'}")
        database.upgrade()
        seed(database, args)
        time_reports(database, config)
        database.dispose()
    base = os.environ.get("SHIPBOT_TEST_POSTGRES_URL")
    if base:
        print("PostgreSQL")
        with postgres_database(base) as database:
            seed(database, args)
            time_reports(database, config)
    else:
        print("PostgreSQL: skipped (SHIPBOT_TEST_POSTGRES_URL is not set)")


if __name__ == "__main__":
    main()
