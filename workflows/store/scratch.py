"""A throwaway, migrated schema on a PostgreSQL server, for tests and benchmarks.

Each caller gets a schema of its own (dropped afterwards), so several can share one
server side by side without seeing each other's rows."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text

from workflows.store.db import Database, normalise_url


def schema_url(base_url: str, schema: str) -> str:
    """``base_url`` with every connection's search_path set to ``schema``."""
    separator = "&" if "?" in base_url else "?"
    return f"{normalise_url(base_url)}{separator}options=-csearch_path%3D{schema}"


@contextmanager
def scratch_postgres(
    base_url: str, *, prefix: str = "t", revision: str = "head"
) -> Iterator[Database]:
    """A database migrated to ``revision`` in a new schema named ``<prefix>_<random>``,
    dropped on exit."""
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(normalise_url(base_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    database = Database(schema_url(base_url, schema))
    try:
        database.upgrade(revision)
        yield database
    finally:
        database.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
