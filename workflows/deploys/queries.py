"""Reads of deploy state used by policy, commands and renderers."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session, col, select

from workflows.boundary import fits_id
from workflows.deploys.models import (
    ALL_SERVICES,
    Deploy,
    DeployApproval,
    DeployLock,
    DeployState,
)

# A version that reached these states did run successfully in that environment.
SUCCEEDED_STATES = (DeployState.succeeded, DeployState.rolled_back)


def in_flight_key(service: str, environment: str) -> str:
    return f"{service}:{environment}"


def get_deploy(*, session: Session, deploy_id: int) -> Deploy | None:
    # An id outside the column's range names nothing (and would overflow the driver).
    return session.get(Deploy, deploy_id) if fits_id(deploy_id) else None


def in_flight(*, session: Session, service: str, environment: str) -> Deploy | None:
    """The unfinished deploy of ``service`` to ``environment``, if any."""
    key = in_flight_key(service, environment)
    return session.exec(select(Deploy).where(col(Deploy.in_flight_key) == key)).first()


def approvals_of(*, session: Session, deploy_id: int) -> list[DeployApproval]:
    return list(
        session.exec(
            select(DeployApproval)
            .where(col(DeployApproval.deploy_id) == deploy_id)
            .order_by(col(DeployApproval.decided_at), col(DeployApproval.id))
        )
    )


def locks_for(*, session: Session, service: str, environment: str) -> list[DeployLock]:
    """Locks that stop ``service`` going to ``environment``: its own and the whole env's."""
    return list(
        session.exec(
            select(DeployLock)
            .where(col(DeployLock.environment) == environment)
            .where(col(DeployLock.service).in_([service, ALL_SERVICES]))
            .order_by(col(DeployLock.locked_at))
        )
    )


def all_locks(*, session: Session) -> list[DeployLock]:
    return list(session.exec(select(DeployLock).order_by(col(DeployLock.locked_at))))


def has_succeeded(*, session: Session, service: str, environment: str, version: str) -> bool:
    statement = (
        select(Deploy.id)
        .where(col(Deploy.service) == service)
        .where(col(Deploy.environment) == environment)
        .where(col(Deploy.version) == version)
        .where(col(Deploy.state).in_(SUCCEEDED_STATES))
        .limit(1)
    )
    return session.exec(statement).first() is not None


def current_release(*, session: Session, service: str, environment: str) -> Deploy | None:
    """The deploy whose version runs there now: the newest that finished successfully."""
    return session.exec(
        select(Deploy)
        .where(col(Deploy.service) == service)
        .where(col(Deploy.environment) == environment)
        .where(col(Deploy.state) == DeployState.succeeded)
        .order_by(col(Deploy.finished_at).desc(), col(Deploy.id).desc())
        .limit(1)
    ).first()


def previous_good_version(
    *, session: Session, service: str, environment: str, before: Deploy
) -> str | None:
    """The last version that succeeded there before ``before``, other than its version."""
    statement = (
        select(Deploy.version)
        .where(col(Deploy.service) == service)
        .where(col(Deploy.environment) == environment)
        .where(col(Deploy.state).in_(SUCCEEDED_STATES))
        .where(col(Deploy.id) < before.id)
        .where(col(Deploy.version) != before.version)
        .order_by(col(Deploy.id).desc())
        .limit(1)
    )
    return session.exec(statement).first()


def history(
    *, session: Session, service: str, environment: str | None = None, limit: int = 10
) -> Sequence[Deploy]:
    statement = select(Deploy).where(col(Deploy.service) == service)
    if environment is not None:
        statement = statement.where(col(Deploy.environment) == environment)
    return list(session.exec(statement.order_by(col(Deploy.id).desc()).limit(limit)))


def unfinished(*, session: Session, service: str | None = None) -> Sequence[Deploy]:
    statement = select(Deploy).where(col(Deploy.in_flight_key).is_not(None))
    if service is not None:
        statement = statement.where(col(Deploy.service) == service)
    return list(session.exec(statement.order_by(col(Deploy.id))))
