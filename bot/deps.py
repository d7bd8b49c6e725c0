"""What listeners and job handlers are handed: the store, the config, the clock, Slack."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from slack_sdk import WebClient

from bot.metrics import Metrics
from workflows.clock import Clock
from workflows.config import ShipbotConfig
from workflows.deploys.directory import Directory, NoDirectory
from workflows.job_intake import JobIntake
from workflows.store.db import Database

if TYPE_CHECKING:
    from bot.worker import Worker


@dataclass
class Deps:
    database: Database
    clock: Clock
    client: WebClient
    metrics: Metrics
    config: ShipbotConfig | None = None
    worker: Worker | None = None
    directory: Directory = field(default_factory=NoDirectory)
    # SHIPBOT_ACK_MODE=deferred: writes the domains marked deferrable run after the ack.
    defer_writes: bool = False
    # Where deferred requests are stored: one per process, so a burst shares commits.
    job_intake: JobIntake = field(init=False)

    def __post_init__(self) -> None:
        self.job_intake = JobIntake(database=self.database, clock=self.clock)

    def wake_worker(self) -> None:
        """Work was enqueued: wake an idle worker thread instead of waiting for its poll."""
        if self.worker is not None:
            self.worker.notify()
