"""The Core ``Table`` behind a SQLModel table class, with its real type."""

from __future__ import annotations

from sqlalchemy import Table
from sqlmodel import SQLModel


def table_of(model: type[SQLModel]) -> Table:
    """``model.__table__``, typed.

    SQLModel sets ``__table__`` while it creates the class, where a type checker cannot
    see it; the metadata holds the same object under the table's name.
    """
    return model.metadata.tables[str(model.__tablename__)]
