"""The protocol every deploy backend implements, and the values it exchanges.

The deploy flow calls ``start`` exactly once per deploy (it marks the deploy started in
the database first, so a crash can never lead to a second ``start``), stores the
returned ``state`` on the deploy row, and then calls ``poll`` with that state, from any
replica and after any restart, until a terminal status or the backend's timeout.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import httpx

from workflows.clock import Clock, SystemClock


@dataclass(frozen=True)
class DeployTarget:
    """What to deploy: plain values copied from the deploy row."""

    deploy_id: int
    service: str
    environment: str
    version: str
    requested_by: str
    reason: str = ""


@dataclass(frozen=True)
class Started:
    """The backend accepted the deploy. ``state`` must be JSON-serialisable: it is all a
    later ``poll``/``cancel`` (maybe in another process) gets to find the deploy again."""

    state: Mapping[str, Any]
    logs_url: str | None = None


class Status(StrEnum):
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"


@dataclass(frozen=True)
class Progress:
    """One poll's answer."""

    status: Status
    detail: str = ""  # one line for the deploy message ("2/3 tasks running")
    state: Mapping[str, Any] | None = None  # replaces the stored state when not None
    logs_url: str | None = None
    output_tail: str | None = None  # recent output, already redacted
    commit_at: datetime | None = None  # when the deployed change was committed, if known


class BackendError(RuntimeError):
    """The backend refused or failed in a way worth showing to people (message is safe)."""


class TransientBackendError(RuntimeError):
    """Trouble worth retrying (an HTTP 5xx, 408 or 429, a rate limit).

    Deliberately *not* a ``BackendError``: like a timeout or a dropped connection it tells
    the flow to retry with backoff (until the backend's ``timeout``) instead of failing the
    deploy. The message is redacted and safe to log."""


class DeployBackend(Protocol):
    """A deploy system shipbot drives."""

    name: str

    def start(self, target: DeployTarget) -> Started:
        """Begin the deploy. Raise ``BackendError`` if it was refused."""
        ...

    def poll(self, target: DeployTarget, state: Mapping[str, Any]) -> Progress:
        """Where the deploy is now. Transient trouble (a timeout, a 5xx) raises; the flow
        retries with backoff until the backend's ``timeout``."""
        ...

    def cancel(self, target: DeployTarget, state: Mapping[str, Any]) -> bool:
        """Stop the deploy if the system allows it; False when it cannot be stopped."""
        ...


@runtime_checkable
class FindsRuns(Protocol):
    """Optional: a backend that can say whether it started a run for a deploy.

    Asked when a deploy is found in phase ``starting`` after a crash: shipbot marked it
    started, called ``start``, and died before storing the answer. The deploy id is the
    idempotency key the backend filed the run under (a run directory, a workflow input,
    an annotation)."""

    def find_run(self, target: DeployTarget) -> Started | None:
        """The run started for ``target`` (its state, as ``start`` would have returned
        it), or None when the backend is certain none was started. Raise when it cannot
        tell (the caller then asks a person)."""
        ...


@dataclass
class BackendPorts:
    """The outside world a backend may use, injected (tests pass loopback servers).

    ``http`` builds the httpx client a backend uses (its base URL comes from config);
    ``aws_client`` builds a boto3 client for a service name and region (honouring
    ``AWS_ENDPOINT_URL``, so moto works; ``None`` means a plain boto3 client);
    ``state_dir`` is where the command backend keeps each run's output and exit status so
    polling survives a restart; ``extra_env`` is added to the command backend's
    environment; ``clock`` is the time backends record and compare (dispatch times,
    request signatures)."""

    http: Callable[[], httpx.Client] = field(default=lambda: httpx.Client(timeout=10.0))
    aws_client: Callable[[str, str | None], Any] | None = None
    state_dir: Path = field(default_factory=lambda: Path(".shipbot") / "runs")
    extra_env: Mapping[str, str] = field(default_factory=dict)
    clock: Clock = field(default_factory=SystemClock)
