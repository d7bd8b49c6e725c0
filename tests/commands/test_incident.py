"""`/incident`: parsing, replies and modals, through the real workflows on both databases."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlmodel import col, select

from commands.common.reply import Action, Reply, SlashCommand, Submission
from commands.incidents import actions, views
from commands.incidents import handlers as command
from workflows.clock import FakeClock
from workflows.config import load_config
from workflows.config.models import ShipbotConfig
from workflows.deploys.directory import Directory, NoDirectory
from workflows.errors import DuplicateDelivery, NotFound, PermissionDenied, UserError
from workflows.incidents.declare import channel_ready
from workflows.incidents.models import Incident, IncidentEvent
from workflows.store.db import Database

EXAMPLE_CONFIG = Path(__file__).resolve().parents[2] / "examples" / "shipbot.yaml"


@dataclass
class Deps:
    database: Database
    clock: FakeClock
    config: ShipbotConfig
    woken: list[bool] = field(default_factory=list)
    directory: Directory = field(default_factory=NoDirectory)  # the example's groups list users

    def wake_worker(self) -> None:
        self.woken.append(True)


@pytest.fixture
def config() -> ShipbotConfig:
    return load_config(EXAMPLE_CONFIG)


@pytest.fixture
def deps(database: Database, clock: FakeClock, config: ShipbotConfig) -> Deps:
    return Deps(database, clock, config)


_keys = iter(range(10**6))


def run(deps: Deps, text: str, *, user: str = "U0ALICE", channel: str = "C0DEPLOYS") -> Reply:
    request = SlashCommand(
        command="/incident",
        text=text,
        user_id=user,
        channel_id=channel,
        trigger_id="T1",
        delivery_key=f"slack:command:{next(_keys)}",
    )
    return command.SPEC.dispatch(request, deps)


def stored(deps: Deps) -> list[Incident]:
    with deps.database.read_session() as session:
        return list(session.exec(select(Incident).order_by(col(Incident.id))))


def timeline_kinds(deps: Deps, incident_id: int) -> list[str]:
    with deps.database.read_session() as session:
        query = select(IncidentEvent).where(col(IncidentEvent.incident_id) == incident_id)
        return [e.kind for e in session.exec(query.order_by(col(IncidentEvent.id)))]


def with_channel(deps: Deps, incident: Incident, channel: str = "C0INC") -> None:
    with deps.database.transaction() as session:
        channel_ready(
            session=session,
            clock=deps.clock,
            config=deps.config,
            incident_id=incident.id or 0,
            channel_id=channel,
            channel_name="inc-x",
        )


@pytest.mark.parametrize(
    ("word", "user"),
    [("<@U0BOB|bob>", "U0BOB"), ("<@U0BOB>", "U0BOB"), ("U0BOB", "U0BOB"), ("@carol", "U0CAROL")],
)
def test_parse_user(word: str, user: str, config: ShipbotConfig) -> None:
    assert command.parse_user(word, config) == user


def test_parse_user_refuses_strangers(config: ShipbotConfig) -> None:
    with pytest.raises(UserError, match="can't tell who"):
        command.parse_user("@mallory", config)


def test_help_lists_every_usage(deps: Deps) -> None:
    text = run(deps, "help").text
    for sub in ("declare", "status", "sev", "assign", "note", "timeline", "resolve", "list"):
        assert f"/incident {sub}" in text


def test_declare_with_service_and_without(deps: Deps) -> None:
    reply = run(deps, "declare SEV2 web Checkout errors")
    assert "Declared SEV2 incident #1" in reply.text and "setting up" in reply.text
    assert reply.response_type == "ephemeral" and deps.woken
    run(deps, "declare sev3 Webhooks are slow")
    first, second = stored(deps)
    assert (first.service, first.title) == ("web", "Checkout errors")
    assert (second.service, second.title, second.severity) == (None, "Webhooks are slow", "SEV3")


def test_declare_errors(deps: Deps) -> None:
    with pytest.raises(UserError, match="not a severity"):
        run(deps, "declare high web down")
    with pytest.raises(UserError, match="needs a title"):
        run(deps, "declare SEV1 web")


def test_bare_declare_opens_a_modal_whose_submission_declares(deps: Deps) -> None:
    reply = run(deps, "declare")
    assert reply.modal is not None and reply.modal["callback_id"] == views.DECLARE_MODAL
    blocks = {b.get("block_id") for b in reply.modal["blocks"]}
    assert {"title", "severity", "service"} <= blocks
    submission = Submission(
        callback_id=views.DECLARE_MODAL,
        user_id="U0BOB",
        values={"title": "Payments down", "severity": "SEV1", "service": "web"},
        private_metadata=reply.modal["private_metadata"],
        delivery_key="slack:view:V1:h1",
    )
    assert actions.submit_declare(submission, deps) is None
    (incident,) = stored(deps)
    assert (incident.severity, incident.commander, incident.title) == (
        "SEV1",
        "U0BOB",
        "Payments down",
    )
    with pytest.raises(DuplicateDelivery):
        actions.submit_declare(submission, deps)
    bad = Submission(views.DECLARE_MODAL, "U0BOB", {"title": " ", "severity": "SEV1"})
    assert actions.submit_declare(bad, deps) == {
        "title": "An incident needs a title. "
        "For example `/incident declare SEV2 web Checkout errors`."
    }


def test_changes_must_name_the_incident_outside_its_channel(deps: Deps) -> None:
    run(deps, "declare SEV2 web Checkout errors")
    (incident,) = stored(deps)
    with pytest.raises(UserError) as raised:
        run(deps, "status identified bad cache config", channel="C0DEPLOYS")
    assert "not an incident channel" in raised.value.message
    assert "#12" in (raised.value.hint or "")
    reply = run(deps, f"status #{incident.id} identified bad cache config")
    assert "status is *identified*" in reply.text
    with pytest.raises(NotFound):
        run(deps, "note #999 hello")


def test_commands_in_the_incident_channel(deps: Deps) -> None:
    run(deps, "declare SEV2 web Checkout errors")
    (incident,) = stored(deps)
    with_channel(deps, incident)
    here = {"channel": "C0INC", "user": "U0BOB"}
    run(deps, "status identified bad cache config", **here)
    run(deps, "sev 1", **here)
    run(deps, "assign comms <@U0CAROL|carol>", **here)
    run(deps, "assign scribe <@U0DAVE>", **here)
    run(deps, "note rolled back web to 1.4.1", **here)
    timeline = run(deps, "timeline", **here)
    assert "bad cache config" in timeline.text + str(timeline.blocks)
    listed = run(deps, "list", channel="C0DEPLOYS")
    assert "Checkout errors" in str(listed.blocks) and "<#C0INC>" in str(listed.blocks)
    # A responder may run the incident but not end it: that lifts its deploy block.
    with pytest.raises(PermissionDenied) as refused:
        run(deps, "resolve cache config reverted", **here)
    assert "the commander: <@U0ALICE>" in (refused.value.hint or "")
    run(deps, "resolve cache config reverted", channel="C0INC", user="U0ALICE")
    (incident,) = stored(deps)
    assert (incident.severity, incident.comms, incident.scribe, incident.status) == (
        "SEV1",
        "U0CAROL",
        "U0DAVE",
        "resolved",
    )
    assert timeline_kinds(deps, incident.id or 0) == [
        "declared",
        "status",
        "severity",
        "assign",
        "assign",
        "note",
        "resolved",
    ]
    assert "No open incidents" in run(deps, "list").text
    with pytest.raises(UserError, match="resolved already"):
        run(deps, "resolve again", **here)


def test_argument_errors(deps: Deps) -> None:
    run(deps, "declare SEV2 web Checkout errors")
    (incident,) = stored(deps)
    with_channel(deps, incident)
    for text, message in (
        ("status", "Which status"),
        ("status fixed it works", "not a status"),
        ("sev", "Which severity"),
        ("sev 7", "not a severity"),
        ("assign commander", "role and a person"),
        ("assign janitor <@U0BOB>", "not a role"),
        ("note   ", "needs a message"),
    ):
        with pytest.raises(UserError, match=message):
            run(deps, text, channel="C0INC")


def test_bare_resolve_opens_the_resolve_modal(deps: Deps) -> None:
    run(deps, "declare SEV2 web Checkout errors")
    (incident,) = stored(deps)
    with_channel(deps, incident)
    reply = run(deps, "resolve", channel="C0INC")
    assert reply.modal is not None and reply.modal["callback_id"] == views.RESOLVE_MODAL


def test_card_buttons_open_modals_whose_submissions_change_the_incident(deps: Deps) -> None:
    run(deps, "declare SEV2 web Checkout errors")
    (incident,) = stored(deps)
    value = str(incident.id)
    handlers = {"open_status": actions.open_status, "open_assign": actions.open_assign}
    click = Action(action_id="x", value=value, user_id="U0BOB")
    opened = {name: handler(click, deps) for name, handler in handlers.items()}
    callbacks = {name: reply.modal["callback_id"] for name, reply in opened.items() if reply.modal}
    assert callbacks == {"open_status": views.STATUS_MODAL, "open_assign": views.ASSIGN_MODAL}
    # Bob (a SEV2 responder) may not resolve Alice's incident, so the form is refused...
    with pytest.raises(PermissionDenied, match="may not resolve"):
        actions.open_resolve(click, deps)
    meta = opened["open_status"].modal["private_metadata"]  # type: ignore[index]
    status = Submission(
        views.STATUS_MODAL, "U0BOB", {"status": "monitoring", "message": "ok"}, meta
    )
    assert actions.submit_status(status, deps) is None
    assign = Submission(
        views.ASSIGN_MODAL, "U0BOB", {"commander": "U0BOB"}, meta, "slack:view:V2:h"
    )
    assert actions.submit_assign(assign, deps) is None
    # ...until he takes command.
    assert actions.open_resolve(click, deps).modal["callback_id"] == views.RESOLVE_MODAL  # type: ignore[index]
    empty = Submission(views.RESOLVE_MODAL, "U0BOB", {"summary": ""}, meta)
    assert "needs a message" in (actions.submit_resolve(empty, deps) or {}).get("summary", "")
    resolve = Submission(views.RESOLVE_MODAL, "U0BOB", {"summary": "fixed"}, meta)
    assert actions.submit_resolve(resolve, deps) is None
    (incident,) = stored(deps)
    assert (incident.status, incident.commander) == ("resolved", "U0BOB")
    late = actions.open_status(Action(action_id="x", value=value, user_id="U0BOB"), deps)
    assert late.modal is None and "resolved already" in late.text


def test_modals_and_card_pass_slacks_block_validation(deps: Deps) -> None:
    from bot.sandbox.slack.blocks import block_errors, view_errors

    run(deps, "declare SEV2 web Checkout <b>errors</b> & more")
    (incident,) = stored(deps)
    for modal in (
        views.declare_modal(deps.config),
        views.status_modal(incident),
        views.assign_modal(incident),
        views.resolve_modal(incident),
    ):
        assert view_errors(modal) == []
    with deps.database.read_session() as session:
        events = list(session.exec(select(IncidentEvent)))
    _text, blocks = views.card(incident, events, [])
    assert block_errors(blocks) == []
    assert "&lt;b&gt;errors&lt;/b&gt; &amp; more" in str(blocks)
