"""The extra seam of backends that deliver progressively (a canary paused between steps)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

from workflows.backends.base import DeployTarget


@runtime_checkable
class PromotableBackend(Protocol):
    name: str

    def promote(self, target: DeployTarget, state: Mapping[str, Any], *, at_step: int) -> object:
        """Let a canary paused at ``at_step`` continue; ``BackendError`` if it is not
        paused there any more (so a repeated call promotes nothing)."""
        ...
