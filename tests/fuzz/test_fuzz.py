"""Property-based fuzzing through signed HTTP into the whole app, on both databases (issue
11): whatever is typed, clicked, submitted or posted to a webhook, shipbot answers
without a 5xx or an error id, never echoes a broadcast, and stores nothing half-written
(``assert_nothing_half_written`` checks every row, the audit chain and every message the
bot keeps, after the run)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given

from tests.fuzz.conftest import (
    FuzzApp,
    assert_clean_answer,
    assert_nothing_half_written,
    examples,
    fuzz_settings,
)
from tests.fuzz.hook_bodies import SOURCES, Body, hook_bodies
from tests.fuzz.strategies import button_clicks, modal_submissions, slash_commands

COMMANDS, BUTTONS, MODALS, HOOKS = 2000, 400, 400, 1000

pytestmark = pytest.mark.timeout(1800)


def _some_state(app: FuzzApp) -> None:
    """An incident and deploys to aim at, so fuzzed ids and buttons reach real rows."""
    for command, text in (
        ("/incident", "declare SEV3 web fuzz target"),
        ("/deploy", "web 1.0.0 to staging"),
        ("/deploy", "web 1.0.1 to production first"),
    ):
        assert_clean_answer(app.command(command, text, user="U0ALICE", channel="C0DEPLOYS"))


def test_fuzzed_slash_commands(fuzz_app: FuzzApp) -> None:
    _some_state(fuzz_app)

    @fuzz_settings(COMMANDS)
    @given(slash_commands())
    def one(request: tuple[str, str, str, str]) -> None:
        command, text, user, channel = request
        assert_clean_answer(fuzz_app.command(command, text, user=user, channel=channel))

    one()
    assert fuzz_app.sent["commands"] >= examples(COMMANDS)
    assert_nothing_half_written(fuzz_app)


def test_fuzzed_buttons_and_modals(fuzz_app: FuzzApp) -> None:
    _some_state(fuzz_app)

    @fuzz_settings(BUTTONS)
    @given(button_clicks())
    def click(payload: dict[str, Any]) -> None:
        assert_clean_answer(fuzz_app.interactive(payload, "buttons"))

    @fuzz_settings(MODALS)
    @given(modal_submissions())
    def submit(payload: dict[str, Any]) -> None:
        assert_clean_answer(fuzz_app.interactive(payload, "modals"))

    click()
    submit()
    assert fuzz_app.sent["buttons"] >= examples(BUTTONS)
    assert fuzz_app.sent["modals"] >= examples(MODALS)
    assert_nothing_half_written(fuzz_app)


def test_fuzzed_webhook_bodies_of_every_source(fuzz_app: FuzzApp) -> None:
    answered: dict[str, set[int]] = {source: set() for source in SOURCES}

    @fuzz_settings(HOOKS)
    @given(hook_bodies())
    def post(hook: Body) -> None:
        source, body, headers = hook
        response = fuzz_app.hook(source, body, headers)
        assert_clean_answer(response)
        answered[source].add(response.status_code)

    post()
    assert fuzz_app.sent["webhooks"] >= examples(HOOKS)
    # Every parser was reached with bodies it accepted and bodies it refused.
    for source, statuses in answered.items():
        assert 200 in statuses, (source, statuses)
    assert_nothing_half_written(fuzz_app)
