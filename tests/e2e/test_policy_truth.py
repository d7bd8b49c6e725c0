"""Refusals and `explain` tell the whole truth, and buttons act on what they show (issue 9),
through signed HTTP into the running app on both databases."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlmodel import col, select

from bot.cli import main
from bot.runtime import Runtime
from bot.sandbox.seed import seed_workspace
from bot.sandbox.signing import SlackRequestSigner
from bot.server_thread import ServerThread
from tests.e2e.conftest import EXAMPLE_CONFIG, SIGNING_SECRET, RunningBot, settings_for
from tests.e2e.deploy_helpers import buttons, click, ephemeral_texts, message_with
from workflows.config import load_config
from workflows.deploys.models import Deploy
from workflows.store.db import Database

DEPLOYS = "C0DEPLOYS"
Edit = Callable[[dict[str, Any]], None]


@pytest.fixture
def bot_with(
    database: Database, slack: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[Edit], RunningBot]]:
    """A running bot whose config is the example changed by ``edit``."""
    started: list[tuple[Runtime, ServerThread, httpx.Client]] = []

    def start(edit: Edit) -> RunningBot:
        data = yaml.safe_load(EXAMPLE_CONFIG.read_text())
        # Written elsewhere, so the rollout script is named by its full path.
        data["services"]["web"]["deploy"]["cwd"] = str(EXAMPLE_CONFIG.parent)
        edit(data)
        path = tmp_path / "shipbot.yaml"
        path.write_text(yaml.safe_dump(data))
        config = load_config(path)
        seed_workspace(slack, config)
        settings = settings_for(database, slack.url, tmp_path / "state")
        monkeypatch.setenv("SHIPBOT_CONFIG", str(path))
        monkeypatch.setenv("SHIPBOT_DATABASE_URL", database.url)
        runtime = Runtime(settings, config=config, database=database, upgrade_sqlite=False)
        server = ServerThread(runtime.http).start()
        client = httpx.Client(base_url=server.url, timeout=10)
        started.append((runtime, server, client))
        return RunningBot(runtime, server, client, SlackRequestSigner(SIGNING_SECRET))

    yield start
    for runtime, server, client in started:
        client.close()
        server.stop()
        runtime.stop()


def _say(bot: RunningBot, text: str, user: str) -> str:
    response = bot.command(text, command="/deploy", user=user)
    assert response.status_code == 200
    return str(response.json()["text"])


def _frozen_and_promoted(data: dict[str, Any]) -> None:
    production = data["environments"]["production"]
    production["requires_success_in"] = "staging"
    # Opened at the last midnight and lasting 25 hours: open whenever the test runs.
    production["freeze_windows"] = [
        {"cron": "0 0 * * *", "duration": "25h", "timezone": "UTC", "reason": "holidays"}
    ]


def test_a_break_glass_refusal_names_every_rule_and_what_break_glass_lifts(
    bot_with: Callable[[Edit], RunningBot], capsys: pytest.CaptureFixture[str]
) -> None:
    bot = bot_with(_frozen_and_promoted)
    refused = _say(bot, "web 9.9.9 to production checkout down --break-glass", user="U0BOB")
    assert "even with break-glass" in refused
    _head, freeze_line, promotion_line = refused.splitlines()[:3]
    assert "*freeze*" in freeze_line and "holidays" in freeze_line
    assert "break-glass lifts this, and you may use it" in freeze_line
    assert "*promotion*" in promotion_line
    assert "9.9.9 has not succeeded in staging yet" in promotion_line
    assert "break-glass does not lift this" in promotion_line
    with bot.runtime.database.read_session() as session:
        assert session.exec(select(Deploy)).first() is None

    # alice is told the freeze is liftable, but not by her.
    refused = _say(bot, "web 9.9.9 to production", user="U0ALICE")
    assert "break-glass lifts this, but only sre may use it" in refused

    # explain shows the same, one row per rule, promotion included.
    explained = _say(bot, "explain web production 9.9.9", user="U0BOB")
    for rule in ("permission", "lock", "freeze", "incident", "promotion", "in flight", "approvals"):
        assert f"*{rule}*" in explained
    assert "9.9.9 has not succeeded in staging yet (promotion order) (break-glass does not" in (
        explained
    )
    assert "<@U0BOB> cannot deploy web to production now." in explained
    without_version = _say(bot, "explain web production", user="U0BOB")
    assert "*promotion*: a version must succeed in staging first" in without_version

    # And in a terminal.
    assert main(["explain", "web", "production", "--user", "U0BOB", "--version", "9.9.9"]) == 1
    printed = capsys.readouterr().out
    assert "BLOCKED promotion: 9.9.9 has not succeeded in staging yet" in printed
    assert "(break-glass does not lift this)" in printed
    assert "=> @bob (U0BOB) cannot deploy web to production now." in printed


def _two_sre(data: dict[str, Any]) -> None:
    """The 0.2 example: two approvals from sre, and sre is just bob and carol."""
    data["groups"]["sre"]["users"] = ["U0BOB", "U0CAROL"]


def test_a_request_that_could_never_be_approved_is_refused_and_explained(
    bot_with: Callable[[Edit], RunningBot],
) -> None:
    bot = bot_with(_two_sre)
    explained = _say(bot, "explain web production", user="U0BOB")
    assert ":no_entry: *approvals*" in explained
    assert "Only 1 approver(s) (<@U0CAROL>) could approve a request from you" in explained
    refused = _say(bot, "web 1.0.0 to production", user="U0BOB")
    assert "could never be approved" in refused
    # alice's request still has both sre members to approve it.
    assert "waiting for 2 approval(s)" in _say(bot, "web 1.0.0 to production", user="U0ALICE")


def _card(slack: Any, deploy_id: int) -> dict[str, Any] | None:
    return message_with(slack, DEPLOYS, f"Deploy #{deploy_id}:")


def _wait_card(slack: Any, deploy_id: int, ending: str) -> dict[str, Any]:
    def shown() -> dict[str, Any] | None:
        card = _card(slack, deploy_id)
        return card if card and card["text"].endswith(ending) else None

    found: dict[str, Any] = slack.wait_for(shown, timeout=30)
    return found


def test_an_old_cards_roll_back_button_never_touches_a_newer_deploy(
    bot_with: Callable[[Edit], RunningBot], slack: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHIPBOT_ROLLOUT_SECONDS", "0.05")
    bot = bot_with(lambda data: None)
    bot.runtime.start_background(worker=True, scheduler=False)
    assert "is starting" in _say(bot, "web 1.0.0 to staging", user="U0ALICE")
    old = _wait_card(slack, 1, "succeeded")  # as the user saw it then
    assert "is starting" in _say(bot, "web 1.1.0 to staging", user="U0ALICE")
    _wait_card(slack, 2, "succeeded")
    # The card of 1.0.0 was rendered again when 1.1.0 replaced it: no live Roll back.
    slack.wait_for(lambda: "deploy.rollback" not in buttons(_card(slack, 1) or {}) or None)
    assert "deploy.rollback" in buttons(_card(slack, 2) or {})

    # A click that was on screen before the re-render still arrives: it is refused.
    assert "deploy.rollback" in buttons(old)
    click(bot, slack, user="U0ALICE", message=old, channel=DEPLOYS, action_id="deploy.rollback")
    assert any(
        "Deploy #1 no longer runs in staging: deploy #2 (1.1.0) replaced it" in text
        for text in ephemeral_texts(slack, "U0ALICE")
    )
    with bot.runtime.database.read_session() as session:
        assert len(session.exec(select(Deploy)).all()) == 2

    # The current card rolls back its own deploy, to the version before it.
    current = _card(slack, 2)
    assert current is not None
    click(bot, slack, user="U0ALICE", message=current, channel=DEPLOYS, action_id="deploy.rollback")
    _wait_card(slack, 3, "succeeded")
    with bot.runtime.database.read_session() as session:
        rollback = session.exec(select(Deploy).where(col(Deploy.id) == 3)).one()
        replaced = session.exec(select(Deploy).where(col(Deploy.id) == 2)).one()
    assert (rollback.version, rollback.rollback_of) == ("1.0.0", 2)
    assert replaced.state == "rolled_back"


def test_check_config_warns_about_the_old_example_and_not_the_new(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check-config", str(EXAMPLE_CONFIG)]) == 0
    assert "warning" not in capsys.readouterr().err
    data = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    _two_sre(data)
    old = tmp_path / "old.yaml"
    old.write_text(yaml.safe_dump(data))
    assert main(["check-config", str(old)]) == 0
    (warning,) = capsys.readouterr().err.splitlines()
    assert warning.startswith("warning: environments.production.approval: needs 2 approval(s)")
    assert "a request from U0BOB leaves 1 approver(s)" in warning
