"""A config like the example's, tweakable per test, and the ports every flow takes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from workflows.clock import FakeClock
from workflows.config import ShipbotConfig
from workflows.config.loader import parse_config
from workflows.deploys.directory import NoDirectory
from workflows.deploys.models import Deploy
from workflows.deploys.requests import DeployAsk, Ports, request_deploy
from workflows.store.db import Database

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "shipbot.yaml"


def example_data() -> dict[str, Any]:
    data = yaml.safe_load(EXAMPLE.read_text())
    assert isinstance(data, dict)
    return data


def config_from(data: dict[str, Any]) -> ShipbotConfig:
    return parse_config(yaml.safe_dump(data), environ={}, config_dir=EXAMPLE.parent)


class StaticDirectory:
    """User groups with fixed members, counting how often Slack would be asked."""

    def __init__(self, groups: dict[str, set[str]]) -> None:
        self.groups = groups
        self.asked: list[str] = []

    def usergroup_members(self, usergroup_id: str) -> frozenset[str]:
        self.asked.append(usergroup_id)
        return frozenset(self.groups.get(usergroup_id, set()))


@pytest.fixture
def ports(clock: FakeClock) -> Ports:
    return Ports(clock=clock, config=config_from(example_data()), directory=NoDirectory())


def ask(
    database: Database, ports: Ports, text: str, *, user: str = "U0ALICE", **extra: Any
) -> Deploy:
    """``text`` like the command: "web 1.2.3 production [reason]"."""
    service, version, environment, *reason = text.split()
    with database.transaction() as session:
        deploy = request_deploy(
            session=session,
            ports=ports,
            ask=DeployAsk(
                service=service,
                environment=environment,
                version=version,
                user=user,
                reason=" ".join(reason),
                channel="C0DEPLOYS",
                **extra,
            ),
        )
        session.expunge(deploy)
    return deploy
