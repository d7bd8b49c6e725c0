"""The weekly DORA report: the four key metrics for the last 7 days and the 7 before.

Definitions (docs/reports.md):

- *production* is the environment with the highest ``order`` in the config;
- a *production deploy* is a deploy of kind ``deploy`` to production that succeeded
  (state ``succeeded``, or ``rolled_back``: it had succeeded before it was replaced),
  counted in the period it finished in;
- *deployment frequency*: how many production deploys, also per local day (the chart);
- *lead time for changes*: the median of ``finished_at - commit_at`` over the production
  deploys whose ``commit_at`` is known ("not available" when none is);
- *change failure rate*: the share of production deploys that were rolled back (state
  ``rolled_back``, or a later deploy with ``rollback_of`` = it, asked for before the report
  ran) or followed by an incident on the same service declared within
  ``INCIDENT_WINDOW`` after the deploy finished (and before the report ran);
- *time to restore*: the median of ``resolved_at - declared_at`` over incidents resolved
  in the period.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, TypedDict

from sqlalchemy import and_, case, exists, func, literal, or_, select
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col

from workflows.config import ShipbotConfig
from workflows.deploys.models import Deploy, DeployKind, DeployState
from workflows.incidents.models import Incident
from workflows.reports.periods import Window, day_boundaries, window_before
from workflows.reports.sql import dialect_of, medians, plus, seconds_between

INCIDENT_WINDOW = timedelta(hours=24)
PERIOD_DAYS = 7
SUCCEEDED = (DeployState.succeeded.value, DeployState.rolled_back.value)


class Pair(TypedDict):
    current: float | None
    previous: float | None


class Counted(TypedDict):
    current: int
    previous: int


class Dora(TypedDict):
    window: dict[str, str]
    previous_window: dict[str, str]
    production: str | None
    deploys: Counted
    per_day_labels: list[str]
    per_day_current: list[int]
    per_day_previous: list[int]
    lead_time_seconds: Pair
    lead_time_samples: Counted
    failed_deploys: Counted
    restore_seconds: Pair
    restored_incidents: Counted


def production_environment(config: ShipbotConfig) -> str | None:
    """The environment with the highest ``order`` (ties: the last name), or None."""
    ordered = config.ordered_environments()
    return ordered[-1] if ordered else None


def _period(moment: Any, current: Window) -> Any:
    return case((moment < current.start, literal("previous")), else_=literal("current"))


def _pair(values: dict[Any, float]) -> Pair:
    return Pair(current=_round(values.get("current")), previous=_round(values.get("previous")))


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _counted(values: dict[Any, Any]) -> Counted:
    return Counted(
        current=int(values.get("current") or 0), previous=int(values.get("previous") or 0)
    )


def _per_day(session: Session, counted: ColumnElement[bool], bounds: list[datetime]) -> list[int]:
    """Production deploys per local day slot between ``bounds`` (one GROUP BY)."""
    finished_at = col(Deploy.finished_at)
    slot = case(
        *((finished_at < bound, literal(index)) for index, bound in enumerate(bounds[1:-1])),
        else_=literal(len(bounds) - 2),
    )
    per_slot = dict(session.execute(select(slot, func.count()).where(counted).group_by(slot)).all())
    return [int(per_slot.get(index, 0)) for index in range(len(bounds) - 1)]


def _failed(dialect: str, previous: Window, current: Window) -> ColumnElement[bool]:
    """A production deploy counts as failed: rolled back, or an incident on its service
    within ``INCIDENT_WINDOW`` after it finished (and before the report ran)."""
    finished_at = col(Deploy.finished_at)
    rollback = aliased(Deploy)
    rolled_back_ids = select(col(rollback.rollback_of)).where(
        col(rollback.rollback_of).is_not(None),
        col(rollback.requested_at) >= previous.start,
        col(rollback.requested_at) < current.end,
    )
    incident_after = exists().where(
        col(Incident.service) == col(Deploy.service),
        col(Incident.declared_at) >= finished_at,
        col(Incident.declared_at) < plus(dialect, finished_at, INCIDENT_WINDOW),
        col(Incident.declared_at) < current.end,
    )
    return or_(
        col(Deploy.state) == DeployState.rolled_back.value,
        col(Deploy.id).in_(rolled_back_ids),
        incident_after,
    )


def _deploy_figures(
    session: Session, counted: ColumnElement[bool], failed: ColumnElement[bool], period: Any
) -> dict[str, Counted]:
    """Per period: deploys, those with a known commit time, and failed ones (one query)."""
    rows = session.execute(
        select(
            period.label("period"),
            func.count().label("deploys"),
            func.count(col(Deploy.commit_at)).label("with_commit"),
            func.coalesce(func.sum(case((failed, 1), else_=0)), 0).label("failed"),
        )
        .where(counted)
        .group_by(period)
    ).all()
    return {
        "deploys": _counted({row.period: row.deploys for row in rows}),
        "with_commit": _counted({row.period: row.with_commit for row in rows}),
        "failed": _counted({row.period: row.failed for row in rows}),
    }


def _restore(
    session: Session, dialect: str, previous: Window, current: Window
) -> tuple[Pair, Counted]:
    """The median time to restore and the number of incidents resolved, per period."""
    resolved_at = col(Incident.resolved_at)
    resolved = and_(resolved_at >= previous.start, resolved_at < current.end)
    incident_period = _period(resolved_at, current)
    restore = medians(
        session,
        seconds_between(dialect, resolved_at, col(Incident.declared_at)),
        where=[resolved],
        group=incident_period,
    )
    restored = dict(
        session.execute(
            select(incident_period, func.count()).where(resolved).group_by(incident_period)
        ).all()
    )
    return _pair(restore), _counted(restored)


def compute(*, session: Session, config: ShipbotConfig, window: Window) -> Dora:
    """DORA figures for ``window`` (7 local days) against the 7 local days before it."""
    dialect = dialect_of(session)
    current = window
    previous = window_before(current.start, days=PERIOD_DAYS, timezone=current.timezone)
    production = production_environment(config)
    finished_at = col(Deploy.finished_at)
    counted = and_(
        col(Deploy.environment) == (production or ""),
        col(Deploy.kind) == DeployKind.deploy.value,
        col(Deploy.state).in_(SUCCEEDED),
        finished_at >= previous.start,
        finished_at < current.end,
    )
    slots = _per_day(session, counted, day_boundaries(previous)[:-1] + day_boundaries(current))
    days = len(day_boundaries(current)) - 1
    period = _period(finished_at, current)
    figures = _deploy_figures(session, counted, _failed(dialect, previous, current), period)
    lead = medians(
        session,
        seconds_between(dialect, finished_at, col(Deploy.commit_at)),
        where=[counted, col(Deploy.commit_at).is_not(None)],
        group=period,
    )
    restore, restored = _restore(session, dialect, previous, current)
    return Dora(
        window=current.as_json(),
        previous_window=previous.as_json(),
        production=production,
        deploys=figures["deploys"],
        per_day_labels=[
            f"{start.astimezone(current.zoneinfo):%a}" for start in day_boundaries(current)[:-1]
        ],
        per_day_current=slots[len(slots) - days :],
        per_day_previous=slots[: len(slots) - days],
        lead_time_seconds=_pair(lead),
        lead_time_samples=figures["with_commit"],
        failed_deploys=figures["failed"],
        restore_seconds=restore,
        restored_incidents=restored,
    )
