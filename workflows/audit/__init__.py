"""The tamper-evident audit log (rule 4): append-only, hash-chained, same transaction.

``chain`` appends and defines the hash (read its docstring before touching either),
``canon`` is the canonical text it hashes, ``verifier`` checks the chain (``ranges`` is its
per-range hot loop), ``exporter`` writes it out for offline re-verification, ``anchors``
keeps the head somewhere the database cannot reach.

The names below are loaded on first use, not on import: ``verify``'s worker processes
import ``workflows.audit.ranges``, which imports this package first, and must not pay for
the ORM and the rest of the domain (about a second of CPU each) to hash rows.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workflows.audit.canon import (
        GENESIS_HASH,
        HASHED_FIELDS,
        canonical_json,
        format_timestamp,
        hashed_text,
    )
    from workflows.audit.chain import EXPORT_FIELDS, entries, entry_hash, hash_fields, record
    from workflows.audit.exporter import export
    from workflows.audit.verifier import VerifyReport, anchor_mismatch, verify
    from workflows.store.models import AuditEntry, AuditHead

_HOMES = {
    "GENESIS_HASH": "workflows.audit.canon",
    "HASHED_FIELDS": "workflows.audit.canon",
    "canonical_json": "workflows.audit.canon",
    "format_timestamp": "workflows.audit.canon",
    "hashed_text": "workflows.audit.canon",
    "EXPORT_FIELDS": "workflows.audit.chain",
    "entries": "workflows.audit.chain",
    "entry_hash": "workflows.audit.chain",
    "hash_fields": "workflows.audit.chain",
    "record": "workflows.audit.chain",
    "export": "workflows.audit.exporter",
    "VerifyReport": "workflows.audit.verifier",
    "anchor_mismatch": "workflows.audit.verifier",
    "verify": "workflows.audit.verifier",
    "AuditEntry": "workflows.store.models",
    "AuditHead": "workflows.store.models",
}

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


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(home), name)
    globals()[name] = value
    return value
