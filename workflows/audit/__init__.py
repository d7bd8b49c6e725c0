"""The tamper-evident audit log (rule 4): append-only, hash-chained, same transaction.

``chain`` appends and defines the hash (read its docstring before touching either),
``verify`` checks the chain (``ranges`` is its per-range hot loop), ``export`` writes it
out for offline re-verification, ``anchors`` keeps the head somewhere the database cannot
reach.
"""

from workflows.audit.chain import (
    EXPORT_FIELDS,
    GENESIS_HASH,
    HASHED_FIELDS,
    canonical_json,
    entries,
    entry_hash,
    format_timestamp,
    hash_fields,
    hashed_text,
    record,
)
from workflows.audit.export import export
from workflows.audit.verify import VerifyReport, anchor_mismatch, verify
from workflows.store.models import AuditEntry, AuditHead

__all__ = [
    "EXPORT_FIELDS",
    "GENESIS_HASH",
    "HASHED_FIELDS",
    "AuditEntry",
    "AuditHead",
    "VerifyReport",
    "anchor_mismatch",
    "canonical_json",
    "entries",
    "entry_hash",
    "export",
    "format_timestamp",
    "hash_fields",
    "hashed_text",
    "record",
    "verify",
]
