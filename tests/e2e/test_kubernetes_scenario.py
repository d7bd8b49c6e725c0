"""Issue 12's Kubernetes lines, through signed HTTP into the app on both databases, with
the kubernetes backend talking (lightkube, real HTTP) to the fake Kubernetes API."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from tests.e2e.conftest import RunningBot, wait_until
from tests.e2e.custom_bot import config_with, kube_deploy, running
from tests.e2e.deploy_helpers import click, message_with
from tests.fakes.kube_api import FakeKubeApi
from tests.fakes.kube_fixtures import write_kubeconfig
from tests.fakes.kube_objects import add_workload, image_of
from workflows.deploys.models import Deploy
from workflows.store.db import Database

DEPLOYS = "C0DEPLOYS"
IMAGE = "registry.example/web"


@pytest.fixture
def kube() -> Iterator[FakeKubeApi]:
    server = FakeKubeApi(token="kube-e2e-token", ticks_per_read=3).start()
    add_workload(server, "Deployment", replicas=2, image=f"{IMAGE}:1.0.0", progress_deadline=60)
    yield server
    server.stop()


def _services(kubeconfig: Path) -> dict[str, Any]:
    return {
        "shop": {
            "deploy": kube_deploy(
                kubeconfig,
                timeout="5m",
                logs_url="https://logs.example/{namespace}/{name}?v={version}",
            )
        }
    }


def _deploy(bot: RunningBot, version: str) -> Deploy:
    answer = bot.command(f"shop {version} to staging", command="/deploy", user="U0ALICE")
    assert answer.status_code == 200 and "is starting" in answer.json()["text"], answer.text
    with bot.runtime.database.read_session() as session:
        return session.exec(select(Deploy).where(col(Deploy.version) == version)).one()


def _row(database: Database, deploy_id: int) -> Deploy:
    with database.read_session() as session:
        row = session.get(Deploy, deploy_id)
        assert row is not None
        return row


def _finished(slack: Any, deploy_id: int, label: str) -> dict[str, Any]:
    def shown() -> dict[str, Any] | None:
        message = message_with(slack, DEPLOYS, f"Deploy #{deploy_id}:") or message_with(
            slack, DEPLOYS, f"#{deploy_id}:"
        )
        return message if message and message["text"].endswith(label) else None

    return slack.wait_for(shown, timeout=60)


def _patches_setting(kube: FakeKubeApi, version: str) -> int:
    return sum(
        1
        for call in kube.patches("deployments")
        if isinstance(call.body, dict) and f"{IMAGE}:{version}" in str(call.body.get("spec", {}))
    )


def test_kubernetes_deploys_stall_restart_and_rollback(
    database: Database, slack: Any, kube: FakeKubeApi, tmp_path: Path
) -> None:
    _, config = config_with(_services(write_kubeconfig(kube, tmp_path)), tmp_path)
    state_dir = tmp_path / "state"
    with running(database, slack, config, state_dir) as bot:
        # 1. A deploy runs to success: one patch, the image set, the card says so.
        first = _deploy(bot, "1.1.0")
        card = _finished(slack, first.id or 0, "succeeded")
        assert image_of(kube, "deployments") == f"{IMAGE}:1.1.0"
        assert _patches_setting(kube, "1.1.0") == 1
        assert "https://logs.example/shop/web?v=1.1.0" in str(card["blocks"])

        # 2. A stalled rollout fails with the controller's reason.
        kube.controllers.stall_images.add(f"{IMAGE}:1.2.0")
        stalled = _deploy(bot, "1.2.0")
        _finished(slack, stalled.id or 0, "failed")
        error = _row(database, stalled.id or 0).error or ""
        assert error.startswith('ProgressDeadlineExceeded: ReplicaSet "web-')
        assert error.endswith("has timed out progressing.")

        # 3. Mid-rollout, shipbot goes away (the controller is slow meanwhile).
        kube.controllers.stall_images.clear()
        kube.controllers_down = True
        third = _deploy(bot, "1.3.0")
        wait_until(
            lambda: _row(database, third.id or 0).backend_state.get("phase") == "polling",
            timeout=30,
            what="the deploy to be polling",
        )
    assert _row(database, third.id or 0).state == "running"
    kube.controllers_down = False
    with running(database, slack, config, state_dir, seed=False) as bot:
        _finished(slack, third.id or 0, "succeeded")
        assert _patches_setting(kube, "1.3.0") == 1  # resumed watching, never patched again
        assert image_of(kube, "deployments") == f"{IMAGE}:1.3.0"

        # 4. Roll back (the button on the succeeded card): the previous image returns.
        card = _finished(slack, third.id or 0, "succeeded")
        click(bot, slack, user="U0BOB", message=card, channel=DEPLOYS, action_id="deploy.rollback")
        wait_until(
            lambda: image_of(kube, "deployments") == f"{IMAGE}:1.1.0", timeout=30, what="rollback"
        )
        with database.read_session() as session:
            rollback = session.exec(select(Deploy).where(col(Deploy.kind) == "rollback")).one()
        _finished(slack, rollback.id or 0, "succeeded")
        assert (rollback.version, rollback.rollback_of) == (
            "1.1.0",
            None,
        ) or rollback.version == "1.1.0"
        assert _row(database, third.id or 0).state == "rolled_back"
