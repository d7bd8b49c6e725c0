"""Who may lock an environment and lift someone else's lock, through signed requests.

The example config with production's ``locks.lockers: [sre]`` and ``locks.unlockers:
[U0ALICE]``: bob, carol and erin (sre, also production's break-glass) may lock and lift
any lock, alice may lift locks but not lock, dave may do neither; the person who locked
may always unlock.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from bot.sandbox.signing import slash_command_body
from tests.e2e.conftest import EXAMPLE_CONFIG, RunningBot, serving
from workflows.config import load_config
from workflows.deploys.models import DeployLock
from workflows.store.db import Database
from workflows.store.models import AuditEntry

ALICE, BOB, DAVE, ERIN = "U0ALICE", "U0BOB", "U0DAVE", "U0ERIN"


@pytest.fixture
def bot(database: Database, slack: Any, tmp_path: Path) -> Iterator[RunningBot]:
    text = EXAMPLE_CONFIG.read_text()
    assert "# lockers: [sre]" in text and "unlockers: []" in text
    text = text.replace("# lockers: [sre]", "lockers: [sre]")
    text = text.replace("unlockers: []", f"unlockers: [{ALICE}]")
    path = tmp_path / "shipbot.yaml"
    path.write_text(text)
    with serving(load_config(path), database, slack, tmp_path) as running:
        yield running


def _deploy(bot: RunningBot, text: str, *, user: str) -> dict[str, Any]:
    response = bot.command(text, command="/deploy", user=user)
    assert response.status_code == 200
    return dict(response.json())


def _locks(bot: RunningBot) -> list[tuple[str, str, str]]:
    with bot.runtime.database.read_session() as session:
        rows = session.exec(select(DeployLock).order_by(col(DeployLock.id)))
        return [(r.environment, r.service, r.locked_by) for r in rows]


def _audited(bot: RunningBot, action: str) -> list[tuple[str, str]]:
    with bot.runtime.database.read_session() as session:
        query = select(AuditEntry).where(col(AuditEntry.action) == action)
        return [(e.actor, e.outcome) for e in session.exec(query.order_by(col(AuditEntry.seq)))]


def test_only_lockers_may_lock(bot: RunningBot) -> None:
    refused = _deploy(bot, "lock production db migration", user=ALICE)
    assert refused["response_type"] == "ephemeral"
    assert "You may not lock production." in refused["text"]
    assert f"lockers of production: *sre* (<@{BOB}>, <@U0CAROL>, <@{ERIN}>)" in refused["text"]
    assert _locks(bot) == []
    # Staging sets no lockers and no deployers: anyone may lock it.
    staging = _deploy(bot, "lock staging web flaky tests", user=ALICE)
    assert staging["response_type"] == "in_channel"
    assert staging["text"] == f":lock: web in staging is locked by <@{ALICE}>: flaky tests"
    locked = _deploy(bot, "lock production db migration", user=BOB)
    assert locked["text"] == f":lock: production is locked by <@{BOB}>: db migration"
    assert _locks(bot) == [("staging", "web", ALICE), ("production", "*", BOB)]
    clash = _deploy(bot, "lock production again", user=BOB)
    assert f"production is already locked by <@{BOB}>: db migration" in clash["text"]
    assert _audited(bot, "deploy.locked") == [(ALICE, "denied"), (ALICE, "ok"), (BOB, "ok")]


def test_someone_elses_lock_stays_until_a_permitted_user_lifts_it(bot: RunningBot) -> None:
    _deploy(bot, "lock production db migration", user=BOB)
    body = slash_command_body(
        command="/deploy", text="unlock production", user_id=DAVE, channel_id="C0DEPLOYS"
    )
    refused = bot.post_signed(body).json()
    assert "You may not remove someone else's lock." in refused["text"]
    assert f"the person who locked it: <@{BOB}>" in refused["text"]
    assert "break-glass of production: *sre*" in refused["text"]
    assert f"unlockers of production: <@{ALICE}>" in refused["text"]
    # Slack retrying the same command: refused once, audited once.
    bot.post_signed(body, headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "timeout"})
    assert _audited(bot, "deploy.unlocked") == [(DAVE, "denied")]
    assert _locks(bot) == [("production", "*", BOB)]
    blocked = _deploy(bot, "web 2.0.0 to production", user=ALICE)["text"]
    assert "Can't deploy web to production" in blocked
    assert f"the whole environment is locked by <@{BOB}>" in blocked

    lifted = _deploy(bot, "unlock production migration postponed", user=ALICE)
    assert lifted["response_type"] == "in_channel"
    assert lifted["text"] == (
        f":unlock: production is unlocked by <@{ALICE}>; <@{BOB}> had locked it: db migration"
        "\nWhy: migration postponed"
    )
    assert _locks(bot) == []
    assert _audited(bot, "deploy.unlocked") == [(DAVE, "denied"), (ALICE, "ok")]


def test_the_locker_and_break_glass_may_unlock(bot: RunningBot) -> None:
    _deploy(bot, "lock production web hotfix soak", user=BOB)
    own = _deploy(bot, "unlock production web", user=BOB)
    assert own["text"] == (
        f":unlock: web in production is unlocked by <@{BOB}>; <@{BOB}> had locked it: hotfix soak"
    )
    _deploy(bot, "lock production db migration", user=BOB)
    carol = _deploy(bot, "unlock production", user="U0CAROL")  # break-glass of production
    assert carol["text"].startswith(":unlock: production is unlocked by <@U0CAROL>")
    assert _locks(bot) == []
    assert [outcome for _, outcome in _audited(bot, "deploy.unlocked")] == ["ok", "ok"]
