"""Locking an environment (or one service in it) against deploys, and unlocking it.

Who may do either is in ``lock_rules``; a refusal is a ``Denied`` naming who may instead.
"""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, delete, select

from workflows import audit
from workflows.deploys.lock_rules import check_lock, check_unlock, lock_target
from workflows.deploys.models import ALL_SERVICES, DeployLock
from workflows.deploys.policy import resolve_target
from workflows.deploys.requests import Ports, claim
from workflows.errors import Conflict, NotFound, UserError
from workflows.home.refresh import homes_changed
from workflows.incidents import watch


class AlreadyLocked(Conflict):
    """There is a lock there already, placed by ``locked_by`` for ``reason``.

    Plain values, not the row: the refused transaction rolls back and expires it."""

    def __init__(self, message: str, *, locked_by: str, reason: str) -> None:
        super().__init__(message)
        self.locked_by = locked_by
        self.reason = reason


def _check_names(ports: Ports, environment: str, service: str | None) -> None:
    config = ports.config
    if service is not None:
        resolve_target(config=config, service=service, environment=environment)
    elif environment not in config.environments:
        listed = ", ".join(f"`{name}`" for name in config.ordered_environments())
        raise NotFound(f"There is no environment `{environment}`.", hint=f"Environments: {listed}.")


def _current(session: Session, environment: str, service: str | None) -> DeployLock | None:
    query = select(DeployLock).where(
        col(DeployLock.environment) == environment,
        col(DeployLock.service) == (service or ALL_SERVICES),
    )
    return session.exec(query).first()


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
        raise UserError("A lock needs a reason.")
    check_lock(
        config=ports.config,
        directory=ports.directory,
        user=user,
        environment=environment,
        service=service,
    )
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
        existing = _current(session, environment, service)
        if existing is None:  # lifted again meanwhile
            raise Conflict(f"{_scope(environment, service)} changed meanwhile.") from None
        raise AlreadyLocked(
            f"{_scope(environment, service)} is already locked.",
            locked_by=existing.locked_by,
            reason=existing.reason,
        ) from None
    watch.lock_changed(
        session=session, clock=ports.clock, config=ports.config, lock=row, locked=True, actor=user
    )
    homes_changed(session=session, clock=ports.clock)  # before the audit head is locked
    audit.record(
        session=session,
        clock=ports.clock,
        actor=user,
        action="deploy.locked",
        target=lock_target(environment, service),
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
    reason: str = "",
    delivery_key: str = "",
) -> DeployLock:
    """Lift the lock on ``environment`` (or ``service`` in it) and return it, as it was."""
    claim(session, ports, delivery_key)
    _check_names(ports, environment, service)
    existing = _current(session, environment, service)
    if existing is None:
        raise NotFound(f"{_scope(environment, service)} is not locked.")
    check_unlock(config=ports.config, directory=ports.directory, user=user, lock=existing)
    # By id: a lock lifted and placed again since the read is not this one.
    result = session.exec(delete(DeployLock).where(col(DeployLock.id) == existing.id))
    if result.rowcount == 0:
        raise Conflict(f"{_scope(environment, service)} changed meanwhile.", hint="Try again.")
    watch.lock_changed(
        session=session,
        clock=ports.clock,
        config=ports.config,
        lock=existing,
        locked=False,
        actor=user,
    )
    homes_changed(session=session, clock=ports.clock)  # before the audit head is locked
    audit.record(
        session=session,
        clock=ports.clock,
        actor=user,
        action="deploy.unlocked",
        target=lock_target(environment, service),
        params={
            "environment": environment,
            "service": service,
            "reason": reason.strip()[:300],
            "locked_by": existing.locked_by,
            "lock_reason": existing.reason,
        },
    )
    return existing


def _scope(environment: str, service: str | None) -> str:
    return f"{service} in {environment}" if service else environment
