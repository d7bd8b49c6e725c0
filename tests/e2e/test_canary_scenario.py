"""Issue 12's Argo Rollouts line through signed HTTP on both databases: a canary promoted
step by step by clicks (the promotion policy asking for sre past 50%), the card showing
each step, a double click promoting once, and Abort rolling back."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from tests.e2e.conftest import RunningBot, wait_until
from tests.e2e.custom_bot import config_with, running
from tests.e2e.deploy_helpers import buttons, click, ephemeral_texts, message_with
from tests.fakes.kube_api import FakeKubeApi
from tests.fakes.kube_fixtures import write_kubeconfig
from tests.fakes.kube_objects import add_workload, get, image_of
from workflows.deploys.models import Deploy, DeployPromotion
from workflows.store.db import Database
from workflows.store.models import AuditEntry

DEPLOYS = "C0DEPLOYS"
IMAGE = "registry.example/web"
STEPS: list[dict[str, Any]] = [
    {"setWeight": 25},
    {"pause": {}},
    {"setWeight": 50},
    {"pause": {}},
    {"setWeight": 75},
    {"pause": {}},
]


@pytest.fixture
def kube() -> Iterator[FakeKubeApi]:
    server = FakeKubeApi(ticks_per_read=1).start()
    add_workload(server, "Rollout", replicas=2, image=f"{IMAGE}:1.0.0", steps=STEPS)
    yield server
    server.stop()


def _config(kube: FakeKubeApi, tmp_path: Path) -> Any:
    service = {
        "deploy": {
            "backend": "argo_rollouts",
            "kubeconfig": str(write_kubeconfig(kube, tmp_path)),
            "namespace": "shop",
            "name": "web",
            "container": "app",
            "poll_interval": "1s",
            "promotion": {"staging": [{"above_weight": 50, "required": 1, "from_groups": ["sre"]}]},
        }
    }
    return config_with({"canary": service}, tmp_path)[1]


def _card_at(slack: Any, deploy_id: int, fragment: str) -> dict[str, Any]:
    def shown() -> dict[str, Any] | None:
        message = message_with(slack, DEPLOYS, f"Deploy #{deploy_id}:")
        return message if message and fragment in str(message["blocks"]) else None

    # Each step is a promote job, a poll and a render: generous on a busy 2-core machine.
    return slack.wait_for(shown, timeout=90)


def _promotes(kube: FakeKubeApi) -> int:
    return sum(
        1
        for c in kube.patches("rollouts")
        if c.body == {"metadata": c.body.get("metadata"), "status": {"pauseConditions": None}}
    )


def _start(bot: RunningBot, version: str) -> int:
    answer = bot.command(f"canary {version} to staging", command="/deploy", user="U0ALICE")
    assert "is starting" in answer.json()["text"], answer.text
    with bot.runtime.database.read_session() as session:
        return session.exec(select(Deploy).where(col(Deploy.version) == version)).one().id or 0


def test_canary_promoted_click_by_click_and_aborted(
    database: Database, slack: Any, kube: FakeKubeApi, tmp_path: Path
) -> None:
    with running(database, slack, _config(kube, tmp_path), tmp_path / "state") as bot:
        deploy_id = _start(bot, "2.0.0")
        # Step 1 of 6, 25%: the requester may promote to 50% (no rule crosses 50).
        card = _card_at(slack, deploy_id, "canary step 1 of 6 · weight 25% · paused")
        first_card = copy.deepcopy(card)  # as it was shown then
        assert [b["text"]["text"] for b in buttons(card).values()] == ["Promote to 50%", "Abort"]
        click(bot, slack, user="U0ALICE", message=card, channel=DEPLOYS, action_id="deploy.promote")
        # A click on the step-1 card once the canary moved on promotes nothing.
        _card_at(slack, deploy_id, "canary step 3 of 6")
        click(
            bot,
            slack,
            user="U0BOB",
            message=first_card,
            channel=DEPLOYS,
            action_id="deploy.promote",
            action_ts="1700000050.000001",
        )
        assert any("This button was for step 1" in t for t in ephemeral_texts(slack, "U0BOB"))
        # Step 3 of 6, 50%: promoting to 75% needs sre; alice is refused, bob promotes.
        card = _card_at(slack, deploy_id, "canary step 3 of 6 · weight 50% · paused")
        click(bot, slack, user="U0ALICE", message=card, channel=DEPLOYS, action_id="deploy.promote")
        assert any(
            "needs someone other than the requester" in t for t in ephemeral_texts(slack, "U0ALICE")
        )
        assert _promotes(kube) == 1
        click(bot, slack, user="U0BOB", message=card, channel=DEPLOYS, action_id="deploy.promote")
        # Step 5 of 6, 75%: bob double-clicks (two different clicks): it promotes once.
        card = _card_at(slack, deploy_id, "canary step 5 of 6 · weight 75% · paused")
        for action_ts in ("1700000100.000001", "1700000100.000002"):
            click(
                bot,
                slack,
                user="U0BOB",
                message=card,
                channel=DEPLOYS,
                action_id="deploy.promote",
                action_ts=action_ts,
            )
        wait_until(lambda: _state(bot, deploy_id) == "succeeded", timeout=40, what="success")
        assert _promotes(kube) == 3
        with database.read_session() as session:
            votes = session.exec(select(DeployPromotion).order_by(col(DeployPromotion.step))).all()
            audited = session.exec(
                select(AuditEntry.action, AuditEntry.outcome)
                .where(col(AuditEntry.action).like("deploy.promote%"))
                .order_by(col(AuditEntry.seq))
            ).all()
        assert [(v.step, v.approver) for v in votes] == [(1, "U0ALICE"), (3, "U0BOB"), (5, "U0BOB")]
        # Each click that counted and each promote the backend did is in the audit log.
        assert (
            audited
            == [
                ("deploy.promote_requested", "ok"),
                ("deploy.promoted", "ok"),
            ]
            * 3
        )
        assert image_of(kube, "rollouts") == f"{IMAGE}:2.0.0"

        # Abort a second canary at its first pause: traffic back, the stable image restored.
        aborted = _start(bot, "3.0.0")
        card = _card_at(slack, aborted, "canary step 1 of 6 · weight 25% · paused")
        click(bot, slack, user="U0ALICE", message=card, channel=DEPLOYS, action_id="deploy.cancel")
        wait_until(lambda: _state(bot, aborted) == "cancelled", timeout=40, what="abort")
        assert image_of(kube, "rollouts") == f"{IMAGE}:2.0.0"
        assert any(c.body == {"status": {"abort": True}} for c in kube.patches("rollouts"))
        kube.tick()
        assert get(kube, "rollouts")["status"]["phase"] == "Healthy"


def _state(bot: RunningBot, deploy_id: int) -> str:
    with bot.runtime.database.read_session() as session:
        row = session.get(Deploy, deploy_id)
        assert row is not None
        return row.state
