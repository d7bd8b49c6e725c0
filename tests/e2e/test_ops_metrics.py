"""The counters a team charts, read from /metrics after real work through signed HTTP:
deploys, approvals and incidents are counted when their audited transaction commits."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.e2e.conftest import RunningBot
from tests.e2e.deploy_helpers import click, message_with
from tests.e2e.test_deploy_scenario import _approve_through, _wait_state


@pytest.fixture(autouse=True)
def fast_rollout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHIPBOT_ROLLOUT_SECONDS", "0.05")


def samples(bot: RunningBot, family: str) -> dict[str, float]:
    text = bot.http.get("/metrics").text
    found = re.findall(rf"^{family}\{{([^}}]*)\}} (\S+)$", text, re.MULTILINE)
    return {labels: float(value) for labels, value in found}


def test_deploys_approvals_and_incidents_are_counted_once_committed(
    running_bot: RunningBot, slack: Any
) -> None:
    bot = running_bot
    bot.runtime.start_background(worker=True, scheduler=False)
    assert bot.command("web 1.0.0 to staging", command="/deploy").status_code == 200
    _wait_state(bot, slack, 1, "succeeded")
    assert bot.command("web 1.0.0 to production", command="/deploy").status_code == 200
    _approve_through(bot, slack, 2, ["U0BOB", "U0CAROL"])
    _wait_state(bot, slack, 2, "succeeded")
    # Refused by policy: nothing is written, so nothing is counted.
    assert bot.command("web 1.0.0 to nowhere", command="/deploy").status_code == 200
    bot.command("declare SEV2 web Checkout errors", command="/incident")

    deploys = samples(bot, "shipbot_deploys_total")
    assert deploys == {
        'environment="staging",event="requested"': 1.0,
        'environment="staging",event="started"': 1.0,
        'environment="staging",event="succeeded"': 1.0,
        'environment="production",event="requested"': 1.0,
        'environment="production",event="started"': 1.0,
        'environment="production",event="succeeded"': 1.0,
    }
    assert samples(bot, "shipbot_approvals_total") == {
        'decision="approved",environment="production"': 2.0
    }
    assert samples(bot, "shipbot_incidents_total").get('event="declare"') == 1.0


def test_a_cancel_is_counted_under_its_deploys_environment(
    running_bot: RunningBot, slack: Any
) -> None:
    """The cancel flow lets go of the deploy row before its transaction commits, and its
    audit params name no environment: the counter looks the deploy up, never counts it
    under an empty environment."""
    bot = running_bot
    bot.runtime.start_background(worker=True, scheduler=False)
    assert bot.command("web 1.2.3 to production", command="/deploy").status_code == 200
    card = slack.wait_for(lambda: message_with(slack, "C0DEPLOYS", "Deploy #1:"))
    click(bot, slack, user="U0ALICE", message=card, channel="C0DEPLOYS", action_id="deploy.cancel")
    slack.wait_for(
        lambda: message_with(slack, "C0DEPLOYS", "Deploy #1:")["text"].endswith("cancelled")
    )  # type: ignore[index]
    deploys = samples(bot, "shipbot_deploys_total")
    assert deploys.get('environment="production",event="cancelled"') == 1.0, deploys
    assert not [labels for labels in deploys if 'environment=""' in labels], deploys
