"""The Home view and the timeline form, with hostile text: Slack accepts them, nothing in
them notifies anyone, and the form carries the message within Slack's limit."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.sandbox.slack.blocks import view_errors
from commands.home.shortcuts import _message_of, timeline_modal
from commands.home.views import home_view
from workflows.deploys.models import Deploy, DeployLock, DeployState
from workflows.home.data import FreezeAhead, Home, HomeIncident, PendingApproval
from workflows.incidents.cited import CitedMessage
from workflows.incidents.models import Incident

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
HOSTILE = st.text(min_size=1, max_size=300) | st.sampled_from(
    ["<!channel> deploy now", "<@U0BOB> <#C0X> <https://evil|click>", "&lt;!here&gt;", "`"]
)


def _home(text: str) -> Home:
    deploy = Deploy(
        id=7,
        service="web",
        environment="production",
        version="1.2.3",
        reason=text,
        state=DeployState.awaiting_approval,
        requested_by="U0ALICE",
        requested_at=NOW,
        approvals_required=2,
        expires_at=NOW,
    )
    incident = Incident(
        id=3, title=text, severity="SEV2", declared_by="U0DAVE", declared_at=NOW, channel_id=None
    )
    lock = DeployLock(environment="production", reason=text, locked_by="U0BOB", locked_at=NOW)
    freeze = FreezeAhead("production", NOW, NOW, False, text, "UTC")
    return Home(
        user_id="U0BOB",
        pending=[PendingApproval(deploy, 1, 2)],
        recent=[deploy],
        incidents=[HomeIncident(incident, True)],
        locks=[lock],
        freezes=[freeze],
    )


@settings(max_examples=60, deadline=None)
@given(text=HOSTILE)
def test_home_view_is_valid_and_inert(text: str) -> None:
    view = home_view(_home(text))
    assert view_errors(view) == []
    shown = json.dumps(view)
    assert "<!channel>" not in shown and "<!here>" not in shown and "<https://evil" not in shown
    approve = [
        e
        for b in view["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == "deploy.approve"
    ]
    assert [e["value"] for e in approve] == ["7:1.2.3"]  # bound to the exact deploy


@settings(max_examples=60, deadline=None)
@given(text=st.text(max_size=5000) | st.just('"' * 4000) | st.just("\u2603" * 3000))
def test_timeline_form_carries_the_message_within_slacks_limit(text: str) -> None:
    message = CitedMessage(channel="C0DEPLOYS", ts="1700000000.000100", author="U0DAVE", text=text)
    modal = timeline_modal(message, [("3", "SEV2 incident #3: Checkout errors")])
    assert view_errors(modal) == []
    assert len(modal["private_metadata"]) <= 3000
    carried = _message_of(modal["private_metadata"])
    assert (carried.channel, carried.ts, carried.author) == ("C0DEPLOYS", message.ts, "U0DAVE")
    assert text.startswith(carried.text)
