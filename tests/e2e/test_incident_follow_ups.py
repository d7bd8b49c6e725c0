"""Follow-ups through signed HTTP, on both databases: the resolved card's "Add follow-ups"
button, its form, one GitHub issue per action item (loopback GitHub fake) even when the
form is submitted twice, and the card linking each issue."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.sandbox.signing import block_actions_body, view_submission_body
from bot.sandbox.slack.api import FakeSlackApi
from tests.e2e.conftest import EXAMPLE_CONFIG, RunningBot, serving
from tests.fakes.tracker_api import FakeGithubIssues
from workflows.config import load_config
from workflows.config.trackers import AfterIncidents
from workflows.store.db import Database

WAIT = 15.0
ITEMS = "## Action items\n\n- [ ] Alert on cache misses\n- [x] Revert\n- [ ] Canary for web\n"


@pytest.fixture
def github() -> Iterator[FakeGithubIssues]:
    fake = FakeGithubIssues().start()
    yield fake
    assert fake.unexpected() == []
    fake.stop()


@pytest.fixture
def tracked_bot(
    database: Database, slack: FakeSlackApi, tmp_path: Path, github: FakeGithubIssues
) -> Iterator[RunningBot]:
    config = load_config(EXAMPLE_CONFIG)
    tracker = {"kind": "github", "repo": github.repo, "token": github.token, "api_url": github.url}
    validated = AfterIncidents.model_validate({"tracker": tracker}).tracker
    incidents = config.incidents.model_copy(update={"tracker": validated})
    with serving(
        config.model_copy(update={"incidents": incidents}), database, slack, tmp_path
    ) as bot:
        yield bot


def _card(slack: Any, channel: str) -> dict[str, Any] | None:
    cards = [m for m in slack.messages(channel) if m.get("blocks") and not m.get("upload")]
    return cards[0] if cards else None


def test_follow_ups_become_one_issue_each(
    tracked_bot: RunningBot, slack: Any, github: FakeGithubIssues
) -> None:
    bot = tracked_bot
    bot.runtime.start_background(worker=True, scheduler=False)
    bot.command("declare SEV3 web Cache misses", command="/incident", user="U0ALICE")
    channel = slack.wait_for(
        lambda: next((c.id for c in slack.state.data.channels.values() if "cache" in c.name), None),
        WAIT,
    )
    slack.wait_for(lambda: _card(slack, channel), WAIT)
    bot.command("resolve cache warmed", command="/incident", user="U0ALICE", channel=channel)
    card = slack.wait_for(
        lambda: (c := _card(slack, channel)) and "Add follow-ups" in str(c["blocks"]) and c, WAIT
    )
    click = block_actions_body(
        user_id="U0BOB",
        action_id="incident.open_follow_up",
        value="1",
        channel_id=channel,
        message_ts=card["ts"],
    )
    assert bot.post_signed(click).status_code == 200
    (form,) = slack.wait_for(
        lambda: [v for v in slack.views() if v["callback_id"] == "incident.follow_up"], WAIT
    )
    for _ in range(2):  # submitted twice: the same items are filed once
        submission = view_submission_body(
            user_id="U0BOB",
            callback_id="incident.follow_up",
            private_metadata=form["private_metadata"],
            state_values={"items": {"items": {"type": "plain_text_input", "value": ITEMS}}},
        )
        assert bot.post_signed(submission).status_code == 200
    linked = slack.wait_for(
        lambda: (c := _card(slack, channel)) and "acme/web#2" in str(c["blocks"]) and c, WAIT
    )
    assert "https://github.example/acme/web/issues/1" in str(linked["blocks"])
    assert [i["title"] for i in github.issues] == ["Alert on cache misses", "Canary for web"]
    assert len(github.server.calls("POST")) == 2
