"""Whether a person may deploy a service to an environment now: every rule of the config
evaluated into a typed ``Check`` (see ``checks``). The request flow refuses when any
check blocks and break-glass does not lift it; ``explain`` shows them all."""

from __future__ import annotations

import difflib
from datetime import datetime

from sqlmodel import Session

from workflows.clock import Clock
from workflows.config import ShipbotConfig
from workflows.deploys import queries
from workflows.deploys.directory import Directory, is_member, members
from workflows.deploys.policy.checks import (
    Approvals,
    Check,
    Freeze,
    IncidentBlock,
    InFlight,
    Lock,
    Permission,
    Promotion,
    Verdict,
)
from workflows.errors import NotFound
from workflows.incidents.queries import blocking_incident


def resolve_target(*, config: ShipbotConfig, service: str, environment: str) -> tuple[str, str]:
    """The configured service and environment names, or a ``NotFound`` that says what
    would work (close matches for a service, the list of environments)."""
    if service not in config.services:
        close = difflib.get_close_matches(service, list(config.services), n=3, cutoff=0.5)
        known = ", ".join(f"`{name}`" for name in sorted(config.services)) or "none configured"
        hint = f"Did you mean {' or '.join(f'`{c}`' for c in close)}? " if close else ""
        raise NotFound(f"There is no service `{service}`.", hint=f"{hint}Services: {known}.")
    allowed = config.environments_for(service)
    if environment not in allowed:
        listed = ", ".join(f"`{name}`" for name in allowed)
        if environment in config.environments:
            raise NotFound(
                f"`{service}` does not deploy to `{environment}`.", hint=f"It deploys to {listed}."
            )
        raise NotFound(f"There is no environment `{environment}`.", hint=f"Environments: {listed}.")
    return service, environment


def open_freeze(*, config: ShipbotConfig, environment: str, now: datetime) -> Freeze:
    """The freeze window open now, if one is (``ok`` when none is)."""
    for window in config.environments[environment].freeze_windows:
        opened = window.trigger().get_next_fire_time(None, now - window.duration)
        if opened is not None and opened <= now:
            return Freeze(
                ok=False,
                reason=window.reason or None,
                since=opened,
                until=opened + window.duration,
                timezone=window.timezone,
            )
    return Freeze(ok=True)


def is_guarded_environment(*, config: ShipbotConfig, environment: str) -> bool:
    """Incidents block deploys to the last stage of promotion (production)."""
    top = max(env.order for env in config.environments.values())
    return config.environments[environment].order == top


def approvers_for(
    *, config: ShipbotConfig, directory: Directory, environment: str
) -> frozenset[str]:
    approval = config.environments[environment].approval
    return members(config=config, directory=directory, refs=approval.from_groups)


def evaluate(
    *,
    session: Session,
    clock: Clock,
    config: ShipbotConfig,
    directory: Directory,
    user: str,
    service: str,
    environment: str,
    version: str | None = None,
) -> Verdict:
    """Every rule for ``user`` deploying ``service`` (``version``) to ``environment`` now.
    Without a version, the promotion rule is listed but passes (it judges a version)."""
    service, environment = resolve_target(config=config, service=service, environment=environment)
    env = config.environments[environment]
    deployers = tuple(env.deployers)
    checks: list[Check] = [
        Permission(
            ok=is_member(config=config, directory=directory, user=user, refs=deployers),
            deployers=deployers,
        ),
        *_locks(session=session, service=service, environment=environment),
        open_freeze(config=config, environment=environment, now=clock.now()),
    ]
    incident = _incident(session=session, config=config, service=service, environment=environment)
    checks.append(incident)
    if env.requires_success_in:
        checks.append(
            _promotion(
                session=session, service=service, before=env.requires_success_in, version=version
            )
        )
    checks.append(_in_flight(session=session, service=service, environment=environment))
    approvers = approvers_for(config=config, directory=directory, environment=environment)
    checks.append(
        _approvals(config=config, environment=environment, user=user, approvers=approvers)
    )
    break_glass = tuple(env.break_glass.groups)
    return Verdict(
        service=service,
        environment=environment,
        user=user,
        checks=tuple(checks),
        approvals_required=env.approval.required,
        approvers=approvers,
        may_break_glass=bool(break_glass)
        and is_member(config=config, directory=directory, user=user, refs=break_glass),
        break_glass_groups=break_glass,
        is_incident_commander=incident.commander is not None and incident.commander == user,
    )


def _locks(*, session: Session, service: str, environment: str) -> list[Lock]:
    locks = queries.locks_for(session=session, service=service, environment=environment)
    return [
        Lock(
            ok=False,
            service=None if lock.service == "*" else service,
            locked_by=lock.locked_by,
            since=lock.locked_at,
            reason=lock.reason,
        )
        for lock in locks
    ] or [Lock(ok=True)]


def _incident(
    *, session: Session, config: ShipbotConfig, service: str, environment: str
) -> IncidentBlock:
    if not is_guarded_environment(config=config, environment=environment):
        return IncidentBlock(ok=True)
    incident = blocking_incident(session=session, config=config, service=service)
    if incident is None:
        return IncidentBlock(ok=True)
    # A private incident blocks all the same, but names neither its title nor its people.
    return IncidentBlock(
        ok=False,
        incident_id=incident.id,
        severity=incident.severity,
        title=None if incident.private else incident.title,
        commander=None if incident.private else incident.commander,
        since=incident.declared_at,
    )


def _promotion(*, session: Session, service: str, before: str, version: str | None) -> Promotion:
    """Without a version (``explain``), the rule is shown but judges nothing."""
    if version is None:
        return Promotion(ok=True, version="", required_in=before)
    done = queries.has_succeeded(
        session=session, service=service, environment=before, version=version
    )
    return Promotion(ok=done, version=version, required_in=before)


def _in_flight(*, session: Session, service: str, environment: str) -> InFlight:
    running = queries.in_flight(session=session, service=service, environment=environment)
    if running is None:
        return InFlight(ok=True)
    return InFlight(
        ok=False,
        deploy_id=running.id,
        version=running.version,
        requested_by=running.requested_by,
        state=str(running.state),
    )


def _approvals(
    *, config: ShipbotConfig, environment: str, user: str, approvers: frozenset[str]
) -> Approvals:
    approval = config.environments[environment].approval
    eligible = approvers if approval.allow_self_approval else approvers - {user}
    return Approvals(
        ok=len(eligible) >= approval.required,
        required=approval.required,
        from_groups=tuple(approval.from_groups),
        allow_self_approval=approval.allow_self_approval,
        eligible=eligible,
        ttl=approval.ttl if approval.required else None,
    )
