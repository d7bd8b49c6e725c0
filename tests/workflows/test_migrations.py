"""The migrations create exactly the tables the models describe, on both databases."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import workflows.store.all_models  # noqa: F401
from workflows.store.db import HEAD_REVISION, Database


def test_upgraded_schema_has_no_difference_from_the_models(database: Database) -> None:
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        differences = compare_metadata(context, SQLModel.metadata)
    assert differences == [], (
        "models and migrations differ; run `python -m workflows.migrations.regenerate`"
    )
    assert database.migrations_current()


def test_the_head_revision_constant_is_alembics_head(database: Database) -> None:
    """A start skips Alembic when the schema is at HEAD_REVISION: a new migration that
    forgot to move the constant would be skipped on every SQLite start."""
    assert HEAD_REVISION == database.head_revision() == database.current_revision()


def test_upgrade_if_behind_migrates_an_empty_database(tmp_path: Path) -> None:
    fresh = Database(f"sqlite:///{tmp_path / 'fresh.db'}")
    assert fresh.current_revision() is None
    fresh.upgrade_if_behind()
    assert fresh.current_revision() == HEAD_REVISION and fresh.migrations_current()
    fresh.upgrade_if_behind()  # current: nothing to do, and nothing fails
    fresh.dispose()
