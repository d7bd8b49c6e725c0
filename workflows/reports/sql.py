"""SQL building blocks that mean the same on SQLite and PostgreSQL.

Reports aggregate in the database (``GROUP BY``, ``COUNT``, window functions), never by
looping over rows in Python. The few things the two dialects spell differently live here:
the seconds between two timestamps, a timestamp plus a duration, string aggregation, and
the median (a window-function query that both run).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Float,
    SQLColumnExpression,
    and_,
    between,
    cast,
    extract,
    func,
    literal,
    select,
)
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session


def dialect_of(session: Session) -> str:
    return session.get_bind().dialect.name


def seconds_between(dialect: str, end: Any, start: Any) -> ColumnElement[float]:
    """``end - start`` in seconds as a float (NULL if either is NULL)."""
    if dialect == "sqlite":
        # Timestamps are stored as naive UTC text; julianday reads the microseconds too.
        return (func.julianday(end) - func.julianday(start)) * 86400.0
    return cast(extract("epoch", end - start), Float)


def plus(
    dialect: str, moment: SQLColumnExpression[datetime | None], delta: timedelta
) -> ColumnElement[Any]:
    """``moment + delta``, comparable with another timestamp column of the same table type."""
    if dialect == "sqlite":
        # The same text form the column stores (millisecond precision is enough here).
        return func.strftime("%Y-%m-%d %H:%M:%f", moment, f"+{int(delta.total_seconds())} seconds")
    return moment + literal(delta)


def string_agg(dialect: str, value: Any, separator: str = ",") -> ColumnElement[str]:
    """The values of a group joined by ``separator`` (order unspecified)."""
    if dialect == "sqlite":
        return func.group_concat(value, separator)
    return func.string_agg(value, separator)


def split_agg(text: str | None, separator: str = ",") -> list[str]:
    """The sorted, distinct parts of a ``string_agg`` result."""
    return sorted({part for part in (text or "").split(separator) if part})


def medians(
    session: Session,
    value: ColumnElement[Any],
    *,
    where: Sequence[ColumnElement[bool]],
    group: ColumnElement[Any] | None = None,
) -> dict[Any, float]:
    """The median of ``value`` per ``group`` (one key, None, without a group), NULLs left out.

    Rows are numbered in value order within their group; the median is the average of the
    middle row (odd count) or the two middle rows (even count): ``2 * row_number`` lies
    between ``count`` and ``count + 2`` for exactly those rows, so no division is needed.
    """
    key = group if group is not None else literal(0)
    partition = [group] if group is not None else None
    ranked = (
        select(
            key.label("grp"),
            value.label("v"),
            func.row_number().over(partition_by=partition, order_by=value).label("rn"),
            func.count().over(partition_by=partition).label("n"),
        )
        .where(and_(*where), value.is_not(None))
        .subquery()
    )
    query = (
        select(ranked.c.grp, func.avg(ranked.c.v))
        .where(between(ranked.c.rn * 2, ranked.c.n, ranked.c.n + 2))
        .group_by(ranked.c.grp)
    )
    rows = session.execute(query).all()
    if group is None:
        return {None: float(rows[0][1])} if rows else {}
    return {grp: float(median) for grp, median in rows}


def median(
    session: Session, value: ColumnElement[Any], *, where: Sequence[ColumnElement[bool]]
) -> float | None:
    """The median of ``value`` over the rows ``where`` selects, or None without any."""
    return medians(session, value, where=where).get(None)


def as_float(value: Any) -> float | None:
    """A database number (Decimal on PostgreSQL) as a float; None stays None."""
    return None if value is None else float(value)


def iso(moment: datetime) -> str:
    """How figures store an instant: UTC ISO-8601."""
    return moment.isoformat()
