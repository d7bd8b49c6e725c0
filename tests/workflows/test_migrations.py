"""The migrations create exactly the tables the models describe, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import workflows.store.all_models  # noqa: F401
from workflows.store.db import Database


def test_upgraded_schema_has_no_difference_from_the_models(database: Database) -> None:
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        differences = compare_metadata(context, SQLModel.metadata)
    assert differences == [], (
        "models and migrations differ; run `python -m workflows.migrations.regenerate`"
    )
    assert database.migrations_current()
