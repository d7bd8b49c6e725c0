"""Approval policies that can never be satisfied, found from the config alone (for
``shipbot check-config``): a quorum larger than the approvers left once the requester
is excluded. Slack user groups are only known at run time, so a policy that names one is
not judged here."""

from __future__ import annotations

from dataclasses import dataclass

from workflows.config import ShipbotConfig
from workflows.config.models import Principals


@dataclass(frozen=True)
class UnreachableQuorum:
    """``required`` approvals, but a request from ``requester`` has only ``eligible``
    approvers (``requester`` None: nobody's request can reach it)."""

    path: str
    required: int
    approvers: frozenset[str]
    requester: str | None
    eligible: int


def unreachable_quorums(config: ShipbotConfig) -> list[UnreachableQuorum]:
    """One warning per environment whose approval quorum some allowed request can't reach."""
    found: list[UnreachableQuorum] = []
    for name, env in config.environments.items():
        approval = env.approval
        approvers = config.principals(approval.from_groups)
        if not approval.required or approvers.usergroups:
            continue
        path = f"environments.{name}.approval"
        warning = _worst_requester(
            path=path,
            required=approval.required,
            approvers=approvers.users,
            deployers=config.principals(env.deployers),
            self_allowed=approval.allow_self_approval,
        )
        if warning is not None:
            found.append(warning)
    return found


def _worst_requester(
    *,
    path: str,
    required: int,
    approvers: frozenset[str],
    deployers: Principals,
    self_allowed: bool,
) -> UnreachableQuorum | None:
    if len(approvers) < required:
        return UnreachableQuorum(path, required, approvers, None, len(approvers))
    if self_allowed:
        return None
    # An approver who asks loses one vote. Anyone may ask when no deployers are named, and
    # a Slack user group among the deployers may hold any approver: assume it does.
    may_ask = deployers.anyone or bool(deployers.usergroups)
    requesters = approvers if may_ask else approvers & deployers.users
    if not requesters or len(approvers) - 1 >= required:
        return None
    return UnreachableQuorum(path, required, approvers, min(requesters), len(approvers) - 1)
