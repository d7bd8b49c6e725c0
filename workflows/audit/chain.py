"""The tamper-evident audit log (rule 4): append-only, hash-chained, same transaction.

Each entry's ``hash`` is ``sha256(prev_hash + canonical_json(fields))`` (hex), where
``prev_hash`` is the previous entry's hash (``GENESIS_HASH`` for entry 1) and ``fields`` is
the mapping of the ``HASHED_FIELDS`` of the entry. ``canonical_json`` is::

    json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
               allow_nan=False)

encoded as UTF-8, with datetimes as UTC ISO-8601 with microseconds and a ``Z``
(``2026-01-05T09:00:00.000000Z``). External verifiers rely on exactly this; an exported
row (``export``) carries every field in that form, so
``sha256(row["prev_hash"] + canonical_json({k: row[k] for k in HASHED_FIELDS}))`` must
equal ``row["hash"]``. In the CSV export an empty ``channel``/``message_ts`` cell is
``null`` (``record`` never stores an empty string there), ``seq`` is an integer and
``params`` is canonical JSON.

``record`` appends under a lock on the single ``audit_head`` row, so appends from every
replica are serialised and ``seq`` is gap-free; it never commits, so an entry exists
exactly when the change it records does.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Generator, Mapping
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from pathlib import PurePath
from typing import Any, Literal, TextIO
from uuid import UUID

from sqlalchemy import Row, Text, func
from sqlalchemy import cast as sql_cast
from sqlalchemy import select as sa_select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from workflows.clock import Clock
from workflows.errors import AuditChainBroken
from workflows.redact import redact, redact_text
from workflows.store.models import AuditEntry, AuditHead
from workflows.store.tables import table_of

GENESIS_HASH = "0" * 64
HASHED_FIELDS = (
    "seq",
    "created_at",
    "actor",
    "action",
    "target",
    "params",
    "outcome",
    "channel",
    "message_ts",
)
EXPORT_FIELDS = (*HASHED_FIELDS, "prev_hash", "hash")
_BATCH = 1000


def format_timestamp(value: datetime) -> str:
    """The canonical form of a timestamp: UTC, microseconds, ``Z``. Naive is refused."""
    return _utc(value).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r} refused: the audit log keeps UTC only")
    return value.astimezone(UTC)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_timestamp(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal | UUID | PurePath):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, set | frozenset):
        return sorted(value, key=canonical_json)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable in the audit log")


def canonical_json(obj: Any) -> str:
    """The one serialisation the chain hashes (see the module docstring; do not change it:
    every stored hash and every external verifier depends on it)."""
    return json.dumps(
        obj,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
        default=_json_default,
    )


def entry_hash(*, prev_hash: str, fields: Mapping[str, Any]) -> str:
    """``sha256(prev_hash + canonical_json(fields))`` as hex; ``fields`` are the
    ``HASHED_FIELDS`` exactly (``created_at`` as a datetime or its canonical string)."""
    if set(fields) != set(HASHED_FIELDS):
        raise ValueError(f"audit hash fields must be exactly {HASHED_FIELDS}, got {sorted(fields)}")
    payload = prev_hash + canonical_json(dict(fields))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def hash_fields(entry: AuditEntry) -> dict[str, Any]:
    """The hashed fields of a stored entry."""
    return {name: getattr(entry, name) for name in HASHED_FIELDS}


def _locked_head(session: Session) -> AuditHead:
    # populate_existing: a session kept across commits must not trust a head it loaded
    # before another writer moved it.
    locked = (
        select(AuditHead)
        .where(AuditHead.id == 1)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    head = session.exec(locked).first()
    if head is None:
        dialect = session.get_bind().dialect.name
        if dialect not in ("postgresql", "sqlite"):
            raise RuntimeError(f"the audit log supports SQLite and PostgreSQL, not {dialect}")
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        # Two replicas creating the head at once: the loser's insert waits for the winner
        # and does nothing, then both queue on the row lock below.
        session.exec(
            insert(AuditHead)
            .values(id=1, seq=0, hash=GENESIS_HASH)
            .on_conflict_do_nothing(index_elements=["id"])
        )
        head = session.exec(locked).one()
    if head.seq == 0:
        last = session.exec(select(func.max(AuditEntry.seq))).one()
        if last is not None:
            # A head lost or reset under existing entries is tampering; appending would
            # fork the chain, so audited changes fail until an operator looks.
            raise AuditChainBroken(
                f"the audit head is missing or reset but entries up to {last} exist; "
                "run `shipbot audit verify`"
            )
    return head


def record(
    *,
    session: Session,
    clock: Clock,
    actor: str,
    action: str,
    target: str = "",
    params: Mapping[str, Any] | None = None,
    outcome: str = "ok",
    channel: str | None = None,
    message_ts: str | None = None,
) -> AuditEntry:
    """Append one entry in the caller's transaction and return it (flushed, not committed).

    ``params`` are redacted and JSON-normalised before hashing, so what is stored is what
    was hashed; ``actor``, ``target`` and ``outcome`` are redacted as text. The head row
    stays locked until the caller commits or rolls back: keep the transaction short.
    """
    # Through JSON and back: what is hashed is exactly what the JSON column gives back
    # (tuples become lists, keys strings, datetimes canonical strings).
    clean_params = json.loads(
        json.dumps(redact(dict(params or {})), allow_nan=False, default=_json_default)
    )
    head = _locked_head(session)
    fields: dict[str, Any] = {
        "seq": head.seq + 1,
        "created_at": _utc(clock.now()),
        "actor": redact_text(actor),
        "action": action,
        "target": redact_text(target),
        "params": clean_params,
        "outcome": redact_text(outcome),
        # None and "" would export the same (an empty CSV cell): store only None.
        "channel": channel or None,
        "message_ts": message_ts or None,
    }
    digest = entry_hash(prev_hash=head.hash, fields=fields)
    entry = AuditEntry(**fields, prev_hash=head.hash, hash=digest)
    session.add(entry)
    head.seq = fields["seq"]
    head.hash = digest
    session.add(head)
    session.flush()
    return entry


def entries(
    *, session: Session, action: str | None = None, target: str | None = None, limit: int = 100
) -> list[AuditEntry]:
    """The newest ``limit`` entries, newest first, optionally of one action and/or target."""
    query = select(AuditEntry)
    if action is not None:
        query = query.where(AuditEntry.action == action)
    if target is not None:
        query = query.where(AuditEntry.target == target)
    return list(session.exec(query.order_by(col(AuditEntry.seq).desc()).limit(limit)).all())


# --- reading the chain as plain rows (no identity map: a million rows stream in batches)

_table = table_of(AuditEntry)
_head_table = table_of(AuditHead)
# params are read as stored text and parsed here, so one mangled row is reported by seq
# instead of failing the whole read.
_ROW = sa_select(
    *(_table.c[name] for name in HASHED_FIELDS if name != "params"),
    sql_cast(_table.c.params, Text).label("params"),
    _table.c.prev_hash,
    _table.c.hash,
)


def _stream(session: Session, query: Any) -> Generator[Row[Any]]:
    result = session.connection().execute(query.execution_options(yield_per=_BATCH))
    try:
        yield from result
    finally:
        result.close()


def _fields_of(row: Row[Any]) -> dict[str, Any]:
    values = {name: getattr(row, name) for name in HASHED_FIELDS}
    values["params"] = json.loads(row.params)
    return values


def _describe(fields: Mapping[str, Any]) -> str:
    when = fields["created_at"]
    when = format_timestamp(when) if isinstance(when, datetime) else when
    return f"entry {fields['seq']} ({fields['action']} by {fields['actor']} at {when})"


def _head(session: Session) -> tuple[int, str] | None:
    query = sa_select(_head_table.c.seq, _head_table.c.hash).where(_head_table.c.id == 1)
    row = session.connection().execute(query).first()
    return None if row is None else (row.seq, row.hash)


def _hash_of(session: Session, seq: int) -> str | None:
    query = sa_select(_table.c.hash).where(_table.c.seq == seq)
    return session.connection().execute(query).scalar_one_or_none()


def _check_link(row: Row[Any], prev_seq: int, prev_hash: str) -> tuple[int, str] | None:
    """``(seq, problem)`` if ``row`` does not follow entry ``prev_seq`` with ``prev_hash``."""
    expected = prev_seq + 1
    if row.seq != expected:
        if row.seq == expected + 1:
            return expected, f"entry {expected} is missing (deleted?)"
        return expected, f"entries {expected}-{row.seq - 1} are missing (deleted?)"
    fields = _fields_of(row)
    # The link first: a swapped pair reads as "reordered", an edit as "edited".
    if row.prev_hash != prev_hash:
        return row.seq, (
            f"{_describe(fields)}: its prev_hash does not match the hash of entry "
            f"{prev_seq} (reordered or replaced?)"
        )
    if entry_hash(prev_hash=prev_hash, fields=fields) != row.hash:
        return row.seq, f"{_describe(fields)}: hash does not match its contents (edited?)"
    return None


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


def verify(
    *,
    session: Session,
    since_seq: int | None = None,
    expected_head: tuple[int, str] | None = None,
) -> VerifyReport:
    """Walk the chain in ``seq`` order and report the first edited, deleted, reordered or
    truncated entry.

    ``since_seq`` starts at that entry, trusting the stored hash of the one before it.
    ``expected_head`` is an anchor kept outside the database (``(seq, hash)`` as posted
    by the audit checkpoint report): the chain must contain that entry with that hash,
    which catches a truncation whose head row was rewound to match.
    Entries appended while this runs are left for the next run.
    """
    head = _head(session)
    head_seq, head_hash = head if head is not None else (None, None)
    checked = 0

    def failed(first_bad_seq: int | None, problem: str) -> VerifyReport:
        return VerifyReport(False, checked, head_seq, head_hash, first_bad_seq, problem)

    start = max(since_seq or 1, 1)
    prev_seq, prev_hash = start - 1, GENESIS_HASH
    if start > 1:
        trusted = _hash_of(session, start - 1)
        if trusted is None:
            return failed(start - 1, f"entry {start - 1} is missing (deleted?)")
        prev_hash = trusted

    query = _ROW.where(_table.c.seq >= start)
    if head_seq is not None:
        # Read the head first and stop there: appends racing this walk are not truncation.
        query = query.where(_table.c.seq <= head_seq)
    try:
        with closing(_stream(session, query.order_by(_table.c.seq))) as rows:
            for row in rows:
                broken = _check_link(row, prev_seq, prev_hash)
                if broken is not None:
                    return failed(*broken)
                prev_seq, prev_hash = row.seq, row.hash
                checked += 1
    except (ValueError, TypeError) as exc:
        return failed(prev_seq + 1, f"entry {prev_seq + 1} cannot be read (edited?): {exc}")

    if head_seq is None:
        if prev_seq > 0:
            return failed(None, f"the head row is missing but the chain has {prev_seq} entries")
    elif prev_seq < head_seq:
        return failed(
            prev_seq + 1,
            f"chain ends at entry {prev_seq} but the head says {head_seq} (truncated?)",
        )
    elif prev_hash != head_hash:
        return failed(prev_seq, f"entry {prev_seq}'s hash does not match the head's (replaced?)")
    else:
        beyond = session.connection().execute(
            sa_select(func.min(_table.c.seq)).where(_table.c.seq > head_seq)
        )
        extra = beyond.scalar_one_or_none()
        latest = _head(session)
        if extra is not None and (latest is None or latest[0] < extra):
            return failed(
                extra, f"entry {extra} lies beyond the head ({head_seq}) (appended by hand?)"
            )

    if expected_head is not None:
        anchor_seq, anchor_hash = expected_head
        found = GENESIS_HASH if anchor_seq == 0 else _hash_of(session, anchor_seq)
        if found is None:
            return failed(
                min(anchor_seq, prev_seq + 1),
                f"the anchor says entry {anchor_seq} has hash {anchor_hash[:12]}… but the chain "
                f"ends at entry {prev_seq} (truncated?)",
            )
        if found != anchor_hash:
            return failed(
                anchor_seq,
                f"entry {anchor_seq}'s hash does not match the anchor {anchor_hash[:12]}… "
                "(the chain was rewritten?)",
            )
    return VerifyReport(True, checked, head_seq, head_hash)


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
