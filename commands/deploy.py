"""`/deploy`: deploys and approvals. This release answers help only; the deploy flow
(request, approve, run, roll back) arrives with the deploys workflow."""

from __future__ import annotations

from commands.dispatch import CommandSpec, Usage

SPEC = CommandSpec(
    name="/deploy",
    purpose=(
        "Deploy a service from Slack, with approvals, locks and freeze windows from the "
        "config. Deploy requests are not enabled in this release of shipbot yet."
    ),
    usages=(Usage("/deploy help", "this help"),),
    handlers={},
)
