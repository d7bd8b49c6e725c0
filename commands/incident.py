"""`/incident`: incidents. This release answers help only; declaring and running incidents
arrives with the incidents workflow."""

from __future__ import annotations

from commands.dispatch import CommandSpec, Usage

SPEC = CommandSpec(
    name="/incident",
    purpose=(
        "Declare and run incidents: channel, card, roles, timeline. Incident commands are "
        "not enabled in this release of shipbot yet."
    ),
    usages=(Usage("/incident help", "this help"),),
    handlers={},
)
