"""`/deploy` answers through signed HTTP: bad input, explain, the form, reject with a
reason, cancel, status and history, and `shipbot explain` from a terminal."""

from __future__ import annotations

from typing import Any

import pytest

from bot.cli import main
from bot.sandbox.signing import view_submission_body
from tests.e2e.conftest import RunningBot
from tests.e2e.deploy_helpers import buttons, click, message_with


def _say(bot: RunningBot, text: str, user: str = "U0ALICE") -> str:
    response = bot.command(text, command="/deploy", user=user)
    assert response.status_code == 200
    return str(response.json()["text"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("wbe 1.2.3 to staging", "There is no service `wbe`"),
        ("wbe 1.2.3 to staging", "Did you mean `web`?"),
        ("web 1.2.3 to prod", "Environments: `staging`, `production`"),
        ("web 1.2.3", "Usage: `/deploy <service> <version> [to] <environment>"),
        ("web $(reboot) staging", "is not a version I can deploy"),
        ("cancel abc", "is not a deploy id"),
        ("rollback web", "Roll back what?"),
        ("lock production", "Lock needs a reason"),
        ("explain web", "Usage: `/deploy explain <service> <environment> [version]`"),
        ("history", "History of which service?"),
    ],
)
def test_bad_input_gets_a_short_answer_that_says_what_works(
    running_bot: RunningBot, text: str, expected: str
) -> None:
    assert expected in _say(running_bot, text)


def test_help_lists_every_sub_command(running_bot: RunningBot) -> None:
    text = _say(running_bot, "help")
    for usage in ("status", "history", "rollback", "cancel", "lock", "unlock", "explain"):
        assert f"/deploy {usage}" in text


def test_explain_lists_each_rule_for_the_asking_user(running_bot: RunningBot) -> None:
    text = _say(running_bot, "explain web production", user="U0DAVE")
    assert "can deploy web to production now" in text
    assert "needs 2 approval(s) from sre" in text
    _say(running_bot, "lock production db migration", user="U0BOB")
    text = _say(running_bot, "explain web production", user="U0DAVE")
    assert "cannot deploy web to production now" in text
    assert "the whole environment is locked by <@U0BOB>" in text and "db migration" in text
    assert "(break-glass does not lift this)" in text


def test_bare_deploy_opens_the_form_and_submitting_it_asks_for_the_deploy(
    running_bot: RunningBot, slack: Any
) -> None:
    response = running_bot.command("", command="/deploy", user="U0ALICE")
    assert response.status_code == 200
    (view,) = slack.views()
    assert view["callback_id"] == "deploy.request"
    values = {
        "service": {"service": {"type": "static_select", "selected_option": {"value": "web"}}},
        "environment": {
            "environment": {"type": "static_select", "selected_option": {"value": "production"}}
        },
        "version": {"version": {"type": "plain_text_input", "value": "2.0.0"}},
        "reason": {"reason": {"type": "plain_text_input", "value": "new checkout"}},
    }
    body = view_submission_body(
        user_id="U0ALICE", callback_id="deploy.request", state_values=values
    )
    answer = running_bot.post_signed(body)
    assert answer.status_code == 200 and answer.content in (b"", b"{}")
    assert "#1 `2.0.0` → production: *awaiting approval*" in _say(running_bot, "status web")

    bad = dict(values, version={"version": {"type": "plain_text_input", "value": "no way"}})
    body = view_submission_body(user_id="U0ALICE", callback_id="deploy.request", state_values=bad)
    errors = running_bot.post_signed(body).json()
    assert errors["response_action"] == "errors" and "version" in errors["errors"]


def test_reject_asks_why_and_the_reason_reaches_the_message(
    running_bot: RunningBot, slack: Any
) -> None:
    running_bot.runtime.start_background(worker=True, scheduler=False)
    _say(running_bot, "web 1.2.3 to production shiny")
    request = slack.wait_for(lambda: message_with(slack, "C0APPROVE", "Approval needed"))
    click(
        running_bot,
        slack,
        user="U0CAROL",
        message=request,
        channel="C0APPROVE",
        action_id="deploy.reject",
    )
    (view,) = slack.views()
    assert view["callback_id"] == "deploy.reject"
    empty = view_submission_body(
        user_id="U0CAROL",
        callback_id="deploy.reject",
        private_metadata=view["private_metadata"],
        state_values={"reason": {"reason": {"type": "plain_text_input", "value": " "}}},
    )
    assert running_bot.post_signed(empty).json()["response_action"] == "errors"
    body = view_submission_body(
        user_id="U0CAROL",
        callback_id="deploy.reject",
        private_metadata=view["private_metadata"],
        state_values={
            "reason": {"reason": {"type": "plain_text_input", "value": "not on a Friday"}}
        },
    )
    assert running_bot.post_signed(body).status_code == 200
    card = slack.wait_for(
        lambda: (
            (m := message_with(slack, "C0DEPLOYS", "Deploy #1:"))
            and m["text"].endswith("rejected")
            and m
        )
    )
    assert "not on a Friday" in str(card["blocks"]) and buttons(card) == {}


def test_cancel_button_cancels_a_waiting_deploy(running_bot: RunningBot, slack: Any) -> None:
    running_bot.runtime.start_background(worker=True, scheduler=False)
    _say(running_bot, "web 1.2.3 to production")
    card = slack.wait_for(lambda: message_with(slack, "C0DEPLOYS", "Deploy #1:"))
    click(
        running_bot,
        slack,
        user="U0ALICE",
        message=card,
        channel="C0DEPLOYS",
        action_id="deploy.cancel",
    )
    slack.wait_for(
        lambda: message_with(slack, "C0DEPLOYS", "Deploy #1:")["text"].endswith("cancelled")
    )  # type: ignore[index]
    assert "cancelled" in _say(running_bot, "history web")


def test_shipbot_explain_from_the_terminal(
    running_bot: RunningBot, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.e2e.conftest import EXAMPLE_CONFIG

    monkeypatch.setenv("SHIPBOT_DATABASE_URL", running_bot.runtime.database.url)
    monkeypatch.setenv("SHIPBOT_CONFIG", str(EXAMPLE_CONFIG))
    assert main(["explain", "web", "production", "--user", "U0ALICE"]) == 0
    out = capsys.readouterr().out
    assert "ok      permission: you may deploy here" in out
    assert "=> @alice (U0ALICE) can deploy web to production now." in out
    _say(running_bot, "lock production web db migration", user="U0BOB")
    assert main(["explain", "web", "production", "--user", "U0ALICE"]) == 1
    out = capsys.readouterr().out
    assert "BLOCKED lock: web is locked by @bob (U0BOB)" in out
    assert main(["explain", "wbe", "production", "--user", "U0ALICE"]) == 2
    assert "Did you mean `web`?" in capsys.readouterr().err
