"""Issue 16, item 1, through signed HTTP into the running app on both databases: while an
incident is open on a service, the incident channel hears about every deploy of it (one
message kept current), every lock, unlock and break-glass, and the timeline and the
postmortem list them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlmodel import select

from bot.sandbox.signing import slash_command_body
from tests.e2e.conftest import EXAMPLE_CONFIG, RunningBot, serving, wait_until
from tests.e2e.deploy_helpers import nothing_due
from workflows.config import load_config
from workflows.deploys.models import Deploy
from workflows.incidents.models import Incident
from workflows.store.db import Database

WAIT = 30.0
ROLLOUT = Path(EXAMPLE_CONFIG).parent / "rollout.sh"


@pytest.fixture
def two_services(tmp_path: Path) -> Path:
    """The example config with a second service, ``api``, beside ``web``."""
    raw = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    raw["services"]["web"]["deploy"]["argv"] = ["sh", str(ROLLOUT)]
    raw["services"]["api"] = {"deploy": dict(raw["services"]["web"]["deploy"])}
    path = tmp_path / "shipbot.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.fixture
def bot(database: Database, slack: Any, tmp_path: Path, two_services: Path) -> Iterator[RunningBot]:
    with serving(load_config(two_services), database, slack, tmp_path) as running:
        running.runtime.start_background(worker=True, scheduler=False)
        yield running


def _incident(bot: RunningBot) -> Incident:
    with bot.runtime.database.read_session() as session:
        incident = session.exec(select(Incident)).first()
    assert incident is not None
    return incident


def _declare(bot: RunningBot, slack: Any) -> str:
    answer = bot.command("declare SEV2 web Checkout errors", command="/incident", user="U0ALICE")
    assert answer.status_code == 200
    wait_until(lambda: _incident(bot).channel_id is not None, timeout=WAIT, what="the channel")
    channel = _incident(bot).channel_id
    assert channel is not None
    return channel


def _about(slack: Any, channel: str, fragment: str) -> list[dict[str, Any]]:
    return [m for m in slack.messages(channel) if fragment in m.get("text", "")]


def _final(slack: Any, channel: str, fragment: str, ending: str) -> dict[str, Any]:
    """The one message about ``fragment`` once its text ends with ``ending``."""

    def shown() -> dict[str, Any] | None:
        found = _about(slack, channel, fragment)
        return found[0] if len(found) == 1 and found[0]["text"].endswith(ending) else None

    found: dict[str, Any] = slack.wait_for(shown, WAIT)
    return found


def _posts_to(slack: Any, channel: str, fragment: str) -> list[Any]:
    return [
        call
        for call in slack.calls_to("chat.postMessage")
        if call.body.get("channel") == channel and fragment in str(call.body.get("text", ""))
    ]


def _state(bot: RunningBot, deploy_id: int) -> str | None:
    with bot.runtime.database.read_session() as session:
        deploy = session.get(Deploy, deploy_id)
        return deploy.state if deploy else None


def _timeline(bot: RunningBot, channel: str) -> str:
    answer = bot.command("timeline", command="/incident", user="U0BOB", channel=channel)
    return json.dumps(answer.json()["blocks"])


def test_staging_deploy_during_a_sev2_is_one_message_kept_current(
    bot: RunningBot, slack: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHIPBOT_ROLLOUT_SECONDS", "0.05")
    channel = _declare(bot, slack)

    # The request arrives twice (Slack retries the same delivery): one deploy, one message.
    body = slash_command_body(
        command="/deploy", text="web 1.2.3 to staging", user_id="U0ALICE", channel_id="C0DEPLOYS"
    )
    first = bot.post_signed(body)
    retry = bot.post_signed(body, headers={"X-Slack-Retry-Num": "1"})
    assert first.status_code == retry.status_code == 200
    message = _final(slack, channel, "Deploy #1 of", "succeeded")
    assert "Deploy #1 of *web* `1.2.3` to *staging*" in message["text"]
    assert len(_posts_to(slack, channel, "Deploy #1 of")) == 1  # posted once...
    updates = [c for c in slack.calls_to("chat.update") if c.body.get("channel") == channel]
    assert any("Deploy #1 of" in str(c.body.get("text")) for c in updates)  # ...then updated
    assert all(c.body.get("ts") == message["ts"] for c in updates if "Deploy #1" in str(c.body))
    assert _about(slack, channel, "Deploy #2") == []  # the retry asked for nothing

    # A deploy of another service says nothing in this channel.
    bot.command("api 9.9.9 to staging", command="/deploy", user="U0ALICE")
    wait_until(lambda: _state(bot, 2) == "succeeded", timeout=WAIT, what="the api deploy")
    wait_until(lambda: nothing_due(bot), timeout=WAIT, what="its renders")
    assert _about(slack, channel, "9.9.9") == []

    timeline = _timeline(bot, channel)
    assert "deploy #1 of web 1.2.3 to staging started" in timeline
    assert "deploy #1 of web 1.2.3 to staging succeeded" in timeline
    assert "9.9.9" not in timeline

    bot.command("resolve fixed by 1.2.3", command="/incident", user="U0ALICE", channel=channel)
    (postmortem,) = slack.wait_for(lambda: slack.files(), WAIT)
    text = (postmortem.content or b"").decode()
    assert "## Deploys, locks and break-glass while it was open" in text
    assert "- Deploy #1: web 1.2.3 to staging by Alice (developer) — succeeded" in text
    assert "deploy: deploy #1 of web 1.2.3 to staging succeeded" in text
    assert "9.9.9" not in text


def test_declared_during_a_deploy_hears_it_and_its_locks_and_break_glass(
    bot: RunningBot, slack: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHIPBOT_ROLLOUT_SECONDS", "1")
    bot.command("web 1.2.3 to staging", command="/deploy", user="U0ALICE")
    channel = _declare(bot, slack)  # while the rollout (3 s at least) still runs
    message = _final(slack, channel, "Deploy #1 of", "succeeded")
    assert "SEV2 incident #1" in json.dumps(message["blocks"])
    assert len(_posts_to(slack, channel, "Deploy #1 of")) == 1

    bot.command("lock staging web digging into the cache", command="/deploy", user="U0BOB")
    lock = slack.wait_for(lambda: _about(slack, channel, "*Lock*"), WAIT)[0]
    assert "web in staging locked: digging into the cache" in lock["text"]
    assert "<@U0BOB>" in lock["text"]
    bot.command("unlock staging web cache flushed", command="/deploy", user="U0BOB")
    slack.wait_for(lambda: _about(slack, channel, "*Unlock*"), WAIT)

    # bob (sre) breaks the glass for production: awaiting approval, said so here.
    answer = bot.command(
        "web 2.0.0 to production --break-glass checkout is down",
        command="/deploy",
        user="U0BOB",
    )
    assert answer.status_code == 200
    production = _final(slack, channel, "Deploy #2 of", "awaiting approval")
    assert "break-glass" in json.dumps(production["blocks"])
    slack.wait_for(lambda: _about(slack, channel, "*Break-glass*"), WAIT)

    timeline = _timeline(bot, channel)
    for line in (
        "deploy #1 of web 1.2.3 to staging succeeded",
        "web in staging locked: digging into the cache",
        "web in staging unlocked: digging into the cache",
        "through break-glass",
        "deploy #2 of web 2.0.0 to production requested, awaiting approval",
    ):
        assert line in timeline, line
    # Each lock, unlock and break-glass was posted exactly once.
    for fragment in ("*Lock*", "*Unlock*", "*Break-glass*"):
        assert len(_posts_to(slack, channel, fragment)) == 1, fragment
