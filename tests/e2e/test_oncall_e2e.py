"""On-call through signed HTTP, on both databases: ``/incident oncall web`` answers from
a loopback PagerDuty REST fake, ``/incident page`` sends ONE Events API v2 trigger however
often Slack retries it or the person repeats it, and the message shows who acknowledged;
a SEV1 invites the on-call people of its schedules."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlmodel import select

from bot.sandbox.signing import slash_command_body
from tests.e2e.conftest import EXAMPLE_CONFIG, RunningBot, serving, wait_until
from tests.fakes.pagerduty_api import FakePagerDuty, FakeShift
from workflows.config import ShipbotConfig, parse_config
from workflows.incidents.models import Incident
from workflows.oncall.models import OnCallPage
from workflows.store.db import Database

WAIT = 20.0


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


@pytest.fixture
def pagerduty() -> Iterator[FakePagerDuty]:
    now = datetime.now(UTC).replace(microsecond=0)
    fake = FakePagerDuty(
        users={
            "PBOB001": {"name": "Bob Builder", "email": "bob@example.com"},
            "PCAR001": {"name": "Carol", "email": "carol@example.com"},
            "PDAN001": {"name": "Dana <!channel>", "email": "dana@elsewhere.example"},
        },
        shifts={
            "PWEB123": [
                FakeShift(
                    "PBOB001", _iso(now - timedelta(hours=1)), _iso(now + timedelta(hours=5))
                ),
                FakeShift(
                    "PDAN001", _iso(now - timedelta(hours=1)), _iso(now + timedelta(hours=5)), 2
                ),
                FakeShift(
                    "PCAR001", _iso(now + timedelta(hours=5)), _iso(now + timedelta(hours=29))
                ),
            ]
        },
    ).start()
    yield fake
    fake.stop()


def _config(pagerduty: FakePagerDuty, *, responders: bool = False) -> ShipbotConfig:
    data: dict[str, Any] = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    data["users"]["U0BOB"]["email"] = "bob@example.com"
    data["users"]["U0CAROL"]["email"] = "Carol@Example.com"
    data["oncall"] = {
        "pagerduty": {
            "token": "${PD_TOKEN}",
            "api_url": pagerduty.url,
            "events_url": pagerduty.url,
            "poll_every": "1s",
        },
        "schedules": {
            "web-primary": {
                "provider": "pagerduty",
                "schedule_id": "PWEB123",
                "routing_key": "${PD_ROUTING_KEY}",
            }
        },
        "services": {"web": "web-primary"},
    }
    if responders:
        data["incidents"]["severities"]["SEV1"]["oncall"] = ["web-primary"]
    environ = {"PD_TOKEN": pagerduty.token, "PD_ROUTING_KEY": pagerduty.routing_keys[0]}
    return parse_config(yaml.safe_dump(data), environ=environ, config_dir=EXAMPLE_CONFIG.parent)


@pytest.fixture
def bot(
    database: Database, slack: Any, tmp_path: Path, pagerduty: FakePagerDuty
) -> Iterator[RunningBot]:
    with serving(_config(pagerduty, responders=True), database, slack, tmp_path) as running:
        yield running


def test_oncall_web_answers_from_pagerduty(bot: RunningBot, pagerduty: FakePagerDuty) -> None:
    answer = bot.command("oncall web", command="/incident", user="U0ALICE")
    assert answer.status_code == 200
    body = answer.json()
    assert body["response_type"] == "ephemeral"
    text = body["text"]
    assert "web-primary" in text and "PagerDuty" in text
    now_line = next(line for line in text.splitlines() if line.startswith("*Now:*"))
    next_line = next(line for line in text.splitlines() if line.startswith("*Next:*"))
    assert "<@U0BOB>" in now_line  # the email maps to a Slack user: a mention
    assert "Dana &lt;!channel&gt; (level 2)" in now_line  # provider text never notifies
    assert "<!channel>" not in text
    assert "<@U0CAROL>" in next_line  # emails match whatever their case
    (call,) = pagerduty.server.calls("GET", "/oncalls")
    assert call.query["schedule_ids[]"] == ["PWEB123"]
    assert call.headers["authorization"] == f"Token token={pagerduty.token}"
    assert pagerduty.unexpected == []


def test_oncall_degrades_when_pagerduty_fails(bot: RunningBot, pagerduty: FakePagerDuty) -> None:
    from tests.workflows.backends.http_fake import Reply

    pagerduty.fail_with = Reply(503, {"error": "down"})
    text = bot.command("oncall web", command="/incident").json()["text"]
    assert "Could not tell who is on call: PagerDuty had an internal error (HTTP 503)" in text
    pagerduty.fail_with = Reply(401, {"error": "no"})
    text = bot.command("oncall", command="/incident").json()["text"]
    assert "refused shipbot's credentials" in text
    assert pagerduty.token not in text


def _page(bot: RunningBot) -> OnCallPage | None:
    with bot.runtime.database.read_session() as session:
        return session.exec(select(OnCallPage)).first()


def _incident(bot: RunningBot) -> Incident | None:
    with bot.runtime.database.read_session() as session:
        return session.exec(select(Incident)).first()


def test_page_sends_one_trigger_and_shows_who_acknowledged(
    bot: RunningBot, pagerduty: FakePagerDuty, slack: Any
) -> None:
    bot.runtime.start_background(worker=True, scheduler=False)
    bot.command("declare SEV1 web Checkout down", command="/incident", user="U0ALICE")
    wait_until(lambda: (_incident(bot) or Incident()).channel_id is not None, timeout=WAIT)
    incident = _incident(bot)
    assert incident is not None and incident.channel_id is not None
    channel = incident.channel_id
    # The SEV1's on-call schedule: Bob (level 1, mapped by email) is invited.
    slack.wait_for(lambda: "U0BOB" in slack.state.channel(channel).members, WAIT)
    slack.wait_for(
        lambda: [m for m in slack.messages(channel) if "On call for this SEV1" in m["text"]], WAIT
    )

    body = slash_command_body(
        command="/incident", text="page web DB is down", user_id="U0ALICE", channel_id=channel
    )
    first = bot.post_signed(body)
    assert "Paging *web-primary* through PagerDuty" in first.json()["text"]
    retried = bot.post_signed(
        body, headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    )
    assert retried.status_code == 200
    again = bot.command("page web DB is down", command="/incident", user="U0ALICE", channel=channel)
    assert "paged *web-primary* already" in again.json()["text"]

    wait_until(lambda: (_page(bot) or OnCallPage()).status == "triggered", timeout=WAIT)
    (trigger,) = pagerduty.triggers()
    sent = trigger.json()
    assert sent["dedup_key"] == f"shipbot-incident-{incident.id}-web-primary"
    assert sent["routing_key"] == pagerduty.routing_keys[0]
    assert "DB is down" in sent["payload"]["summary"]

    pagerduty.acknowledge(sent["dedup_key"], "PBOB001")
    message = slack.wait_for(
        lambda: [m for m in slack.messages(channel) if "acknowledged by <@U0BOB>" in m["text"]],
        WAIT,
    )
    assert len([m for m in slack.messages(channel) if "paged *web-primary*" in m["text"]]) == 1
    assert message
    assert len(pagerduty.triggers()) == 1
    page = _page(bot)
    assert page is not None and page.acknowledged_by_user == "U0BOB"
    assert pagerduty.unexpected == []


def test_a_provider_down_never_fails_a_declare(
    bot: RunningBot, pagerduty: FakePagerDuty, slack: Any
) -> None:
    from tests.workflows.backends.http_fake import Reply

    pagerduty.fail_with = Reply(200, {"oncalls": []}, delay=3.0)  # slower than the 2 s timeout
    bot.runtime.start_background(worker=True, scheduler=False)
    answer = bot.command("declare SEV1 web Checkout down", command="/incident", user="U0ALICE")
    assert "Declared SEV1 incident #1" in answer.json()["text"]
    assert not pagerduty.server.requests  # nobody asked before the ack
    wait_until(lambda: (_incident(bot) or Incident()).channel_id is not None, timeout=WAIT)
    incident = _incident(bot)
    assert incident is not None and incident.channel_id is not None
    (note,) = slack.wait_for(
        lambda: [m for m in slack.messages(incident.channel_id) if "On call for" in m["text"]],
        WAIT,
    )
    assert "PagerDuty did not answer in time" in note["text"]
    assert "Page by hand: `/incident page web-primary <message>`" in note["text"]
    assert "U0ALICE" in slack.state.channel(incident.channel_id).members


def test_a_refused_page_says_so_and_a_rotation_cannot_be_paged(
    bot: RunningBot, pagerduty: FakePagerDuty, slack: Any
) -> None:
    pagerduty.routing_keys = ("a-key-shipbot-does-not-have",)  # the Events API answers 400
    bot.runtime.start_background(worker=True, scheduler=False)
    bot.command("declare SEV2 web Checkout slow", command="/incident", user="U0ALICE")
    wait_until(lambda: (_incident(bot) or Incident()).channel_id is not None, timeout=WAIT)
    incident = _incident(bot)
    assert incident is not None and incident.channel_id is not None
    channel = incident.channel_id
    outsider = bot.command("page web help", command="/incident", user="U0DAVE", channel=channel)
    assert "You may not" in outsider.json()["text"]
    answer = bot.command("page web-primary help", command="/incident", channel=channel)
    assert "Paging *web-primary*" in answer.json()["text"]
    slack.wait_for(
        lambda: [m for m in slack.messages(channel) if "the page was not sent" in m["text"]],
        WAIT,
    )
    page = _page(bot)
    assert page is not None and page.status == "failed" and page.error is not None
    assert "HTTP 400" in page.error and len(pagerduty.triggers()) == 1
    unknown = bot.command("page api help", command="/incident", channel=channel)
    assert "no on-call schedule for 'api'" in unknown.json()["text"]
