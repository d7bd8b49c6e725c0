"""Exporting the chain as JSON lines or CSV that an auditor can re-verify offline."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any, Literal, TextIO

from sqlalchemy import Row, Text
from sqlalchemy import cast as sql_cast
from sqlalchemy import select as sa_select
from sqlmodel import Session

from workflows.audit.canon import HASHED_FIELDS, canonical_json, format_timestamp
from workflows.audit.chain import ENTRIES, EXPORT_FIELDS

_BATCH = 1000
_table = ENTRIES
# params are read as stored text and parsed here: the JSON column type would not say
# which row it failed on.
_ROW = sa_select(
    *(_table.c[name] for name in HASHED_FIELDS if name != "params"),
    sql_cast(_table.c.params, Text).label("params"),
    _table.c.prev_hash,
    _table.c.hash,
)


def _stream(session: Session, query: Any) -> Iterator[Row[Any]]:
    result = session.connection().execute(query.execution_options(yield_per=_BATCH))
    try:
        yield from result
    finally:
        result.close()


def _fields_of(row: Row[Any]) -> dict[str, Any]:
    values = {name: getattr(row, name) for name in HASHED_FIELDS}
    values["params"] = json.loads(row.params)
    return values


def export(
    *,
    session: Session,
    out: TextIO,
    fmt: Literal["jsonl", "csv"],
    since: datetime | None = None,
    until: datetime | None = None,
) -> int:
    """Stream entries in ``seq`` order to ``out`` and return how many were written.

    ``since`` is inclusive, ``until`` exclusive (on ``created_at``). Every row carries all
    ``EXPORT_FIELDS`` so it can be re-verified offline (see the module docstring). CSV
    values are written as stored, never escaped for spreadsheets, because escaping would
    break re-verification.
    """
    if fmt not in ("jsonl", "csv"):
        raise ValueError(f"unknown export format {fmt!r}: use jsonl or csv")
    query = _ROW
    if since is not None:
        query = query.where(_table.c.created_at >= since)
    if until is not None:
        query = query.where(_table.c.created_at < until)
    writer = csv.writer(out, lineterminator="\n") if fmt == "csv" else None
    if writer is not None:
        writer.writerow(EXPORT_FIELDS)
    written = 0
    for row in _stream(session, query.order_by(_table.c.seq)):
        values = {**_fields_of(row), "prev_hash": row.prev_hash, "hash": row.hash}
        values["created_at"] = format_timestamp(values["created_at"])
        if writer is None:
            out.write(canonical_json(values) + "\n")
        else:
            values["params"] = canonical_json(values["params"])
            writer.writerow(
                ["" if values[name] is None else values[name] for name in EXPORT_FIELDS]
            )
        written += 1
    return written
