"""Whether a person may deploy a service to an environment now, and why (``explain``).

Every rule from the config is one ``Check``; the request flow refuses on the first
failed check and ``/deploy explain`` shows them all. Break-glass lifts only the checks
marked ``overridable`` (freeze windows and blocking incidents), never permissions, locks,
promotion order or a deploy already in flight.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session

from workflows.clock import Clock
from workflows.config import ShipbotConfig
from workflows.config.types import format_duration
from workflows.deploys import queries
from workflows.deploys.directory import Directory, describe, is_member, members
from workflows.errors import NotFound
from workflows.incidents.queries import blocking_incident


@dataclass(frozen=True)
class Check:
    name: str  # permission, lock, freeze, incident, promotion, in_flight, approvals
    ok: bool
    detail: str
    overridable: bool = False


@dataclass(frozen=True)
class Verdict:
    service: str
    environment: str
    user: str
    checks: tuple[Check, ...]
    approvals_required: int
    approvers: frozenset[str] = field(default_factory=frozenset)
    may_break_glass: bool = False
    is_incident_commander: bool = False

    @property
    def blockers(self) -> list[Check]:
        return [check for check in self.checks if not check.ok]

    @property
    def allowed(self) -> bool:
        return not self.blockers

    @property
    def allowed_with_break_glass(self) -> bool:
        """Whether a break-glass request (with a reason) from this user would go through.

        The commander of a blocking incident may lift that incident's block, nothing else."""
        if self.may_break_glass:
            return all(check.overridable for check in self.blockers)
        return self.is_incident_commander and all(c.name == "incident" for c in self.blockers)


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


def open_freeze(*, config: ShipbotConfig, environment: str, now: datetime) -> str | None:
    """A description of the freeze window open now, if one is."""
    for window in config.environments[environment].freeze_windows:
        opened = window.trigger().get_next_fire_time(None, now - window.duration)
        if opened is not None and opened <= now:
            until = opened + window.duration
            why = f" ({window.reason})" if window.reason else ""
            return (
                f"freeze window{why} since {opened:%a %H:%M %Z} until {until:%a %H:%M %Z} "
                f"({window.timezone})"
            )
    return None


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
    """Every rule for ``user`` deploying ``service`` (``version``) to ``environment`` now."""
    service, environment = resolve_target(config=config, service=service, environment=environment)
    env = config.environments[environment]
    now = clock.now()
    checks: list[Check] = []

    deployers = env.deployers
    may_deploy = is_member(config=config, directory=directory, user=user, refs=deployers)
    checks.append(
        Check(
            "permission",
            may_deploy,
            f"you may deploy to {environment}"
            if may_deploy
            else f"only {describe(deployers)} may deploy to {environment}",
        )
    )

    locks = queries.locks_for(session=session, service=service, environment=environment)
    for lock in locks:
        scope = environment if lock.service == "*" else f"{service} in {environment}"
        checks.append(
            Check(
                "lock",
                False,
                f"{scope} is locked by <@{lock.locked_by}> since {lock.locked_at:%Y-%m-%d %H:%M} "
                f"UTC: {lock.reason}",
            )
        )
    if not locks:
        checks.append(Check("lock", True, "no lock"))

    freeze = open_freeze(config=config, environment=environment, now=now)
    checks.append(
        Check("freeze", freeze is None, freeze or "no freeze window open", overridable=True)
    )

    incident = (
        blocking_incident(session=session, config=config, service=service)
        if is_guarded_environment(config=config, environment=environment)
        else None
    )
    commander = incident.commander if incident else None
    checks.append(
        Check(
            "incident",
            incident is None,
            "no open incident blocks it"
            if incident is None
            else f"incident #{incident.id} ({incident.severity}, {incident.title}) is open on "
            f"{service}; only its commander"
            + (f" <@{commander}>" if commander else "")
            + " or break-glass may deploy, with a reason",
            overridable=True,
        )
    )

    if env.requires_success_in and version is not None:
        before = env.requires_success_in
        done = queries.has_succeeded(
            session=session, service=service, environment=before, version=version
        )
        checks.append(
            Check(
                "promotion",
                done,
                f"{version} succeeded in {before}"
                if done
                else f"{version} has not succeeded in {before} yet (promotion order)",
            )
        )

    running = queries.in_flight(session=session, service=service, environment=environment)
    checks.append(
        Check(
            "in_flight",
            running is None,
            "nothing else in flight"
            if running is None
            else f"deploy #{running.id} ({running.version}, <@{running.requested_by}>) is "
            f"{running.state.replace('_', ' ')}; one deploy at a time per service and environment",
        )
    )

    approval = env.approval
    approvers = approvers_for(config=config, directory=directory, environment=environment)
    if approval.required:
        self_note = "" if approval.allow_self_approval else "; you cannot approve your own"
        detail = (
            f"needs {approval.required} approval(s) from {describe(approval.from_groups)}"
            f"{self_note}; requests expire after {format_duration(approval.ttl)}"
        )
    else:
        detail = "no approval needed"
    checks.append(Check("approvals", True, detail))

    break_glass = (
        is_member(config=config, directory=directory, user=user, refs=env.break_glass.groups)
        if env.break_glass.groups
        else False
    )
    return Verdict(
        service=service,
        environment=environment,
        user=user,
        checks=tuple(checks),
        approvals_required=approval.required,
        approvers=approvers,
        may_break_glass=break_glass,
        is_incident_commander=commander is not None and commander == user,
    )
