"""GitHub Deployments through signed HTTP on both databases: a kubernetes deploy of a
service with ``source.deployments`` shows up on GitHub with queued, in_progress and
success; rolling it back marks it inactive and the rollback succeeds."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import wait_until
from tests.e2e.custom_bot import config_with, kube_deploy, running
from tests.e2e.deploy_helpers import click, message_with
from tests.fakes.github_api import FakeGithub
from tests.fakes.kube_api import FakeKubeApi
from tests.fakes.kube_fixtures import write_kubeconfig
from tests.fakes.kube_objects import add_workload
from workflows.store.db import Database

DEPLOYS = "C0DEPLOYS"
TOKEN = "ghp_" + "e2" * 18


@pytest.fixture
def kube() -> Iterator[FakeKubeApi]:
    server = FakeKubeApi(ticks_per_read=4).start()
    add_workload(server, "Deployment", replicas=1, image="registry.example/web:0.9.0")
    yield server
    server.stop()


@pytest.fixture
def github() -> Iterator[FakeGithub]:
    fake = FakeGithub(token=TOKEN).start()
    fake.tags["v1.0.0"] = fake.add_commit(
        "One", login="alice", date="2026-01-01T10:00:00Z", files=["a"]
    )
    fake.tags["v1.1.0"] = fake.add_commit(
        "Two", login="bob", date="2026-01-02T10:00:00Z", files=["b"]
    )
    yield fake
    fake.stop()


def _states(github: FakeGithub, deployment_id: int) -> list[str]:
    return [s["state"] for s in github.statuses.get(deployment_id, [])]


def test_deploys_show_on_github_with_their_statuses(
    database: Database, slack: Any, kube: FakeKubeApi, github: FakeGithub, tmp_path: Path
) -> None:
    service = {
        "deploy": kube_deploy(write_kubeconfig(kube, tmp_path)),
        "source": {
            "github": "acme/web",
            "api_url": github.url,
            "token": TOKEN,
            "deployments": True,
        },
    }
    _, config = config_with({"shop": service}, tmp_path)
    with running(database, slack, config, tmp_path / "state") as bot:
        for version in ("1.0.0", "1.1.0"):
            answer = bot.command(f"shop {version} to staging", command="/deploy", user="U0ALICE")
            assert "is starting" in answer.json()["text"], answer.text
            number = len(github.deployments) + 1
            wait_until(
                lambda n=number: _states(github, n)[-1:] == ["success"],
                timeout=40,
                what=f"deployment {number} success",
            )
        assert [d["ref"] for d in github.deployments] == ["v1.0.0", "v1.1.0"]
        assert _states(github, 1) == ["queued", "in_progress", "success"]
        assert github.deployments[1]["payload"] == {"shipbot_deploy_id": 2}

        card = slack.wait_for(
            lambda: message_with(slack, DEPLOYS, "Deploy #2: shop 1.1.0 to staging: succeeded"),
            timeout=20,
        )
        click(bot, slack, user="U0BOB", message=card, channel=DEPLOYS, action_id="deploy.rollback")
        wait_until(lambda: _states(github, 2)[-1:] == ["inactive"], timeout=40, what="inactive")
        wait_until(lambda: _states(github, 3)[-1:] == ["success"], timeout=40, what="rollback")
        assert github.deployments[2]["ref"] == "v1.0.0"
