"""The incident channel's deploy and lock messages (issue 16, item 1) are pure functions of
stored rows: whatever a person typed as a reason or a version stays inert (no broadcast,
no mention, no link) and the text ends with the deploy's state."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from commands.incidents.deploy_notes import change_note, deploy_note
from tests.fuzz.strategies import NASTY
from workflows.deploys.models import Deploy, DeployState
from workflows.incidents.models import Incident, IncidentEvent
from workflows.incidents.watch import STATE_WORDS, WatchedDeploy

AT = datetime(2026, 12, 1, 4, 0, tzinfo=UTC)
hostile = st.lists(st.sampled_from(NASTY) | st.text(max_size=40), max_size=4).map(" ".join)


def _incident() -> Incident:
    return Incident(
        id=3, title="t", severity="SEV2", service="web", declared_by="U0ALICE", declared_at=AT
    )


def _deploy(state: str, reason: str = "", version: str = "1.2.3") -> Deploy:
    return Deploy(
        id=7,
        service="web",
        environment="staging",
        version=version,
        reason=reason,
        state=state,
        requested_by="U0ALICE",
        requested_at=AT,
        override=bool(reason),
        override_reason=reason or None,
    )


def _inert(blocks: object) -> bool:
    shown = json.dumps(blocks)
    own = shown.replace("<@U0ALICE>", "").replace("<@U0BOB>", "")
    return "<!" not in own and "<@" not in own and "<#" not in own and "<http" not in own


@given(reason=hostile, version=hostile)
@settings(max_examples=200, deadline=None)
def test_a_deploy_message_keeps_what_people_typed_inert(reason: str, version: str) -> None:
    text, blocks = deploy_note(WatchedDeploy(_incident(), _deploy("running", reason, version)))
    assert _inert(blocks) and _inert(text)
    assert text.endswith("— started")


@given(reason=hostile)
@settings(max_examples=200, deadline=None)
def test_a_lock_message_keeps_what_people_typed_inert(reason: str) -> None:
    event = IncidentEvent(
        id=1, incident_id=3, at=AT, actor="U0BOB", kind="lock", text=f"web locked: {reason}"
    )
    text, blocks = change_note(_incident(), event)
    assert _inert(blocks) and _inert(text)
    assert text.startswith(":lock: *Lock* by <@U0BOB>")


def test_every_state_ends_the_text() -> None:
    for state in DeployState:
        text, _ = deploy_note(WatchedDeploy(_incident(), _deploy(state)))
        assert text.endswith(f"— {STATE_WORDS[state]}"), state
