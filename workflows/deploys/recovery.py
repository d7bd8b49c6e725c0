"""After a crash between "started" and the backend's answer: ask the backend (issue 11).

A deploy found in phase ``starting`` was marked started and handed to ``start``; the
process died before storing the answer. Starting it again could deploy twice, so the
backend is asked what it started (``FindsRuns``) and the deploy goes on from that.
"""

from __future__ import annotations

import logging

from workflows.backends.base import DeployBackend, DeployTarget, FindsRuns, Started

log = logging.getLogger("shipbot.deploys")

CANNOT_TELL = (
    "shipbot stopped while the backend was being asked to start this deploy, so it was "
    "not started again, and the backend cannot tell whether it ran. Check the backend "
    "before retrying."
)
NOTHING_RAN = "shipbot stopped before the backend started this deploy; nothing ran. Ask again."


def find_started_run(backend: DeployBackend, target: DeployTarget) -> Started | str:
    """The run to poll, or why the deploy fails (nothing ran, or nobody can tell)."""
    try:
        if not isinstance(backend, FindsRuns):
            return CANNOT_TELL
        found = backend.find_run(target)
    except Exception as error:  # whatever the reason, the backend cannot tell
        log.warning("deploy %s: could not look up its run: %s", target.deploy_id, error)
        return CANNOT_TELL
    return NOTHING_RAN if found is None else found
