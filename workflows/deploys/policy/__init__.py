"""Deploy policy: every rule of the config, evaluated into typed checks (``checks``)
by ``evaluate``. Break-glass lifts freeze windows and blocking incidents only."""

from workflows.deploys.policy.checks import (
    BREAK_GLASS_LIFTS,
    Approvals,
    Check,
    Freeze,
    IncidentBlock,
    InFlight,
    Lock,
    Permission,
    Promotion,
    Rule,
    Verdict,
)
from workflows.deploys.policy.evaluate import (
    approvers_for,
    evaluate,
    is_guarded_environment,
    open_freeze,
    resolve_target,
)
from workflows.deploys.policy.lint import UnreachableQuorum, unreachable_quorums

__all__ = [
    "BREAK_GLASS_LIFTS",
    "Approvals",
    "Check",
    "Freeze",
    "InFlight",
    "IncidentBlock",
    "Lock",
    "Permission",
    "Promotion",
    "Rule",
    "UnreachableQuorum",
    "Verdict",
    "approvers_for",
    "evaluate",
    "is_guarded_environment",
    "open_freeze",
    "resolve_target",
    "unreachable_quorums",
]
