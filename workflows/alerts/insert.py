"""One request's alerts into the ``alerts`` table (returning what is new), and into their
groups.

``INSERT ... ON CONFLICT (dedup_key) DO NOTHING RETURNING id, dedup_key``: what comes
back is what this transaction added, so a redelivery, even one racing on another
replica, counts nothing twice. Rows go in dedup-key order, so concurrent requests on
PostgreSQL cannot deadlock each other.

On PostgreSQL the rows travel as one array per column (``unnest``): a statement of fixed
text that the driver converts once and the server can prepare. A multi-row VALUES with a
hundred rows has 1,200 placeholders, which psycopg re-parses in Python for every request
(its cache skips statements that long): that was 40% of an alert request's CPU. The
group of each alert is set the same way, by one statement on PostgreSQL (``UPDATE ...
FROM unnest``) and one per group on SQLite, rather than a hundred single-row UPDATEs
for the server to run.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Dialect, text, update
from sqlmodel import Session

from workflows.alerts.grouping import chunks
from workflows.alerts.model import NormalizedAlert
from workflows.alerts.models import Alert
from workflows.store.tables import table_of
from workflows.store.types import UTCDateTime
from workflows.store.upsert import insert_or_ignore

_ALERTS = table_of(Alert)
_COLUMNS = (
    ("dedup_key", "text"),
    ("source", "text"),
    ("alert_ref", "text"),
    ("status", "text"),
    ("service", "text"),
    ("alertname", "text"),
    ("summary", "text"),
    ("labels", "text"),  # JSON text, cast to json below
    ("starts_at", "timestamptz"),
    ("ends_at", "timestamptz"),
)
_POSTGRES_INSERT = text(
    f"INSERT INTO alerts ({', '.join(name for name, _ in _COLUMNS)}, received_at) "
    f"SELECT {', '.join(name for name, _ in _COLUMNS[:7])}, labels::json, starts_at, "
    "ends_at, CAST(:received_at AS timestamptz) "
    f"FROM unnest({', '.join(f'CAST(:{name} AS {kind}[])' for name, kind in _COLUMNS)}) "
    f"AS t({', '.join(name for name, _ in _COLUMNS)}) "
    "ON CONFLICT (dedup_key) DO NOTHING RETURNING id, dedup_key"
)
_UTC = UTCDateTime()
_POSTGRES_ASSIGN = text(
    "UPDATE alerts SET group_id = v.group_id "
    "FROM unnest(CAST(:ids AS integer[]), CAST(:groups AS integer[])) AS v(id, group_id) "
    "WHERE alerts.id = v.id"
)


def insert_new(
    session: Session, now: datetime, alerts: Sequence[NormalizedAlert]
) -> dict[str, int]:
    """Store ``alerts``; ``{dedup_key: id}`` of those that were not there before."""
    ordered = sorted(alerts, key=lambda a: a.dedup_key)
    dialect = session.get_bind().dialect
    if dialect.name == "postgresql":
        return _insert_postgres(session, dialect, now, ordered)
    statement = insert_or_ignore(session, _ALERTS, key=["dedup_key"]).returning(
        _ALERTS.c.id, _ALERTS.c.dedup_key
    )
    rows = [{**_values(alert), "group_id": None, "received_at": now} for alert in ordered]
    new: dict[str, int] = {}
    for chunk in chunks(rows):
        for row in session.execute(statement, list(chunk)):
            new[row.dedup_key] = int(row.id)
    return new


def _values(alert: NormalizedAlert) -> dict[str, Any]:
    return {
        "dedup_key": alert.dedup_key,
        "source": alert.source,
        "alert_ref": alert.alert_ref,
        "status": alert.status,
        "service": alert.service,
        "alertname": alert.alertname,
        "summary": alert.summary,
        "labels": alert.labels,
        "starts_at": alert.starts_at,
        "ends_at": alert.ends_at,
    }


def _insert_postgres(
    session: Session, dialect: Dialect, now: datetime, ordered: Sequence[NormalizedAlert]
) -> dict[str, int]:
    rows = [_values(alert) for alert in ordered]
    arrays: dict[str, list[Any]] = {name: [row[name] for row in rows] for name, _ in _COLUMNS}
    arrays["labels"] = [json.dumps(labels) for labels in arrays["labels"]]
    for name in ("starts_at", "ends_at"):  # process_bind_param refuses a naive datetime
        arrays[name] = [_UTC.process_bind_param(value, dialect) for value in arrays[name]]
    received_at = _UTC.process_bind_param(now, dialect)
    result = session.execute(_POSTGRES_INSERT, {**arrays, "received_at": received_at})
    return {row.dedup_key: int(row.id) for row in result}


def assign_groups(session: Session, groups: Mapping[int, Sequence[int]]) -> None:
    """Set ``group_id`` of every alert id in ``groups[group_id]``."""
    if session.get_bind().dialect.name == "postgresql":
        pairs = sorted((alert_id, group) for group, ids in groups.items() for alert_id in ids)
        ids = [alert_id for alert_id, _ in pairs]
        session.execute(_POSTGRES_ASSIGN, {"ids": ids, "groups": [g for _, g in pairs]})
        return
    for group, alert_ids in sorted(groups.items()):
        for chunk in chunks(sorted(alert_ids)):
            statement = update(_ALERTS).where(_ALERTS.c.id.in_(list(chunk)))
            session.execute(statement.values(group_id=group))
