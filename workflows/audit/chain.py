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
exactly when the change it records does. Since 0.3.0 it stores ``params`` as their
canonical JSON text, which lets ``verify`` hash the stored text without re-encoding it
(rows written by 0.2 are re-encoded and verify as before).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import JSON, Integer, Table, Text, bindparam, func, update
from sqlalchemy import cast as sql_cast
from sqlalchemy import insert as sa_insert
from sqlmodel import Session, col, select

from workflows.audit.canon import (
    GENESIS_HASH,
    HASHED_FIELDS,
    canonical_json,
    format_timestamp,
    hashed_text,
    json_default,
    utc,
)
from workflows.clock import Clock
from workflows.errors import AuditChainBroken
from workflows.redact import redact, redact_text
from workflows.store.models import AuditEntry, AuditHead
from workflows.store.tables import table_of
from workflows.store.upsert import insert_or_ignore

EXPORT_FIELDS = (*HASHED_FIELDS, "prev_hash", "hash")


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


# The tables as Core sees them (Table-typed, unlike the models' ``__table__``).
ENTRIES: Table = table_of(AuditEntry)
HEAD: Table = table_of(AuditHead)


# The statements of an append, built once: an append is on every audited request's
# path, and building ``insert().values(...)`` anew cost more CPU than running it.
_LOCK_HEAD = select(HEAD.c.seq, HEAD.c.hash).where(HEAD.c.id == 1).with_for_update()
_MOVE_HEAD = (
    update(HEAD)
    .where(HEAD.c.id == 1)
    .values(seq=bindparam("new_seq", type_=Integer), hash=bindparam("new_hash", type_=Text))
)
_PARAMS_TEXT = bindparam("params_text", type_=Text)
_ADD_ENTRY = {
    # The params column gets exactly the canonical text that was hashed: PostgreSQL
    # needs the cast to ``json`` (which keeps the text as given); on SQLite a cast would
    # change it, and none is needed.
    "postgresql": sa_insert(ENTRIES).values(params=sql_cast(_PARAMS_TEXT, JSON)),
    "sqlite": sa_insert(ENTRIES).values(params=_PARAMS_TEXT),
}


def _locked_head(session: Session) -> tuple[int, str]:
    """The head's ``(seq, hash)``, its row locked until the transaction ends. Core rows,
    not an ORM object: nothing a session kept across commits can be stale."""
    head = session.execute(_LOCK_HEAD).first()
    if head is None:
        # Two replicas creating the head at once: the loser's insert waits for the winner
        # and does nothing, then both queue on the row lock below.
        session.exec(
            insert_or_ignore(session, AuditHead, key=["id"]).values(id=1, seq=0, hash=GENESIS_HASH)
        )
        head = session.execute(_LOCK_HEAD).one()
    seq, hash_ = int(head.seq), str(head.hash)
    if seq == 0:
        last = session.exec(select(func.max(AuditEntry.seq))).one()
        if last is not None:
            # A head lost or reset under existing entries is tampering; appending would
            # fork the chain, so audited changes fail until an operator looks.
            raise AuditChainBroken(
                f"the audit head is missing or reset but entries up to {last} exist; "
                "run `shipbot audit verify`"
            )
    return seq, hash_


RECORDED = "shipbot.audit.recorded"
"""``session.info`` key: the entries ``record`` wrote in this session's transaction (they
are Core inserts, invisible to the ORM's own bookkeeping)."""


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
        json.dumps(redact(dict(params or {})), allow_nan=False, default=json_default)
    )
    head_seq, prev_hash = _locked_head(session)
    fields: dict[str, Any] = {
        "seq": head_seq + 1,
        "created_at": utc(clock.now()),
        "actor": redact_text(actor),
        "action": action,
        "target": redact_text(target),
        "params": clean_params,
        "outcome": redact_text(outcome),
        # None and "" would export the same (an empty CSV cell): store only None.
        "channel": channel or None,
        "message_ts": message_ts or None,
    }
    params_text = canonical_json(clean_params)
    text = hashed_text(
        **{**fields, "created_at": format_timestamp(fields["created_at"]), "params": params_text}
    )
    digest = hashlib.sha256((prev_hash + text).encode("utf-8")).hexdigest()
    row = {**fields, "prev_hash": prev_hash, "hash": digest, "params_text": params_text}
    del row["params"]
    session.execute(_ADD_ENTRY[session.get_bind().dialect.name], row)
    session.execute(_MOVE_HEAD, {"new_seq": fields["seq"], "new_hash": digest})
    entry = AuditEntry(**fields, prev_hash=prev_hash, hash=digest)
    # Written with Core, so it is not in ``session.new``: listeners that count what a
    # transaction audited (metrics) find it here when the transaction commits.
    session.info.setdefault(RECORDED, []).append(entry)
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
