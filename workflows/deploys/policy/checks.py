"""The answer of each deploy rule, as typed data: which rule, who, since and until when,
and whether break-glass lifts it. Never text: ``commands/deploys/policy_text.py``
renders it for Slack, ``shipbot explain`` for a terminal."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import ClassVar


class Rule(StrEnum):
    PERMISSION = "permission"
    LOCK = "lock"
    FREEZE = "freeze"
    INCIDENT = "incident"
    PROMOTION = "promotion"
    IN_FLIGHT = "in_flight"
    APPROVALS = "approvals"


# Break-glass lifts freeze windows and blocking incidents; never permissions, locks,
# promotion order, a deploy already in flight or an approval quorum.
BREAK_GLASS_LIFTS = frozenset({Rule.FREEZE, Rule.INCIDENT})


@dataclass(frozen=True)
class Check:
    """One rule's answer; ``ok`` False blocks the request."""

    ok: bool
    rule: ClassVar[Rule]

    @property
    def lifted_by_break_glass(self) -> bool:
        return self.rule in BREAK_GLASS_LIFTS


@dataclass(frozen=True)
class Permission(Check):
    """Whether the user is among the environment's deployers."""

    rule: ClassVar[Rule] = Rule.PERMISSION
    deployers: tuple[str, ...] = ()  # group names and user ids; empty means anyone


@dataclass(frozen=True)
class Lock(Check):
    """A lock on the service in the environment (``service`` None: the whole environment),
    or ``ok`` with no lock."""

    rule: ClassVar[Rule] = Rule.LOCK
    service: str | None = None
    locked_by: str | None = None
    since: datetime | None = None
    reason: str | None = None


@dataclass(frozen=True)
class Freeze(Check):
    """A freeze window open now, or ``ok`` with none."""

    rule: ClassVar[Rule] = Rule.FREEZE
    reason: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    timezone: str | None = None


@dataclass(frozen=True)
class IncidentBlock(Check):
    """An open incident of a blocking severity on the service (production only)."""

    rule: ClassVar[Rule] = Rule.INCIDENT
    incident_id: int | None = None
    severity: str | None = None
    title: str | None = None
    commander: str | None = None
    since: datetime | None = None


@dataclass(frozen=True)
class Promotion(Check):
    """Whether the version succeeded in the environment before this one."""

    rule: ClassVar[Rule] = Rule.PROMOTION
    version: str = ""
    required_in: str = ""


@dataclass(frozen=True)
class InFlight(Check):
    """Another deploy of the service to the environment not finished yet."""

    rule: ClassVar[Rule] = Rule.IN_FLIGHT
    deploy_id: int | None = None
    version: str | None = None
    requested_by: str | None = None
    state: str | None = None


@dataclass(frozen=True)
class Approvals(Check):
    """What approval a request needs, and whether enough people could give it: ``ok``
    False when fewer than ``required`` approvers remain once the requester is excluded."""

    rule: ClassVar[Rule] = Rule.APPROVALS
    required: int = 0
    from_groups: tuple[str, ...] = ()
    allow_self_approval: bool = False
    eligible: frozenset[str] = field(default_factory=frozenset)  # who could approve it
    ttl: timedelta | None = None


@dataclass(frozen=True)
class Verdict:
    """Every rule for one user deploying one service to one environment, now."""

    service: str
    environment: str
    user: str
    checks: tuple[Check, ...]
    approvals_required: int
    approvers: frozenset[str] = field(default_factory=frozenset)
    may_break_glass: bool = False
    break_glass_groups: tuple[str, ...] = ()
    is_incident_commander: bool = False

    @property
    def blockers(self) -> list[Check]:
        return [check for check in self.checks if not check.ok]

    @property
    def allowed(self) -> bool:
        return not self.blockers

    def user_may_lift(self, check: Check) -> bool:
        """Whether a break-glass request from this user lifts ``check``: members of the
        break-glass groups lift every check break-glass lifts; a blocking incident's
        commander lifts only that incident's block."""
        if not check.lifted_by_break_glass:
            return False
        return self.may_break_glass or (
            self.is_incident_commander and isinstance(check, IncidentBlock)
        )

    @property
    def allowed_with_break_glass(self) -> bool:
        """Whether a break-glass request (with a reason) from this user would go through."""
        return all(self.user_may_lift(check) for check in self.blockers)
