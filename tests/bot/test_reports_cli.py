"""`shipbot report list|run`: printed in the terminal, or posted with no `serve` running."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from slack_sdk import WebClient
from sqlmodel import select

from bot.cli import main
from bot.deps import Deps
from bot.metrics import Metrics
from bot.sandbox.seed import seed_workspace
from bot.sandbox.slack.api import FakeSlackApi
from bot.scheduler import schedule_reports
from bot.wiring import wire_domains
from commands.reports.messages import render_report
from tests.workflows.reports.datasets import EXAMPLE, example_config, seed_dora
from workflows.clock import FakeClock
from workflows.reports.models import ReportRun
from workflows.store.db import Database
from workflows.store.models import AuditEntry, Job

SHIPBOT = str(Path(sys.executable).with_name("shipbot"))


@pytest.fixture
def environment(database: Database, monkeypatch: pytest.MonkeyPatch) -> Database:
    monkeypatch.setenv("SHIPBOT_DATABASE_URL", database.url)
    monkeypatch.setenv("SHIPBOT_CONFIG", str(EXAMPLE))
    return database


def test_dry_run_prints_the_figures_and_stores_nothing(
    environment: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    seed_dora(environment)
    assert main(["report", "run", "dora", "--dry-run", "--at", "2026-01-12T08:00Z"]) == 0
    out = capsys.readouterr().out
    assert "DORA metrics: weekly-dora\n=========================" in out
    assert "Mon 05 Jan 09:00 to Mon 12 Jan 09:00 (Europe/Berlin)" in out
    assert "Deployment frequency: 5 deploys (0.7/day) · ▲ 67% (was 3)" in out
    assert "Lead time for changes: median 2h 30m (4 deploys with a commit time)" in out
    assert "Change failure rate: 60% (3 of 5) · ▲ (was 0%)" in out
    assert "Time to restore: median 1h 00m (3 incidents resolved) · ▼ 50% (was 2h 00m)" in out
    assert "(dry run: nothing was stored or posted)" in out
    with environment.read_session() as session:
        assert session.exec(select(ReportRun)).first() is None
        assert session.exec(select(Job)).first() is None


def test_dry_run_of_the_audit_checkpoint_and_mentions_by_name(
    environment: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "run", "audit-checkpoint", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "Entries: 0" in out and "Head: entry 0" in out
    assert f"shipbot audit verify --expect-head 0:{'0' * 64}" in out


def test_report_list_and_unknown_names(
    environment: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "list"]) == 0
    out = capsys.readouterr().out
    assert "daily-deploys (deploy_digest) → #deploys" in out
    assert "0 9 * * MON Europe/Berlin · next: Mon" in out
    assert main(["report", "run", "nope", "--dry-run"]) == 2
    assert "no report named nope" in capsys.readouterr().err.replace("`", "")
    assert main(["report", "run", "dora", "--at", "2026-01-12"]) == 2


def test_posting_needs_a_bot_token(
    environment: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "run", "dora"]) == 2
    assert "SLACK_BOT_TOKEN" in capsys.readouterr().err


def png_size(content: bytes) -> tuple[int, int]:
    assert content[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", content[16:24])
    return width, height


def test_run_posts_once_through_the_sender_with_its_chart_and_no_serve(
    environment: Database,
    slack: FakeSlackApi,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    seed_workspace(slack, example_config())
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-cli")
    monkeypatch.setenv("SLACK_API_URL", slack.url)
    assert main(["report", "run", "weekly-dora"]) == 0
    out = capsys.readouterr().out
    assert "DORA metrics: weekly-dora" in out and "posted to #deploys (report run 1)" in out

    message, shared = slack.messages("C0DEPLOYS")
    assert message["blocks"][0]["text"]["text"] == "DORA metrics: weekly-dora"
    assert message["metadata"]["event_payload"] == {"view_key": "report:1"}
    (upload,) = slack.calls_to("files.completeUploadExternal")
    assert upload.body["channel_id"] == "C0DEPLOYS" and upload.body["thread_ts"] == message["ts"]
    assert shared.get("upload") and shared["thread_ts"] == message["ts"]
    (chart,) = slack.files()
    assert chart.completed and chart.content is not None and png_size(chart.content) == (720, 320)

    with environment.read_session() as session:
        (run,) = session.exec(select(ReportRun)).all()
        jobs = session.exec(select(Job)).all()
        (entry,) = session.exec(select(AuditEntry)).all()
    assert run.trigger == "manual" and run.requested_by.startswith("cli:")
    assert run.chart_shared_at is not None
    assert sorted(job.kind for job in jobs) == ["render", "report.chart", "report.run"]
    assert {job.state for job in jobs} == {"succeeded"}
    assert (entry.action, entry.target) == ("report.run", "report:weekly-dora")


def test_the_console_script_prints_a_dry_run(environment: Database) -> None:
    env = {
        **os.environ,
        "SHIPBOT_DATABASE_URL": environment.url,
        "SHIPBOT_CONFIG": str(EXAMPLE),
    }
    result = subprocess.run(
        [SHIPBOT, "report", "run", "daily-deploys", "--dry-run"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Deploy digest: daily-deploys" in result.stdout
    assert "Deploys finished: 0" in result.stdout


def test_each_report_gets_a_cron_job_in_its_time_zone_and_a_start_up_look(
    sqlite_database: Database,
) -> None:
    deps = Deps(
        database=sqlite_database,
        clock=FakeClock(),
        client=WebClient(token="xoxb-test"),
        metrics=Metrics(),
        config=example_config(),
    )
    wiring = wire_domains(deps=deps, state_dir=Path("."))
    assert {"report.run", "report.chart"} <= set(wiring.job_handlers)
    assert wiring.renderers.resolve("report:12") is render_report
    scheduler = BackgroundScheduler(timezone="UTC")
    schedule_reports(scheduler, deps)
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert set(jobs) == {
        "report:daily-deploys",
        "report:weekly-dora",
        "report:audit-checkpoint",
        "reports:start-up",
    }
    assert str(jobs["report:weekly-dora"].trigger.timezone) == "Europe/Berlin"
    assert jobs["report:daily-deploys"].misfire_grace_time is None
