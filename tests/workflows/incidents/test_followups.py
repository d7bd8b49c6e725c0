"""Follow-ups: each action item becomes one issue in the tracker (loopback GitHub and Jira
fakes), however often the job runs or retries; tracker errors end on the timeline."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fakes.tracker_api import FakeGithubIssues, FakeJira
from tests.workflows.incidents.conftest import declare_one
from tests.workflows.incidents.helpers import context_for, events, jobs
from workflows.clock import FakeClock
from workflows.config.models import ShipbotConfig
from workflows.config.trackers import AfterIncidents
from workflows.errors import UserError
from workflows.incidents.followups import action_items, add_follow_ups, file_follow_up, follow_ups
from workflows.incidents.trackers import TrackerError, tracker_for
from workflows.store.db import Database

POSTMORTEM = """## Action items

- [ ] Alert on cache misses
- [x] Revert the cache config
- [ ] Add a canary step for web
"""


@pytest.fixture
def github() -> Iterator[FakeGithubIssues]:
    fake = FakeGithubIssues().start()
    yield fake
    assert fake.unexpected() == []
    fake.stop()


@pytest.fixture
def jira() -> Iterator[FakeJira]:
    fake = FakeJira().start()
    yield fake
    assert fake.unexpected() == []
    fake.stop()


def _with_tracker(config: ShipbotConfig, tracker: dict[str, Any]) -> ShipbotConfig:
    """``config`` with ``incidents.tracker`` set (validated as the loader would)."""
    validated = AfterIncidents.model_validate({"tracker": tracker}).tracker
    incidents = config.incidents.model_copy(update={"tracker": validated})
    return config.model_copy(update={"incidents": incidents})


def _github_config(config: ShipbotConfig, fake: FakeGithubIssues, token: str = "") -> ShipbotConfig:
    tracker = {
        "kind": "github",
        "repo": fake.repo,
        "token": token or fake.token,
        "api_url": fake.url,
    }
    return _with_tracker(config, tracker)


def _jira_config(config: ShipbotConfig, fake: FakeJira) -> ShipbotConfig:
    tracker = {
        "kind": "jira",
        "url": fake.url,
        "project": fake.project,
        "email": fake.email,
        "token": fake.token,
    }
    return _with_tracker(config, tracker)


def _add(
    database: Database, clock: FakeClock, config: ShipbotConfig, incident_id: int, text: str
) -> int:
    with database.transaction() as session:
        added = add_follow_ups(
            session=session,
            clock=clock,
            config=config,
            actor="U0ALICE",
            incident_id=incident_id,
            text=text,
        )
        return len(added)


def _run(database: Database, clock: FakeClock, config: ShipbotConfig, *, attempt: int = 1) -> None:
    """Run every follow-up job once, as attempt number ``attempt`` (a retry looks first)."""
    for job in jobs(database, "incident.follow_up"):
        job.attempts = attempt
        try:
            file_follow_up(
                context_for(database, clock, job),
                tracker=lambda: tracker_for(config.incidents.tracker),
            )
        except TrackerError:
            if attempt >= job.max_attempts:
                raise


def _states(database: Database, incident_id: int) -> list[tuple[str, str | None]]:
    with database.read_session() as session:
        return [
            (f.state, f.external_id) for f in follow_ups(session=session, incident_id=incident_id)
        ]


def test_each_item_becomes_one_github_issue_however_often_it_runs(
    database: Database, clock: FakeClock, config: ShipbotConfig, github: FakeGithubIssues
) -> None:
    config = _github_config(config, github)
    incident_id = declare_one(database, clock, config).id or 0
    assert _add(database, clock, config, incident_id, POSTMORTEM) == 2
    assert _add(database, clock, config, incident_id, POSTMORTEM) == 0  # the same items again
    _run(database, clock, config)
    _run(database, clock, config, attempt=2)  # a duplicate run finds them filed
    assert [i["title"] for i in github.issues] == [
        "Alert on cache misses",
        "Add a canary step for web",
    ]
    assert _states(database, incident_id) == [("filed", "acme/web#1"), ("filed", "acme/web#2")]
    filed = [e for e in events(database, incident_id) if e.kind == "follow_up_filed"]
    assert [e.data["url"] for e in filed] == [
        "https://github.example/acme/web/issues/1",
        "https://github.example/acme/web/issues/2",
    ]
    assert len(github.server.calls("POST")) == 2


def test_a_retry_after_a_lost_answer_finds_the_issue_instead_of_filing_again(
    database: Database, clock: FakeClock, config: ShipbotConfig, github: FakeGithubIssues
) -> None:
    config = _github_config(config, github)
    incident_id = declare_one(database, clock, config).id or 0
    _add(database, clock, config, incident_id, "- [ ] Alert on cache misses")
    github.drop_next_answer()  # GitHub created it; shipbot saw a 502
    _run(database, clock, config, attempt=1)
    assert _states(database, incident_id) == [("pending", None)]
    _run(database, clock, config, attempt=2)
    assert len(github.issues) == 1
    assert _states(database, incident_id) == [("filed", "acme/web#1")]


def test_jira_tickets_once_each_even_when_retried(
    database: Database, clock: FakeClock, config: ShipbotConfig, jira: FakeJira
) -> None:
    config = _jira_config(config, jira)
    incident_id = declare_one(database, clock, config).id or 0
    _add(database, clock, config, incident_id, POSTMORTEM)
    jira.drop_next_answer()
    _run(database, clock, config, attempt=1)
    _run(database, clock, config, attempt=2)
    _run(database, clock, config, attempt=3)
    assert [i["key"] for i in jira.issues] == ["OPS-1", "OPS-2"]
    assert _states(database, incident_id) == [("filed", "OPS-1"), ("filed", "OPS-2")]
    assert "incident-follow-up" in jira.issues[0]["fields"]["labels"]


def test_a_refusing_tracker_marks_the_follow_up_failed_on_the_timeline(
    database: Database, clock: FakeClock, config: ShipbotConfig, github: FakeGithubIssues
) -> None:
    config = _github_config(config, github, token="ghp-wrong-token-0123456789")
    incident_id = declare_one(database, clock, config).id or 0
    _add(database, clock, config, incident_id, "- [ ] Alert on cache misses")
    _run(database, clock, config)  # 401: retrying cannot help
    assert _states(database, incident_id) == [("failed", None)]
    (failed,) = [e for e in events(database, incident_id) if e.kind == "follow_up_failed"]
    assert "GitHub answered HTTP 401" in failed.text
    assert "ghp-wrong-token" not in failed.text
    assert github.issues == []


def test_a_tracker_down_retries_then_gives_up_clearly(
    database: Database, clock: FakeClock, config: ShipbotConfig, github: FakeGithubIssues
) -> None:
    config = _github_config(config, github)
    incident_id = declare_one(database, clock, config).id or 0
    _add(database, clock, config, incident_id, "- [ ] Alert on cache misses")
    github.fail_next(503, count=10)
    _run(database, clock, config, attempt=1)  # raises inside: the worker retries it
    assert _states(database, incident_id) == [("pending", None)]
    _run(database, clock, config, attempt=5)  # the last attempt
    assert _states(database, incident_id) == [("failed", None)]
    (failed,) = [e for e in events(database, incident_id) if e.kind == "follow_up_failed"]
    assert "503" in failed.text


def test_no_tracker_configured_is_a_clear_refusal(
    database: Database, clock: FakeClock, config: ShipbotConfig
) -> None:
    incident_id = declare_one(database, clock, config).id or 0
    with pytest.raises(UserError, match="No tracker"):
        _add(database, clock, config, incident_id, "- [ ] anything")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400))
def test_action_items_of_any_text_are_non_empty_single_lines(text: str) -> None:
    items = action_items(text)
    assert all(item and item == " ".join(item.split()) for item in items)
    assert len(items) == len(set(items))
