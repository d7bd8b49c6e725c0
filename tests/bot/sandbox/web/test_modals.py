"""Modals in the sandbox page: opened by the app with the trigger of one person's command,
shown to that person only, submitted as signed ``view_submission``, and closed, updated or
marked with field errors as the app answers."""

from __future__ import annotations

from typing import Any

from bot.sandbox.signing import block_actions_body
from tests.bot.sandbox.web import test_routes as test_web_routes
from tests.bot.sandbox.web.test_routes import Harness

sandbox = test_web_routes.sandbox  # the same fixture: emulator, stand-in app and page

FORM = {
    "type": "modal",
    "callback_id": "deploy.request",
    "private_metadata": "from-C0DEPLOYS",
    "title": {"type": "plain_text", "text": "Deploy"},
    "submit": {"type": "plain_text", "text": "Ask to deploy"},
    "blocks": [
        {
            "type": "input",
            "block_id": "environment",
            "label": {"type": "plain_text", "text": "Environment"},
            "element": {
                "type": "static_select",
                "action_id": "environment",
                "options": [
                    {"text": {"type": "plain_text", "text": "staging"}, "value": "staging"},
                    {"text": {"type": "plain_text", "text": "production"}, "value": "production"},
                ],
            },
        },
        {
            "type": "input",
            "block_id": "version",
            "label": {"type": "plain_text", "text": "Version"},
            "element": {"type": "plain_text_input", "action_id": "version"},
        },
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Help"},
                    "action_id": "deploy.form_help",
                    "value": "help",
                }
            ],
        },
    ],
}


def _open_form(harness: Harness) -> dict[str, Any]:
    """alice types a bare /deploy; the stand-in app opens the form with her trigger."""

    def open_form(payload: dict[str, Any]) -> tuple[int, Any]:
        harness.web_client.views_open(trigger_id=payload["trigger_id"], view=FORM)
        return 200, None

    harness.bot.answer = open_form
    harness.do("/api/command", user="U0ALICE", channel="C0DEPLOYS", text="/deploy")
    modal = harness.state("U0ALICE")["modal"]
    assert modal is not None
    return modal


def _submission(harness: Harness) -> dict[str, Any]:
    request = harness.bot.received[-1]
    assert request["valid"] is True
    assert request["payload"]["type"] == "view_submission"
    return request["payload"]


def test_a_modal_shows_to_its_user_and_submits_state_values(sandbox: Harness) -> None:
    modal = _open_form(sandbox)
    assert "Ask to deploy" in modal["html"] and 'name="version"' in modal["html"]
    assert sandbox.state("U0BOB")["modal"] is None

    # Required fields are checked before anything is sent, as Slack's client does.
    empty = sandbox.do("/api/view/submit", user="U0ALICE", view_id=modal["id"], values={})
    assert empty.json()["errors"] == {
        "environment": "Please complete this required field.",
        "version": "Please complete this required field.",
    }
    assert len(sandbox.bot.received) == 1

    sandbox.bot.answer = lambda payload: (
        200,
        {"response_action": "errors", "errors": {"version": "not a version"}},
    )
    values = {"environment": "1", "version": "bad version"}
    refused = sandbox.do("/api/view/submit", user="U0ALICE", view_id=modal["id"], values=values)
    assert refused.json() == {"ok": False, "errors": {"version": "not a version"}}
    view = _submission(sandbox)["view"]
    assert (view["id"], view["callback_id"], view["private_metadata"]) == (
        modal["id"],
        "deploy.request",
        "from-C0DEPLOYS",
    )
    assert view["state"]["values"] == {
        "environment": {
            "environment": {
                "type": "static_select",
                "selected_option": FORM["blocks"][0]["element"]["options"][1],
            }
        },
        "version": {"version": {"type": "plain_text_input", "value": "bad version"}},
    }
    assert _submission(sandbox)["user"]["id"] == "U0ALICE"
    assert sandbox.state("U0ALICE")["modal"]["id"] == modal["id"]  # still open

    sandbox.bot.answer = lambda payload: (200, None)  # an empty ack closes it
    values = {"environment": "1", "version": "1.2.3"}
    done = sandbox.do("/api/view/submit", user="U0ALICE", view_id=modal["id"], values=values)
    assert done.json() == {"ok": True, "errors": {}}
    assert sandbox.state("U0ALICE")["modal"] is None


def test_only_its_owner_submits_or_closes_a_modal(sandbox: Harness) -> None:
    modal = _open_form(sandbox)
    values = {"environment": "0", "version": "1"}
    stolen = sandbox.do("/api/view/submit", user="U0BOB", view_id=modal["id"], values=values)
    assert stolen.status_code == 400 and "closed" in stolen.json()["error"]
    assert sandbox.do("/api/view/close", user="U0BOB", view_id=modal["id"]).status_code == 400
    assert sandbox.do("/api/view/close", user="U0ALICE", view_id=modal["id"]).json()["ok"]
    assert sandbox.state("U0ALICE")["modal"] is None
    assert len(sandbox.bot.received) == 1  # the command; nothing after it


def test_update_and_push_answers(sandbox: Harness) -> None:
    modal = _open_form(sandbox)
    updated = {**FORM, "title": {"type": "plain_text", "text": "Deploy: check"}}
    sandbox.bot.answer = lambda payload: (200, {"response_action": "update", "view": updated})
    values = {"environment": "0", "version": "1.0"}
    sandbox.do("/api/view/submit", user="U0ALICE", view_id=modal["id"], values=values)
    shown = sandbox.state("U0ALICE")["modal"]
    assert shown["id"] == modal["id"] and shown["hash"] != modal["hash"]
    assert "Deploy: check" in shown["html"]

    pushed = {
        "type": "modal",
        "title": {"type": "plain_text", "text": "shipbot"},
        "close": {"type": "plain_text", "text": "Back"},
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Error id e-1"}}],
    }
    sandbox.bot.answer = lambda payload: (200, {"response_action": "push", "view": pushed})
    sandbox.do("/api/view/submit", user="U0ALICE", view_id=modal["id"], values=values)
    top = sandbox.state("U0ALICE")["modal"]
    assert top["id"] != modal["id"] and "Error id e-1" in top["html"] and "Back" in top["html"]
    # Closing the pushed view goes back to the form underneath.
    sandbox.do("/api/view/close", user="U0ALICE", view_id=top["id"])
    assert sandbox.state("U0ALICE")["modal"]["id"] == modal["id"]


def test_a_button_in_a_modal_sends_block_actions_from_the_view(sandbox: Harness) -> None:
    modal = _open_form(sandbox)
    clicked = sandbox.do(
        "/api/click",
        user="U0ALICE",
        view_id=modal["id"],
        path="blocks/2/elements/0",
        action_id="deploy.form_help",
    )
    assert clicked.status_code == 200
    payload = sandbox.bot.received[-1]["payload"]
    assert payload["type"] == "block_actions"
    assert payload["container"] == {"type": "view", "view_id": modal["id"]}
    assert payload["view"]["callback_id"] == "deploy.request"
    assert payload["actions"][0]["value"] == "help"
    assert "response_url" not in payload and "message" not in payload


def test_block_actions_body_defaults_are_unchanged() -> None:
    # The emulator's older callers (tests/e2e) build clicks without the new arguments.
    body = block_actions_body(user_id="U1", action_id="a", channel_id="C1", message_ts="1.2")
    assert b"is_ephemeral%22%3Afalse" in body and b"%22message%22" in body
