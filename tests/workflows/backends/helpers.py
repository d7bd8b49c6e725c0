"""Small helpers shared by the backend tests."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from workflows.backends import DeployBackend, DeployTarget, Progress, Status


def make_target(**overrides: Any) -> DeployTarget:
    values: dict[str, Any] = {
        "deploy_id": 7,
        "service": "web",
        "environment": "production",
        "version": "1.2.3",
        "requested_by": "U0ALICE",
        "reason": "ship it",
    }
    values.update(overrides)
    return DeployTarget(**values)


def stored(state: Mapping[str, Any]) -> dict[str, Any]:
    """``state`` as the deploy flow stores it: through JSON (it must survive that)."""
    return json.loads(json.dumps(state))


def poll_until_done(
    backend: DeployBackend,
    target: DeployTarget,
    state: Mapping[str, Any],
    *,
    timeout: float = 20.0,
    interval: float = 0.05,
) -> Progress:
    """Poll until a terminal status; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        progress = backend.poll(target, state)
        if progress.state is not None:
            state = progress.state
        if progress.status is not Status.running:
            return progress
        if time.monotonic() > deadline:
            raise AssertionError(f"still running after {timeout}s: {progress}")
        time.sleep(interval)
