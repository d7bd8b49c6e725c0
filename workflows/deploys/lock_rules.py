"""Who may lock an environment and who may lift a lock (docs/permissions.md, "Locks").

- Locking: ``environments.<env>.locks.lockers``; when that is not set, whoever may deploy
  there (``environments.<env>.deployers``, empty = anyone).
- Unlocking: the person who placed the lock, the environment's break-glass members
  (``environments.<env>.break_glass.groups``) and ``environments.<env>.locks.unlockers``.
  Nobody else may lift someone else's lock, lockers included: a lock is a person's "stop"
  and lifting it is what break-glass is for.
"""

from __future__ import annotations

from workflows.config.models import ShipbotConfig
from workflows.deploys.directory import Directory
from workflows.deploys.models import ALL_SERVICES, DeployLock
from workflows.permissions import Denied, Who, admitted


def lock_target(environment: str, service: str | None) -> str:
    """The audit target of a lock (the same for locking, unlocking and their refusals)."""
    return f"lock:{environment}:{service or ALL_SERVICES}"


def lockers(config: ShipbotConfig, environment: str) -> Who:
    env = config.environments[environment]
    if env.locks.lockers is not None:
        refs = tuple(env.locks.lockers)
        key = f"environments.{environment}.locks.lockers"
        return Who(f"lockers of {environment}", refs, key=key, anyone=not refs)
    refs = tuple(env.deployers)
    key = f"environments.{environment}.deployers"
    return Who(f"deployers of {environment}", refs, key=key, anyone=not refs)


def unlockers(config: ShipbotConfig, lock: DeployLock) -> tuple[Who, ...]:
    env = config.environments[lock.environment]
    path = f"environments.{lock.environment}"
    return (
        Who("the person who locked it", (lock.locked_by,)),
        Who(
            f"break-glass of {lock.environment}",
            tuple(env.break_glass.groups),
            key=f"{path}.break_glass.groups",
        ),
        Who(
            f"unlockers of {lock.environment}",
            tuple(env.locks.unlockers),
            key=f"{path}.locks.unlockers",
        ),
    )


def check_lock(
    *,
    config: ShipbotConfig,
    directory: Directory,
    user: str,
    environment: str,
    service: str | None,
) -> None:
    """Raise ``Denied`` unless ``user`` may lock ``environment``."""
    allowed = (lockers(config, environment),)
    if admitted(config=config, directory=directory, user=user, allowed=allowed):
        return
    raise Denied(
        f"You may not lock {environment}.",
        actor=user,
        action="deploy.locked",
        target=lock_target(environment, service),
        allowed=allowed,
        params={"environment": environment, "service": service},
    )


def check_unlock(
    *, config: ShipbotConfig, directory: Directory, user: str, lock: DeployLock
) -> None:
    """Raise ``Denied`` unless ``user`` may lift ``lock``."""
    allowed = unlockers(config, lock)
    if admitted(config=config, directory=directory, user=user, allowed=allowed):
        return
    service = None if lock.service == ALL_SERVICES else lock.service
    raise Denied(
        "You may not remove someone else's lock.",
        actor=user,
        action="deploy.unlocked",
        target=lock_target(lock.environment, service),
        allowed=allowed,
        params={"environment": lock.environment, "service": service, "locked_by": lock.locked_by},
    )
