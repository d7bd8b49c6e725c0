"""Alembic environment: the engine comes from ``Database`` (config.attributes["engine"])."""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import Connection
from sqlmodel import SQLModel

import workflows.store.all_models  # noqa: F401  (registers every table on SQLModel.metadata)

target_metadata = SQLModel.metadata


def _raw(connection: Connection) -> Any:
    return connection.connection.driver_connection


def run_migrations_online() -> None:
    engine = context.config.attributes.get("engine")
    if engine is None:
        from workflows.store.db import Database

        url = context.config.get_main_option("sqlalchemy.url")
        if url is None:
            # Only reachable by running alembic by hand with an empty alembic.ini.
            raise RuntimeError("no engine given and no sqlalchemy.url set")
        engine = Database(url).engine
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # A batch migration rebuilds a table (copy, drop, rename); with foreign keys
            # enforced, dropping a table other rows point at fails once there is data.
            # The pragma only takes effect outside a transaction; the check below puts
            # the guarantee back before anything commits.
            # (Straight to the driver: SQLAlchemy would open a transaction first.)
            _raw(connection).execute("PRAGMA foreign_keys=OFF")
        try:
            with connection.begin():
                context.configure(
                    connection=connection,
                    target_metadata=target_metadata,
                    render_as_batch=sqlite,
                    compare_type=True,
                )
                context.run_migrations()
                if sqlite:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise RuntimeError(f"migration left dangling foreign keys: {broken[:5]}")
        finally:
            if sqlite:
                _raw(connection).execute("PRAGMA foreign_keys=ON")


run_migrations_online()
