"""Locking an environment (or one service in it) against deploys, and unlocking it."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, delete, select

from workflows import audit
from workflows.deploys.directory import is_member
from workflows.deploys.models import ALL_SERVICES, DeployLock
from workflows.deploys.policy import resolve_target
from workflows.deploys.requests import Ports, claim
from workflows.errors import Conflict, NotFound, PermissionDenied, UserError


def _check_names(ports: Ports, environment: str, service: str | None) -> None:
    config = ports.config
    if service is not None:
        resolve_target(config=config, service=service, environment=environment)
    elif environment not in config.environments:
        listed = ", ".join(f"`{name}`" for name in config.ordered_environments())
        raise NotFound(f"There is no environment `{environment}`.", hint=f"Environments: {listed}.")


def _may_lock(ports: Ports, environment: str, user: str) -> bool:
    """Whoever may deploy there, approve there or break glass there."""
    env = ports.config.environments[environment]
    if not env.deployers:
        return True
    refs = [*env.deployers, *env.approval.from_groups, *env.break_glass.groups]
    return is_member(config=ports.config, directory=ports.directory, user=user, refs=refs)


def lock(
    *,
    session: Session,
    ports: Ports,
    environment: str,
    service: str | None,
    reason: str,
    user: str,
    delivery_key: str = "",
) -> DeployLock:
    claim(session, ports, delivery_key)
    _check_names(ports, environment, service)
    if not reason.strip():
        raise UserError("A lock needs a reason.", hint="`/deploy lock production web db migration`")
    if not _may_lock(ports, environment, user):
        raise PermissionDenied(f"You may not lock {environment}.")
    row = DeployLock(
        environment=environment,
        service=service or ALL_SERVICES,
        reason=reason.strip()[:300],
        locked_by=user,
        locked_at=ports.clock.now(),
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        existing = session.exec(
            select(DeployLock)
            .where(col(DeployLock.environment) == environment)
            .where(col(DeployLock.service) == (service or ALL_SERVICES))
        ).first()
        by = f" by <@{existing.locked_by}>: {existing.reason}" if existing else ""
        raise Conflict(f"{_scope(environment, service)} is already locked{by}.") from None
    audit.record(
        session=session,
        clock=ports.clock,
        actor=user,
        action="deploy.locked",
        target=f"lock:{environment}:{service or ALL_SERVICES}",
        params={"environment": environment, "service": service, "reason": row.reason},
    )
    return row


def unlock(
    *,
    session: Session,
    ports: Ports,
    environment: str,
    service: str | None,
    user: str,
    delivery_key: str = "",
) -> None:
    claim(session, ports, delivery_key)
    _check_names(ports, environment, service)
    if not _may_lock(ports, environment, user):
        raise PermissionDenied(f"You may not unlock {environment}.")
    result = session.exec(
        delete(DeployLock)
        .where(col(DeployLock.environment) == environment)
        .where(col(DeployLock.service) == (service or ALL_SERVICES))
    )
    if result.rowcount == 0:
        raise NotFound(f"{_scope(environment, service)} is not locked.")
    audit.record(
        session=session,
        clock=ports.clock,
        actor=user,
        action="deploy.unlocked",
        target=f"lock:{environment}:{service or ALL_SERVICES}",
        params={"environment": environment, "service": service},
    )


def _scope(environment: str, service: str | None) -> str:
    return f"{service} in {environment}" if service else environment
