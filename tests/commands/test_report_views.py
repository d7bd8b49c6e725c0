"""Report messages are valid Block Kit built from the stored figures, and `/shipbot report`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.models.blocks import Block
from sqlmodel import select

from bot.sandbox.slack.api import FakeSlackApi
from bot.sandbox.slack.blocks import block_errors
from commands.common.reply import SlashCommand
from commands.reports.views import duration, render_run
from commands.shipbot import handlers as shipbot
from tests.workflows.reports.datasets import (
    FIRE,
    example_config,
    seed_digest,
    seed_dora,
    seed_pending,
)
from workflows.clock import FakeClock
from workflows.errors import DuplicateDelivery, NotFound, PermissionDenied, UserError
from workflows.reports.models import ReportRun
from workflows.reports.runner import compute_figures
from workflows.store.db import Database

SEEDS: dict[str, Callable[[Database], Any]] = {
    "deploy_digest": seed_digest,
    "dora": seed_dora,
    "incident_summary": seed_dora,
    "pending_approvals": seed_pending,
    "audit_checkpoint": lambda database: None,
}


def figures_of(database: Database, kind: str) -> dict[str, Any]:
    with database.read_session() as session:
        return compute_figures(
            session=session,
            config=example_config(),
            kind=kind,
            report_name=f"the-{kind}",
            fire_time=FIRE,
            timezone="Europe/Berlin",
            params={},
        )


def meta(kind: str, trigger: str = "scheduled") -> dict[str, str]:
    return {
        "name": f"the-{kind}",
        "kind": kind,
        "trigger": trigger,
        "requested_by": "U0BOB",
        "fire_time": FIRE.isoformat(),
        "timezone": "Europe/Berlin",
    }


def assert_valid(blocks: list[dict[str, Any]]) -> None:
    assert block_errors(blocks) == []
    for block in blocks:
        parsed = Block.parse(block)
        assert parsed is not None
        parsed.validate_json()


@pytest.mark.parametrize("kind", sorted(SEEDS))
def test_each_kind_renders_valid_blocks_that_slack_accepts(
    database: Database, slack: FakeSlackApi, kind: str
) -> None:
    channel = slack.add_channel("deploys")
    client = WebClient(token="xoxb-test", base_url=slack.url)
    for seeded in (False, True):  # with no data at all, then with the dataset
        if seeded:
            SEEDS[kind](database)
        for trigger in ("scheduled", "missed", "manual"):
            text, blocks = render_run(meta(kind, trigger), figures_of(database, kind))
            assert text and blocks[0]["type"] == "header"
            assert_valid(blocks)
            client.chat_postMessage(channel=channel, text=text, blocks=blocks)
    assert len(slack.messages(channel)) == 6
    assert slack.take_invalid() == []


def all_text(blocks: list[dict[str, Any]]) -> str:
    parts = []
    for block in blocks:
        if "text" in block:
            parts.append(block["text"]["text"])
        parts += [field["text"] for field in block.get("fields", [])]
        parts += [element.get("text", "") for element in block.get("elements", [])]
    return "\n".join(parts)


def test_the_digest_says_the_hand_computed_figures(database: Database) -> None:
    seed_digest(database)
    text, blocks = render_run(meta("deploy_digest"), figures_of(database, "deploy_digest"))
    digest = all_text(blocks)
    assert "Sun 11 Jan 09:00 to Mon 12 Jan 09:00 (Europe/Berlin)" in digest
    assert "*Deploys finished*\n8" in digest and "*Break-glass overrides*\n2" in digest
    assert "approved by <@U0BOB>, <@U0CAROL>" in digest and "_hotfix for the outage_" in digest
    assert "*web* → production `1.9`: 2h 00m" in digest
    assert text.startswith("Deploy digest: the-deploy_digest: 8 deploys finished")


def test_dora_and_the_incident_summary_say_the_hand_computed_figures(database: Database) -> None:
    seed_dora(database)
    _text, blocks = render_run(meta("dora"), figures_of(database, "dora"))
    metrics = all_text(blocks)
    assert "5 deploys (0.7/day)\n▲ 67% (was 3)" in metrics
    assert "median 2h 30m (4 deploys with a commit time)\n▲ 67% (was 1h 30m)" in metrics
    assert "60% (3 of 5)\n▲ (was 0%)" in metrics
    assert "median 1h 00m (3 incidents resolved)\n▼ 50% (was 2h 00m)" in metrics
    assert "Mon 1 · Tue 1 · Wed 1 · Thu 1 · Fri 0 · Sat 0 · Sun 1" in metrics

    _text, blocks = render_run(meta("incident_summary"), figures_of(database, "incident_summary"))
    summary = all_text(blocks)
    assert "SEV1 1 · SEV2 1 · SEV3 1 · SEV4 0" in summary
    assert "median 5m 00s, mean 5m 40s (3 incidents)" in summary
    assert "*SEV1* <#C0INC6> SEV1 on db · investigating · db · open 6d 21h" in summary


def test_the_nudge_and_the_checkpoint_say_the_hand_computed_figures(database: Database) -> None:
    seed_pending(database)
    _text, blocks = render_run(meta("pending_approvals"), figures_of(database, "pending_approvals"))
    nudge = all_text(blocks)
    assert "1/2 approvals · waiting on <@U0CAROL>" in nudge and "anyone may approve" in nudge

    _text, blocks = render_run(
        meta("audit_checkpoint", "manual"), figures_of(database, "audit_checkpoint")
    )
    checkpoint = all_text(blocks)
    assert "--expect-head 0:" + "0" * 64 in checkpoint and "run by hand by <@U0BOB>" in checkpoint


def test_durations_read_naturally() -> None:
    assert [duration(s) for s in (None, 0, 59, 61, 3600, 3661, 90000)] == [
        "not available",
        "0s",
        "59s",
        "1m 01s",
        "1h 00m",
        "1h 01m",
        "1d 1h",
    ]


# --- /shipbot report -----------------------------------------------------------------------


def deps_for(database: Database, clock: FakeClock) -> SimpleNamespace:
    woken: list[bool] = []
    return SimpleNamespace(
        database=database,
        clock=clock,
        config=example_config(),
        directory=None,
        woken=woken,
        wake_worker=lambda: woken.append(True),
    )


def command(text: str, user: str = "U0BOB", key: str = "") -> SlashCommand:
    return SlashCommand(
        command="/shipbot", text=text, user_id=user, channel_id="C0DEPLOYS", delivery_key=key
    )


def test_report_list_shows_schedules_and_next_runs_in_their_time_zone(database: Database) -> None:
    clock = FakeClock(FIRE + timedelta(minutes=1))
    reply = shipbot.handle(command("report list"), deps_for(database, clock))
    assert_valid(reply.blocks)
    assert "*weekly-dora* (dora) → <#C0DEPLOYS>" in reply.text
    assert "`0 9 * * MON` Europe/Berlin · next: Mon 19 Jan 09:00 CET · last: never" in reply.text
    assert "next: Tue 13 Jan 00:30 CET" in reply.text  # audit-checkpoint, 30 0 * * *


def test_report_run_by_an_approver_claims_a_manual_run(database: Database) -> None:
    clock = FakeClock(FIRE)
    deps = deps_for(database, clock)
    reply = shipbot.handle(command("report run weekly-dora", key="cmd-1"), deps)
    assert reply.text == "Running report `weekly-dora` now; it will appear in <#C0DEPLOYS>."
    assert deps.woken == [True]
    with database.read_session() as session:
        (run,) = session.exec(select(ReportRun)).all()
    assert (run.trigger, run.requested_by, run.fire_time) == ("manual", "U0BOB", FIRE)
    with pytest.raises(DuplicateDelivery):  # Slack's retry of the same command
        shipbot.handle(command("report run weekly-dora", key="cmd-1"), deps)
    listed = shipbot.handle(command("report list"), deps).text
    assert "last: 2026-01-12 08:00 UTC (manual)" in listed


def test_report_run_refuses_others_and_unknown_names(database: Database) -> None:
    deps = deps_for(database, FakeClock(FIRE))
    with pytest.raises(PermissionDenied):
        shipbot.handle(command("report run weekly-dora", user="U0ALICE"), deps)
    with pytest.raises(NotFound, match="no report named `nope`"):
        shipbot.handle(command("report run nope"), deps)
    with pytest.raises(UserError, match="Run which report"):
        shipbot.handle(command("report run"), deps)
    help_text = shipbot.handle(command("help"), deps).text
    assert "/shipbot report run <name>" in help_text and "/deploy" in help_text
