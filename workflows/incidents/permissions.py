"""Who may declare an incident and who may change one (docs/permissions.md, "Incidents").

- Declaring: ``incidents.declarers`` (empty = anyone). shipbot itself declares from alerts
  (``alerts.auto_declare``) without this check: that is configured, not asked for.
- Status updates, severity changes and roles: the incident's commander, the responders of
  its current severity (``incidents.severities.SEVn.responders``) and the incident managers
  (``incidents.managers``); status updates also the comms lead, whose job they are.
- Resolving, and lowering the severity from a deploy-blocking one
  (``incidents.block_deploys_severities``) to one that does not block: only the commander
  and the managers, since either lifts the deploy block.
- No commander yet (only an incident shipbot declared from an alert has none: a person who
  declares is its commander): the declarer stands in when a person declared; otherwise the
  responders of its severity do, or, when it has none, whoever may declare. Taking command
  is an ordinary role change, open to the responders.
- Notes and snoozing a reminder stay open to anyone in the channel: neither changes what
  the incident blocks, and both are on the timeline and in the audit log.

Every rule raises ``Denied`` naming who may act instead.
"""

from __future__ import annotations

from typing import Literal

from workflows.config.models import SEVERITIES, ShipbotConfig
from workflows.config.types import is_user_id
from workflows.deploys.directory import Directory
from workflows.incidents.models import Incident
from workflows.permissions import Denied, Who, admitted

Change = Literal["status", "severity", "assign", "resolved", "reopen"]
_VERB: dict[Change, str] = {
    "status": "post a status update on",
    "severity": "change the severity of",
    "assign": "change the roles of",
    "resolved": "resolve",
    "reopen": "reopen",
}


def managers(config: ShipbotConfig) -> Who:
    return Who("incident managers", tuple(config.incidents.managers), key="incidents.managers")


def responders(config: ShipbotConfig, severity: str) -> Who:
    refs = config.incidents.severity(severity).responders if severity in SEVERITIES else []
    return Who(
        f"{severity} responders", tuple(refs), key=f"incidents.severities.{severity}.responders"
    )


def declarers(config: ShipbotConfig) -> Who:
    refs = tuple(config.incidents.declarers)
    return Who("whoever may declare incidents", refs, key="incidents.declarers", anyone=not refs)


def commander(config: ShipbotConfig, incident: Incident) -> Who:
    """The commander, or who stands in for one (see the module docstring)."""
    if incident.commander:
        return Who("the commander", (incident.commander,))
    if is_user_id(incident.declared_by):
        return Who("the declarer (no commander yet)", (incident.declared_by,))
    stand_in = responders(config, incident.severity)
    if stand_in.refs:
        return Who(f"{stand_in.role} (no commander yet)", stand_in.refs, key=stand_in.key)
    fallback = declarers(config)
    return Who(f"{fallback.role} (no commander yet)", fallback.refs, fallback.key, fallback.anyone)


def lifts_block(config: ShipbotConfig, *, before: str, after: str) -> bool:
    """Whether moving from severity ``before`` to ``after`` ends a deploy block."""
    blocking = set(config.incidents.block_deploys_severities)
    return before in blocking and after not in blocking


def allowed_to(
    config: ShipbotConfig, incident: Incident, change: Change, *, new_severity: str | None = None
) -> tuple[Who, ...]:
    """Who may make ``change`` to ``incident`` (``new_severity`` for a severity change)."""
    lifting = change == "resolved" or (
        change == "severity"
        and new_severity is not None
        and lifts_block(config, before=incident.severity, after=new_severity)
    )
    if lifting:
        return (commander(config, incident), managers(config))
    allowed = [commander(config, incident), responders(config, incident.severity)]
    if change == "status" and incident.comms:
        allowed.append(Who("the comms lead", (incident.comms,)))
    return (*allowed, managers(config))


def check_change(
    *,
    config: ShipbotConfig,
    directory: Directory,
    incident: Incident,
    actor: str,
    change: Change,
    new_severity: str | None = None,
) -> None:
    """Raise ``Denied`` unless ``actor`` may make ``change`` to ``incident``."""
    allowed = allowed_to(config, incident, change, new_severity=new_severity)
    if admitted(config=config, directory=directory, user=actor, allowed=allowed):
        return
    params: dict[str, str] = {"severity": incident.severity}
    message = f"You may not {_VERB[change]} incident #{incident.id}"
    if new_severity is not None:
        params["to"] = new_severity
        message += f" ({incident.severity} → {new_severity})"
    after = "resolved" if change == "resolved" else new_severity
    if after is not None and lifts_block(config, before=incident.severity, after=after):
        message += ": that lifts its deploy block"
    raise Denied(
        message + ".",
        actor=actor,
        action=f"incident.{change}",
        target=f"incident:{incident.id}",
        allowed=allowed,
        params=params,
    )


def check_declare(*, config: ShipbotConfig, directory: Directory, actor: str) -> None:
    """Raise ``Denied`` unless ``actor`` may declare incidents."""
    allowed = (declarers(config),)
    if admitted(config=config, directory=directory, user=actor, allowed=allowed):
        return
    raise Denied(
        "You may not declare incidents.",
        actor=actor,
        action="incident.declare",
        target="incident:new",
        allowed=allowed,
    )
