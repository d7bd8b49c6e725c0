"""Alembic environment: the engine comes from ``Database`` (config.attributes["engine"])."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import workflows.store.all_models  # noqa: F401  (registers every table on SQLModel.metadata)

target_metadata = SQLModel.metadata


def run_migrations_online() -> None:
    engine = context.config.attributes.get("engine")
    if engine is None:
        from workflows.store.db import Database

        url = context.config.get_main_option("sqlalchemy.url")
        if url is None:
            # Only reachable by running alembic by hand with an empty alembic.ini.
            raise RuntimeError("no engine given and no sqlalchemy.url set")
        engine = Database(url).engine
    with engine.begin() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        context.run_migrations()


run_migrations_online()
