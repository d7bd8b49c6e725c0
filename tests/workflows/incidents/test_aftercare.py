"""After an incident: the channel archived ``archive_after`` after resolving, warned
``archive_warning`` before, both as jobs on the job clock; reopening calls it off."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from slack_sdk import WebClient

from bot.sandbox.slack.api import FakeSlackApi
from commands.incidents.aftercare_jobs import AftercareJobs
from tests.workflows.incidents.conftest import declare_one
from tests.workflows.incidents.helpers import events, give_channel, incident, jobs, run_jobs
from workflows.clock import FakeClock
from workflows.config.models import ShipbotConfig
from workflows.deploys.directory import NoDirectory
from workflows.errors import Conflict
from workflows.incidents import aftercare, changes
from workflows.store.db import Database


def _resolve(database: Database, clock: FakeClock, config: ShipbotConfig, incident_id: int) -> None:
    with database.transaction() as session:
        changes.resolve(
            session=session,
            clock=clock,
            config=config,
            directory=NoDirectory(),
            actor="U0ALICE",
            incident_id=incident_id,
            summary="cache config reverted",
        )


def _reopen(database: Database, clock: FakeClock, config: ShipbotConfig, incident_id: int) -> None:
    with database.transaction() as session:
        aftercare.reopen(
            session=session,
            clock=clock,
            config=config,
            directory=NoDirectory(),
            actor="U0ALICE",
            incident_id=incident_id,
            reason="errors are back",
        )


class _Jobs:
    def __init__(self, database: Database, clock: FakeClock, config: ShipbotConfig, slack: Any):
        self.database, self.clock = database, clock
        client = WebClient(token="xoxb-test", base_url=slack.url)
        self.handlers = AftercareJobs(client_factory=lambda: client, config=config).handlers()

    def run(self, kind: str) -> int:
        return run_jobs(self.database, self.clock, kind, self.handlers[kind])

    def warnings(self) -> int:
        return self.run("incident.archive_warning")

    def archives(self) -> int:
        return self.run("incident.archive")


@pytest.fixture
def setup(
    database: Database, clock: FakeClock, config: ShipbotConfig, slack: FakeSlackApi
) -> tuple[int, str, _Jobs]:
    declared = declare_one(database, clock, config)
    channel = slack.state.add_channel("inc-checkout-errors", members=["U0ALICE"])
    give_channel(database, clock, config, declared.id or 0, channel)
    return declared.id or 0, channel, _Jobs(database, clock, config, slack)


def _kinds(database: Database, incident_id: int) -> list[str]:
    return [e.kind for e in events(database, incident_id)]


def test_warns_then_archives_at_the_configured_times(
    database: Database,
    clock: FakeClock,
    config: ShipbotConfig,
    slack: FakeSlackApi,
    setup: tuple[int, str, _Jobs],
) -> None:
    incident_id, channel, run = setup
    assert config.incidents.archive_after == timedelta(days=7)  # the default
    _resolve(database, clock, config, incident_id)
    clock.advance(hours=5 * 24 + 23, minutes=59)
    assert (run.warnings(), run.archives()) == (0, 0)  # neither is due yet
    clock.advance(minutes=1)  # 24 h before the archive
    assert (run.warnings(), run.archives()) == (1, 0)
    assert _kinds(database, incident_id)[-1] == "archive_warning"
    warning_renders = [
        j for j in jobs(database, "render") if "incident-archive-warning:" in str(j.payload)
    ]
    assert len(warning_renders) == 1
    clock.advance(hours=23, minutes=59)
    assert run.archives() == 0
    assert slack.calls_to("conversations.archive") == []
    clock.advance(minutes=1)
    assert run.archives() == 1
    (call,) = slack.calls_to("conversations.archive")
    assert call.body["channel"] == channel
    assert slack.state.channel(channel).is_archived  # type: ignore[union-attr]
    stored = incident(database, incident_id)
    assert stored.archived_at == clock.now()
    assert _kinds(database, incident_id)[-2:] == ["archive_warning", "archived"]


def test_reopening_calls_the_archive_off(
    database: Database,
    clock: FakeClock,
    config: ShipbotConfig,
    slack: FakeSlackApi,
    setup: tuple[int, str, _Jobs],
) -> None:
    incident_id, _channel, run = setup
    _resolve(database, clock, config, incident_id)
    clock.advance(hours=24)
    _reopen(database, clock, config, incident_id)
    assert incident(database, incident_id).archive_due_at is None
    clock.advance(hours=8 * 24)
    assert (run.warnings(), run.archives()) == (1, 1)  # both ran, and did nothing
    assert slack.calls_to("conversations.archive") == []
    assert "archive_warning" not in _kinds(database, incident_id)
    # Resolving again schedules a new archive, a week after the new resolve.
    _resolve(database, clock, config, incident_id)
    clock.advance(hours=7 * 24)
    assert (run.warnings(), run.archives()) == (1, 1)
    assert len(slack.calls_to("conversations.archive")) == 1
    with pytest.raises(Conflict, match="archived"):
        _reopen(database, clock, config, incident_id)


def test_a_retried_archive_job_archives_once(
    database: Database,
    clock: FakeClock,
    config: ShipbotConfig,
    slack: FakeSlackApi,
    setup: tuple[int, str, _Jobs],
) -> None:
    incident_id, channel, run = setup
    _resolve(database, clock, config, incident_id)
    clock.advance(hours=7 * 24)
    (job,) = jobs(database, "incident.archive")
    slack.state.data.channels[channel].is_archived = True  # a crashed run archived it
    run.archives()
    assert incident(database, incident_id).archived_at is not None
    assert _kinds(database, incident_id).count("archived") == 1
    slack.take_unexpected()
    assert job.idempotency_key.endswith(incident(database, incident_id).archive_due_at.isoformat())  # type: ignore[union-attr]


def test_never_archive(database: Database, clock: FakeClock, config: ShipbotConfig) -> None:
    never = config.model_copy(
        update={"incidents": config.incidents.model_copy(update={"archive_after": None})}
    )
    declared = declare_one(database, clock, never)
    give_channel(database, clock, never, declared.id or 0, "C0INC")
    _resolve(database, clock, never, declared.id or 0)
    assert jobs(database, "incident.archive") == []
    assert jobs(database, "incident.archive_warning") == []
