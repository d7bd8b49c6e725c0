"""`/incident` for private incidents, reopening and follow-ups, and their Block Kit."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.sandbox.slack.blocks import block_errors, view_errors
from commands.incidents import aftercare_views, views
from tests.commands.test_incident import Deps, config, deps, run, stored, with_channel
from workflows.errors import Conflict, UserError
from workflows.incidents.models import IncidentEvent

__all__ = ["config", "deps"]  # the fixtures, shared with test_incident


def test_private_flag_anywhere_before_the_title(deps: Deps) -> None:
    run(deps, "declare SEV3 --private web Leaked key")
    run(deps, "declare --private SEV4 Payroll export")
    assert [(i.title, i.private, i.service) for i in stored(deps)] == [
        ("Leaked key", True, "web"),
        ("Payroll export", True, None),
    ]
    assert "2 private incidents" in str(run(deps, "list", user="U0CAROL").blocks)
    assert "Leaked key" in str(run(deps, "list", user="U0ALICE").blocks)


def test_reopen_calls_the_archive_off_and_needs_a_resolved_incident(deps: Deps) -> None:
    run(deps, "declare SEV2 web Checkout errors")
    (incident,) = stored(deps)
    with_channel(deps, incident)
    here = {"channel": "C0INC", "user": "U0ALICE"}
    with pytest.raises(Conflict, match="not resolved"):
        run(deps, "reopen errors are back", **here)
    run(deps, "resolve cache config reverted", **here)
    (incident,) = stored(deps)
    assert incident.archive_due_at == incident.resolved_at + timedelta(days=7)  # type: ignore[operator]
    with pytest.raises(UserError, match="reason"):
        run(deps, "reopen", **here)
    reply = run(deps, "reopen errors are back", **here)
    assert "reopened" in reply.text
    (incident,) = stored(deps)
    assert (incident.status, incident.archive_due_at, incident.resolved_at) == (
        "investigating",
        None,
        None,
    )


def test_follow_ups_without_a_tracker_say_how_to_configure_one(deps: Deps) -> None:
    run(deps, "declare SEV2 web Checkout errors")
    (incident,) = stored(deps)
    with_channel(deps, incident)
    with pytest.raises(UserError) as refused:
        run(deps, "followup - [ ] alert on cache misses", channel="C0INC")
    assert "incidents.tracker" in (refused.value.hint or "")


def test_the_new_views_are_valid_block_kit(deps: Deps) -> None:
    run(deps, "declare SEV2 web Checkout <b>errors</b>")
    (incident,) = stored(deps)
    with_channel(deps, incident)
    run(deps, "resolve done", channel="C0INC")
    (incident,) = stored(deps)
    filed = IncidentEvent(
        id=9,
        incident_id=incident.id or 0,
        at=deps.clock.now(),
        actor="shipbot",
        kind="follow_up_filed",
        text="Alert <!channel> on misses",
        data={"key": "acme/web#3", "url": "https://github.example/acme/web/issues/3"},
    )
    warning = IncidentEvent(
        id=10,
        incident_id=incident.id or 0,
        at=deps.clock.now(),
        actor="shipbot",
        kind="archive_warning",
        data={"due": (deps.clock.now() + timedelta(days=1)).isoformat()},
    )
    _text, card = views.card(incident, [filed], [], follow_ups=True)
    assert block_errors(card) == []
    assert "<https://github.example/acme/web/issues/3|acme/web#3>" in str(card)
    assert "<!channel>" not in str(card)
    assert any(b["type"] == "actions" for b in card)
    _text, card = views.card(incident, [filed], [], follow_ups=False)
    assert not any(b["type"] == "actions" for b in card)
    _text, warned = aftercare_views.archive_warning(incident, warning)
    assert block_errors(warned) == [] and "archived" in str(warned)
    assert view_errors(aftercare_views.follow_up_modal(incident)) == []
    assert view_errors(views.declare_modal(deps.config, private=True)) == []
    _text, listed = views.incident_list([], hidden_private=1)
    assert block_errors(listed) == [] and "1 private incident" in str(listed)
