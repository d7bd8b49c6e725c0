"""Fixtures of the incident flow's workflow tests: the example config and a declared incident."""

from __future__ import annotations

from pathlib import Path

import pytest

from workflows.clock import FakeClock
from workflows.config import load_config
from workflows.config.models import ShipbotConfig
from workflows.deploys.directory import NoDirectory
from workflows.incidents.declare import declare
from workflows.incidents.models import Incident
from workflows.store.db import Database

EXAMPLE_CONFIG = Path(__file__).resolve().parents[3] / "examples" / "shipbot.yaml"


@pytest.fixture
def config() -> ShipbotConfig:
    return load_config(EXAMPLE_CONFIG)


def declare_one(
    database: Database,
    clock: FakeClock,
    config: ShipbotConfig,
    *,
    severity: str = "SEV2",
    title: str = "Checkout errors",
    service: str | None = "web",
    actor: str = "U0ALICE",
    key: str = "",
) -> Incident:
    with database.transaction() as session:
        return declare(
            session=session,
            directory=NoDirectory(),
            clock=clock,
            config=config,
            actor=actor,
            severity=severity,
            title=title,
            service=service,
            delivery_key=key,
            channel="C0DEPLOYS",
        )
