"""The incident flow's Slack jobs and views against the loopback Slack fake, with the real
``WebClient``, a real database and a fake clock: channel, invites, topic, the card posted
then updated in place and pinned once, announcements, reminders, snooze, postmortem."""

from __future__ import annotations

from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.web import SlackResponse

from bot.sandbox.seed import seed_workspace
from bot.sandbox.slack.api import FakeSlackApi
from bot.sender import RendererRegistry, make_render_handler
from bot.slack_errors import slack_errors_as_job_outcomes
from bot.worker import Worker
from commands.common.reply import Action
from commands.incidents import actions as incident_actions
from commands.incidents import messages
from commands.incidents.slack_jobs import IncidentSlackJobs
from tests.workflows.incidents.conftest import EXAMPLE_CONFIG, declare_one
from tests.workflows.incidents.helpers import context_for, incident, jobs
from workflows.clock import FakeClock
from workflows.config import load_config
from workflows.config.models import ShipbotConfig
from workflows.deploys.directory import NoDirectory
from workflows.incidents import changes
from workflows.incidents.models import Incident
from workflows.store.db import Database

ANNOUNCE = "C0INCIDNT"
NAME = "inc-20260105-checkout-errors"


def _as_wired(jobs_: IncidentSlackJobs) -> dict[str, Any]:
    """The handlers as the runtime wires them: Slack errors mapped to job outcomes."""
    return {kind: slack_errors_as_job_outcomes(h) for kind, h in jobs_.handlers().items()}


class Harness:
    def __init__(self, database: Database, clock: FakeClock, slack: FakeSlackApi) -> None:
        self.database = database
        self.clock = clock
        self.slack = slack
        self.config: ShipbotConfig = load_config(EXAMPLE_CONFIG)
        seed_workspace(slack, self.config)
        registry = RendererRegistry()
        for prefix, renderer in messages.renderers(self.config).items():
            registry.register(prefix, renderer)
        self.jobs = IncidentSlackJobs(client_factory=self.client, config=self.config)
        render = make_render_handler(
            client_factory=self.client,
            registry=registry,
            sleep=lambda seconds: clock.advance(seconds=seconds),
        )
        self.worker = Worker(
            database,
            clock=clock,
            handlers={"render": render, **_as_wired(self.jobs)},
        )

    def client(self) -> WebClient:
        return WebClient(token="xoxb-test", base_url=self.slack.url)

    def drain(self) -> None:
        """Run due jobs, stepping the clock a few seconds, until nothing is left to do soon
        (a pin waiting for the card, a retried call). Reminders are far beyond that."""
        idle = 0
        for _ in range(40):
            idle = idle + 1 if self.worker.run_pending() == 0 else 0
            if idle >= 3:
                return
            self.clock.advance(seconds=3)
        raise AssertionError("jobs kept running")

    def declare(self, **kwargs: Any) -> int:
        declared = declare_one(self.database, self.clock, self.config, **kwargs)
        assert declared.id is not None
        return declared.id

    def incident(self, incident_id: int) -> Incident:
        return incident(self.database, incident_id)

    def messages(self, channel: str) -> list[dict[str, Any]]:
        return [m for m in self.slack.messages(channel) if m.get("subtype") is None]


@pytest.fixture
def harness(database: Database, clock: FakeClock, slack: FakeSlackApi) -> Harness:
    return Harness(database, clock, slack)


def _channel_of(harness: Harness, incident_id: int) -> str:
    channel = harness.incident(incident_id).channel_id
    assert channel is not None
    return channel


def _action_ids(message: dict[str, Any]) -> list[str]:
    return [
        element["action_id"]
        for block in message.get("blocks") or []
        if block["type"] == "actions"
        for element in block["elements"]
    ]


def test_declare_creates_channel_invites_sets_topic_posts_pins_and_announces(
    harness: Harness, slack: FakeSlackApi
) -> None:
    incident_id = harness.declare()
    harness.drain()

    stored = harness.incident(incident_id)
    channel = slack.state.channel(stored.channel_id or "")
    assert channel is not None and channel.name == NAME == stored.channel_name
    assert {"U0ALICE", "U0BOB", "U0CAROL"} <= channel.members  # declarer + SEV2 responders
    assert "U0DAVE" not in channel.members
    assert channel.topic == "SEV2 | IC <@U0ALICE> | Checkout errors"
    (card,) = harness.messages(channel.id)
    assert card["pinned_to"] == [channel.id]
    assert "SEV2 · Checkout errors" in card["blocks"][0]["text"]["text"]
    assert _action_ids(card) == [
        "incident.open_status",
        "incident.open_assign",
        "incident.open_resolve",
    ]
    # Announced once, then updated in place to carry the channel link.
    (announcement,) = harness.messages(ANNOUNCE)
    assert "SEV2 incident #1 declared" in announcement["text"]
    assert f"<#{channel.id}>" in announcement["text"]
    assert len(slack.calls_to("conversations.create")) == 1
    assert len(slack.calls_to("pins.add")) == 1


def test_a_taken_name_gets_a_suffix(harness: Harness, slack: FakeSlackApi) -> None:
    slack.add_channel(NAME)
    incident_id = harness.declare()
    harness.drain()
    assert harness.incident(incident_id).channel_name == f"{NAME}-2"
    slack.add_channel(f"{NAME}-3")
    second = harness.declare()  # same title, same day: -2 is now ours, -3 someone else's
    harness.drain()
    assert harness.incident(second).channel_name == f"{NAME}-4"


def _run_create(harness: Harness, incident_id: int, jobs_: IncidentSlackJobs) -> None:
    (job,) = [
        j
        for j in jobs(harness.database, "incident.create_channel")
        if j.payload["incident_id"] == incident_id
    ]
    jobs_.create_channel(context_for(harness.database, harness.clock, job))


def test_running_the_channel_job_twice_creates_one_channel(
    harness: Harness, slack: FakeSlackApi
) -> None:
    incident_id = harness.declare()
    _run_create(harness, incident_id, harness.jobs)
    _run_create(harness, incident_id, harness.jobs)
    assert len(slack.calls_to("conversations.create")) == 1
    assert len(jobs(harness.database, "incident.invite")) == 1


class CrashAfterCreate(WebClient):
    """Slack creates the channel, then the process dies before the commit."""

    def conversations_create(self, **kwargs: Any) -> SlackResponse:  # type: ignore[override]
        super().conversations_create(**kwargs)
        raise RuntimeError("killed between Slack's ok and the commit")


def test_a_retry_after_a_crash_adopts_the_channel_it_created(
    harness: Harness, slack: FakeSlackApi
) -> None:
    incident_id = harness.declare()
    crashing = IncidentSlackJobs(
        client_factory=lambda: CrashAfterCreate(token="xoxb-test", base_url=slack.url),
        config=harness.config,
    )
    with pytest.raises(RuntimeError):
        _run_create(harness, incident_id, crashing)
    assert harness.incident(incident_id).channel_id is None
    _run_create(harness, incident_id, harness.jobs)

    created = [c for c in slack.state.data.channels.values() if c.name.startswith(NAME)]
    assert [c.name for c in created] == [NAME]
    assert harness.incident(incident_id).channel_id == created[0].id
    assert slack.calls_to("conversations.list")  # name_taken for its own name was checked


def test_a_retry_does_not_adopt_a_stranger_s_channel(harness: Harness, slack: FakeSlackApi) -> None:
    incident_id = harness.declare()
    crashing = IncidentSlackJobs(
        client_factory=lambda: CrashAfterCreate(token="xoxb-test", base_url=slack.url),
        config=harness.config,
    )
    with pytest.raises(RuntimeError):
        _run_create(harness, incident_id, crashing)
    with slack.state.lock:  # as if a person had made the channel, not the crashed run
        channel = slack.state.data.channel_by_name(NAME)
        assert channel is not None
        channel.creator = "U0DAVE"
    _run_create(harness, incident_id, harness.jobs)
    assert harness.incident(incident_id).channel_name == f"{NAME}-2"


def test_a_status_update_updates_the_card_in_place_and_announces(
    harness: Harness, slack: FakeSlackApi
) -> None:
    incident_id = harness.declare()
    harness.drain()
    channel = _channel_of(harness, incident_id)
    (posted,) = harness.messages(channel)
    with harness.database.transaction() as session:
        changes.update_status(
            directory=NoDirectory(),
            session=session,
            clock=harness.clock,
            config=harness.config,
            actor="U0BOB",
            incident_id=incident_id,
            status="identified",
            message="bad cache config",
        )
    harness.drain()
    (card,) = harness.messages(channel)
    assert card["ts"] == posted["ts"] and card.get("edited")
    assert card["blocks"][1]["fields"][0]["text"] == "*Status*\nidentified"
    assert "bad cache config" in str(card["blocks"])
    assert card["pinned_to"] == [channel]
    assert len(slack.calls_to("pins.add")) == 1
    announcements = harness.messages(ANNOUNCE)
    assert len(announcements) == 2 and "is now *identified*" in announcements[1]["text"]


def test_resolve_marks_the_card_and_uploads_the_postmortem_once(
    harness: Harness, slack: FakeSlackApi
) -> None:
    incident_id = harness.declare()
    harness.drain()
    channel = _channel_of(harness, incident_id)
    harness.clock.advance(minutes=42)
    with harness.database.transaction() as session:
        changes.resolve(
            directory=NoDirectory(),
            session=session,
            clock=harness.clock,
            config=harness.config,
            actor="U0ALICE",
            incident_id=incident_id,
            summary="cache config reverted",
        )
    harness.drain()
    card = next(m for m in harness.messages(channel) if m.get("blocks"))
    assert "Resolved" in str(card["blocks"]) and _action_ids(card) == []
    (upload,) = slack.files()
    assert upload.channels == [channel] and upload.filename == "postmortem-incident-1.md"
    markdown = (upload.content or b"").decode()
    assert "# Postmortem draft: Checkout errors (incident #1)" in markdown
    assert "cache config reverted" in markdown and "| Time to resolve | 42m" in markdown
    assert harness.incident(incident_id).postmortem_file_id == upload.id
    assert slack.state.channel(channel).topic.startswith("RESOLVED |")  # type: ignore[union-attr]
    (job,) = jobs(harness.database, "incident.postmortem")
    harness.jobs.postmortem(context_for(harness.database, harness.clock, job))
    assert len(slack.files()) == 1


def _reminders(harness: Harness, channel: str) -> list[dict[str, Any]]:
    return [m for m in harness.messages(channel) if "Reminder:" in m["text"]]


def test_reminder_after_the_interval_then_snooze(harness: Harness, slack: FakeSlackApi) -> None:
    incident_id = harness.declare()
    harness.drain()
    channel = _channel_of(harness, incident_id)
    harness.clock.advance(minutes=30)
    harness.drain()
    (reminder,) = _reminders(harness, channel)
    assert "<@U0ALICE>" in str(reminder["blocks"]) and "every 30m" in str(reminder["blocks"])
    assert _action_ids(reminder) == ["incident.snooze"]
    snooze_value = reminder["blocks"][-1]["elements"][0]["value"]

    click = Action(
        action_id="incident.snooze",
        value=snooze_value,
        user_id="U0BOB",
        channel_id=channel,
        delivery_key="slack:action:1:U0BOB:incident.snooze",
    )
    assert incident_actions.snooze(click, _Deps(harness)) is None
    harness.drain()
    (reminder,) = _reminders(harness, channel)
    assert _action_ids(reminder) == [] and "Snoozed by <@U0BOB>" in str(reminder["blocks"])
    harness.clock.advance(minutes=25)
    harness.drain()
    assert len(_reminders(harness, channel)) == 1  # the regular 30-minute one was superseded
    harness.clock.advance(minutes=5)
    harness.drain()
    assert len(_reminders(harness, channel)) == 2


def test_no_reminder_when_an_update_came(harness: Harness) -> None:
    incident_id = harness.declare()
    harness.drain()
    harness.clock.advance(minutes=20)
    with harness.database.transaction() as session:
        changes.update_status(
            directory=NoDirectory(),
            session=session,
            clock=harness.clock,
            config=harness.config,
            actor="U0ALICE",
            incident_id=incident_id,
            status="monitoring",
            message="fix is out",
        )
    harness.clock.advance(minutes=15)  # 35 after declaring, 15 after the update
    harness.drain()
    assert _reminders(harness, _channel_of(harness, incident_id)) == []


def test_people_unknown_to_slack_do_not_stop_the_others_being_invited(
    harness: Harness, slack: FakeSlackApi
) -> None:
    incident_id = harness.declare(actor="U0GHOST")  # not in the workspace
    harness.drain()
    channel = slack.state.channel(_channel_of(harness, incident_id))
    assert channel is not None and {"U0BOB", "U0CAROL"} <= channel.members


class _Deps:
    """What ``commands`` handlers use of ``bot.deps.Deps``."""

    def __init__(self, harness: Harness) -> None:
        self.database = harness.database
        self.clock = harness.clock
        self.config = harness.config

    def wake_worker(self) -> None:
        pass
