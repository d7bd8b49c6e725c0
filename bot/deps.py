"""What listeners and job handlers are handed: the store, the config, the clock, Slack."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from slack_sdk import WebClient

from bot.metrics import Metrics
from workflows.clock import Clock
from workflows.config import ShipbotConfig
from workflows.deploys.directory import Directory, NoDirectory
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

    def wake_worker(self) -> None:
        """Work was enqueued: wake an idle worker thread instead of waiting for its poll."""
        if self.worker is not None:
            self.worker.notify()
