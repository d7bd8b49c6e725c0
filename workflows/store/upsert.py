"""INSERT ... ON CONFLICT in the session's dialect: the one place that picks it.

Both databases spell "insert unless the unique key exists" the same way in SQLAlchemy
(``INSERT ... ON CONFLICT (key) DO NOTHING``; SQLite has had it since 3.24), but through
two dialect-specific ``insert`` constructs. Every exactly-once write (jobs, deliveries,
report claims, alert groups, channel pacing, the audit head) goes through here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeAlias

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlmodel import Session, SQLModel

DialectInsert: TypeAlias = postgresql.Insert | sqlite.Insert
"""An INSERT that knows ``on_conflict_do_nothing`` / ``on_conflict_do_update``."""

SUPPORTED = ("postgresql", "sqlite")


def dialect_insert(session: Session | Connection, table: type[SQLModel] | Table) -> DialectInsert:
    """``INSERT INTO table`` in the dialect of ``session``'s connection.

    Raises ``RuntimeError`` on a database shipbot does not support."""
    bind = session.get_bind() if isinstance(session, Session) else session
    dialect = bind.dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise RuntimeError(f"shipbot supports SQLite and PostgreSQL, not {dialect}")


def insert_or_ignore(
    session: Session | Connection, table: type[SQLModel] | Table, *, key: Sequence[str]
) -> DialectInsert:
    """``INSERT ... ON CONFLICT (key) DO NOTHING``: add ``.values(...)`` (or execute with
    rows) and ``.returning(...)`` to learn whether the row is new."""
    return dialect_insert(session, table).on_conflict_do_nothing(index_elements=list(key))
