"""Issue 12's "what changed" line through signed HTTP on both databases: the approval
request lists the commits between the running and the requested version (from a real git
repository made here), and DORA's lead time is computed from the first of them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from tests.e2e.conftest import RunningBot, wait_until
from tests.e2e.custom_bot import config_with, kube_deploy, running
from tests.e2e.deploy_helpers import click, message_with
from tests.fakes.git_repo import GitRepo
from tests.fakes.kube_api import FakeKubeApi
from tests.fakes.kube_fixtures import write_kubeconfig
from tests.fakes.kube_objects import add_workload
from workflows.deploys.models import Deploy
from workflows.reports import dora
from workflows.reports.periods import window_before
from workflows.store.db import Database

APPROVALS = "C0APPROVE"


@pytest.fixture
def kube() -> Iterator[FakeKubeApi]:
    server = FakeKubeApi(ticks_per_read=4).start()
    add_workload(server, "Deployment", replicas=1, image="registry.example/web:0.9.0")
    yield server
    server.stop()


def _repo(path: Path, now: datetime) -> GitRepo:
    repo = GitRepo(path)
    stamp = (now - timedelta(days=3)).isoformat()
    repo.commit("Release 1.0.0", files={"app.py": "1"}, author="Alice Ng", date=stamp)
    repo.tag("v1.0.0")
    first = now - timedelta(hours=5)
    repo.commit(
        "Add orders table",
        files={"migrations/0002.sql": "create"},
        author="Bob Li",
        date=first.isoformat(),
    )
    for number in range(10):
        repo.commit(
            f"Tweak {number}",
            files={"app.py": f"t{number}"},
            author="Carol Diaz",
            date=(first + timedelta(minutes=10 + number)).isoformat(),
        )
    repo.commit(
        "Shout <!channel> in a commit",
        files={"app.py": "2"},
        author="Eve Mallory",
        date=(first + timedelta(minutes=30)).isoformat(),
    )
    repo.tag("v1.1.0")
    return repo


def _request(bot: RunningBot, slack: Any, version: str) -> tuple[int, dict[str, Any]]:
    answer = bot.command(f"shop {version} to production", command="/deploy", user="U0ALICE")
    assert "waiting for 2 approval(s)" in answer.json()["text"], answer.text
    with bot.runtime.database.read_session() as session:
        deploy = session.exec(select(Deploy).where(col(Deploy.version) == version)).one()
    assert deploy.id is not None

    def with_changes() -> dict[str, Any] | None:
        message = message_with(slack, APPROVALS, f"Approval needed: shop {version}")
        texts = str(message["blocks"]) if message else ""
        return message if "What changed" in texts or "Changes unavailable" in texts else None

    return deploy.id, slack.wait_for(with_changes, timeout=30)


def _approve(bot: RunningBot, slack: Any, message: dict[str, Any], deploy_id: int) -> None:
    for user in ("U0BOB", "U0CAROL"):
        click(bot, slack, user=user, message=message, channel=APPROVALS, action_id="deploy.approve")
    wait_until(lambda: _row(bot, deploy_id).state == "succeeded", timeout=60, what="success")


def _row(bot: RunningBot, deploy_id: int) -> Deploy:
    with bot.runtime.database.read_session() as session:
        row = session.get(Deploy, deploy_id)
        assert row is not None
        return row


def test_approval_lists_the_commits_and_dora_uses_the_first(
    database: Database, slack: Any, kube: FakeKubeApi, tmp_path: Path
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    repo = _repo(tmp_path / "web", now)
    services = {
        "shop": {
            "deploy": kube_deploy(write_kubeconfig(kube, tmp_path)),
            "source": {
                "git": str(repo.path),
                "compare_url": "https://git.example/web/compare/{from}...{to}",
            },
        }
    }
    _, config = config_with(services, tmp_path)
    with running(database, slack, config, tmp_path / "state") as bot:
        first_id, request = _request(bot, slack, "1.0.0")
        assert "Changes unavailable (nothing deployed to production yet)" in str(request["blocks"])
        _approve(bot, slack, request, first_id)

        deploy_id, request = _request(bot, slack, "1.1.0")
        [changes] = [b for b in request["blocks"] if "What changed" in str(b)]
        text = changes["text"]["text"]
        assert text.startswith(
            "*What changed* since `1.0.0`: 12 commits · "
            "<https://git.example/web/compare/v1.0.0...v1.1.0|compare>\n"
            ":warning: touches `migrations/`"
        )
        lines = text.split("\n")
        assert lines[2].endswith("Shout &lt;!channel&gt; in a commit — Eve Mallory")
        assert lines[3].endswith("Tweak 9 — Carol Diaz") and len(lines) == 2 + 10 + 1
        assert lines[-1] == "…and 2 more"
        assert "<!channel>" not in str(request)
        _approve(bot, slack, request, deploy_id)
        row = _row(bot, deploy_id)
        first_commit = now - timedelta(hours=5)
        assert row.commit_at == first_commit
        assert row.finished_at is not None
        with database.read_session() as session:
            figures = dora.compute(
                session=session,
                config=config,
                window=window_before(
                    row.finished_at + timedelta(minutes=1), days=7, timezone="UTC"
                ),
            )
        assert figures["lead_time_samples"]["current"] == 1  # 1.0.0 has no commits to date
        expected = (row.finished_at - first_commit).total_seconds()
        assert figures["lead_time_seconds"]["current"] == pytest.approx(expected, abs=1)
