"""`shipbot report list` and `shipbot report run <name> [--dry-run]`. Parsing is in bot/cli.py.

``report run --dry-run`` computes the figures as of now and prints them; nothing is
stored or posted. Without ``--dry-run`` the run is claimed like `/shipbot report run`
(audited, a durable ``report.run`` job) and this process then runs that run's own jobs
(compute, render, chart) through the same sender as ``serve``, so it works whether or not
a ``serve`` is running; if one takes a job first, this waits for it instead.
"""

from __future__ import annotations

import argparse
import getpass
import re
import sys
import time
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from bot.cli._common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, SubParsers, parse_when
from bot.scheduler import replica_name
from bot.sender import RendererRegistry, make_render_handler
from bot.settings import Settings, SettingsError, load_settings
from bot.slack_client import make_client
from bot.slack_errors import slack_errors_as_job_outcomes
from commands.reports.chart import make_chart_handler
from commands.reports.messages import render_report, run_meta
from commands.reports.views import render_list, render_run
from workflows import jobs
from workflows.clock import Clock, SystemClock
from workflows.config import ShipbotConfig, load_config
from workflows.errors import UserError
from workflows.jobs import JobContext, JobHandler, PermanentJobError, RetryLater
from workflows.reports import claims, inline, manual
from workflows.reports.models import ReportRun
from workflows.reports.runner import compute_figures, make_run_handler, worth_posting
from workflows.store.db import Database
from workflows.store.models import Job, JobState
from workflows.views import RENDER_JOB_KIND, render_job_key

JOB_TIMEOUT = 120.0  # seconds the terminal waits for one job (Slack pacing, retries)
LEASE = timedelta(seconds=60)


def add_parser(sub: SubParsers) -> None:
    report = sub.add_parser("report", help="scheduled reports: list them or run one now")
    report_sub = report.add_subparsers(dest="report_command", required=True, metavar="COMMAND")
    report_sub.add_parser("list", help="the configured reports, their next and last runs")
    report_run = report_sub.add_parser("run", help="compute a report now and post it")
    report_run.add_argument("name", help="the report's name in the config")
    report_run.add_argument("--dry-run", action="store_true", help="print it here, post nothing")
    report_run.add_argument("--at", type=parse_when, help="with --dry-run: as of this time")
    report.set_defaults(handler=report_command)


def report_command(args: argparse.Namespace) -> int:
    settings = load_settings()
    config = load_config(settings.config_path)
    database = Database(settings.database_url)
    clock = SystemClock()
    try:
        if args.report_command == "list":
            return _list(database, config, clock)
        if args.dry_run:
            return _dry_run(database, config, clock, args.name, args.at)
        if args.at is not None:
            raise UserError("--at goes with --dry-run: a posted report is always as of now.")
        return _post(database, config, clock, args.name, settings)
    except UserError as error:
        print(
            f"shipbot: {error.message}" + (f" {error.hint}" if error.hint else ""), file=sys.stderr
        )
        return EXIT_USAGE
    finally:
        database.dispose()


def _list(database: Database, config: ShipbotConfig, clock: Clock) -> int:
    with database.read_session() as session:
        listings = manual.list_reports(session=session, config=config, now=clock.now())
    _text, blocks = render_list(listings)
    print(terminal_text(blocks, config))
    return EXIT_OK


def _dry_run(
    database: Database, config: ShipbotConfig, clock: Clock, name: str, at: datetime | None
) -> int:
    report = manual.find_report(config=config, name=name)
    now = at or clock.now()
    with database.read_session() as session:
        figures = compute_figures(
            session=session,
            config=config,
            kind=report.kind,
            report_name=report.name,
            fire_time=now,
            timezone=report.timezone,
            params={},
        )
    meta = {
        "name": report.name,
        "kind": report.kind,
        "trigger": "dry_run",
        "requested_by": "",
        "fire_time": now.isoformat(),
        "timezone": report.timezone,
    }
    _text, blocks = render_run(meta, figures)
    print(terminal_text(blocks, config))
    print("\n(dry run: nothing was stored or posted)")
    return EXIT_OK


def _post(
    database: Database, config: ShipbotConfig, clock: Clock, name: str, settings: Settings
) -> int:
    if settings.slack_bot_token is None or not settings.slack_bot_token.get_secret_value():
        raise SettingsError("posting a report needs SLACK_BOT_TOKEN (or use --dry-run)")
    client = make_client(
        token=settings.slack_bot_token.get_secret_value(), base_url=settings.api_url, metrics=None
    )
    registry = RendererRegistry()
    registry.register(claims.VIEW_PREFIX, render_report)
    with database.transaction() as session:
        run = manual.run_now(
            session=session,
            clock=clock,
            config=config,
            directory=None,
            report_name=name,
            user=f"cli:{getpass.getuser()}",
            check_permission=False,
            claimed_by=replica_name(),
        )
    assert run.id is not None
    owner = f"{replica_name()}-cli"
    run_key = claims.run_job_key(run.report_name, run.fire_time)
    state = _drive(database, clock, run_key, make_run_handler(lambda: config), owner)
    stored = _load(database, run.id)
    if state != JobState.succeeded or stored.figures is None:
        print(f"shipbot: report run {run.id} did not finish ({state})", file=sys.stderr)
        return EXIT_FAILED
    _text, blocks = render_run(run_meta(stored), stored.figures)
    print(terminal_text(blocks, config))
    if not worth_posting(stored.kind, stored.figures):
        print("\n(nothing to post)")
        return EXIT_OK
    render = make_render_handler(client_factory=lambda: client, registry=registry)
    view = claims.view_key(run.id)
    first_render = render_job_key(RENDER_JOB_KIND, view, 0)
    if _drive(database, clock, first_render, render, owner) != JobState.succeeded:
        print(
            f"shipbot: posting report run {run.id} failed; see `shipbot jobs list`", file=sys.stderr
        )
        return EXIT_FAILED
    if stored.kind == "dora":
        chart = slack_errors_as_job_outcomes(make_chart_handler(lambda: client))
        if (
            _drive(database, clock, claims.chart_job_key(run.id), chart, owner)
            != JobState.succeeded
        ):
            print("shipbot: the chart upload failed; see `shipbot jobs list`", file=sys.stderr)
            return EXIT_FAILED
    print(f"\nposted to {_channel_name(config, stored.channel)} (report run {run.id})")
    return EXIT_OK


def _load(database: Database, run_id: int) -> ReportRun:
    with database.read_session() as session:
        run = session.get(ReportRun, run_id)
    assert run is not None
    return run


def _drive(
    database: Database, clock: Clock, key: str, handler: JobHandler, owner: str
) -> str | None:
    """Run the job ``key`` here until it succeeds or dies (or another process finishes it);
    its final state, or None if there is no such job or the wait timed out."""
    deadline = time.monotonic() + JOB_TIMEOUT
    while time.monotonic() < deadline:
        job = inline.take_job(
            database=database, clock=clock, idempotency_key=key, owner=owner, lease=LEASE
        )
        if job is None:
            found = inline.find_job(database=database, idempotency_key=key)
            if found is None or found.state in (JobState.succeeded, JobState.dead):
                return None if found is None else found.state
            time.sleep(0.2)  # postponed (pacing, 429) or held by a running serve
            continue
        _run_once(database, clock, job, handler, owner)
    return None


def _run_once(database: Database, clock: Clock, job: Job, handler: JobHandler, owner: str) -> None:
    """One attempt of a taken job, with the outcomes a worker gives it."""
    assert job.id is not None
    common: dict[str, Any] = {
        "database": database,
        "clock": clock,
        "job_id": job.id,
        "owner": owner,
    }
    context = JobContext(
        job=job,
        database=database,
        clock=clock,
        renew=lambda: jobs.heartbeat(**common, lease=LEASE),
    )
    try:
        handler(context)
    except RetryLater as later:
        jobs.postpone(**common, until=later.until(clock.now()))
    except PermanentJobError as error:
        jobs.fail(**common, error=str(error), permanent=True)
    except Exception as error:
        jobs.fail(**common, error=f"{type(error).__name__}: {error}")
        print(f"shipbot: {job.idempotency_key}: {error} (retrying)", file=sys.stderr)
    else:
        jobs.complete(**common)


# --- Block Kit for a terminal -----------------------------------------------------------

_MENTION = re.compile(r"<([@#!])([^>|]+)(?:\|([^>]*))?>")


def _channel_name(config: ShipbotConfig, channel_id: str) -> str:
    names = [name for name, value in config.channels.items() if value == channel_id]
    return f"#{names[0]}" if names else channel_id


def plain(text: str, config: ShipbotConfig) -> str:
    """mrkdwn made readable in a terminal: mentions by name, no emphasis marks."""

    def replace(match: re.Match[str]) -> str:
        sigil, target, label = match.groups()
        if sigil == "@":
            return f"@{config.user_name(target)}"
        if sigil == "#":
            return f"#{label}" if label else _channel_name(config, target)
        return "@" + target.removeprefix("subteam^")

    parts = _MENTION.sub(replace, text).split("`")
    # Even parts are prose (emphasis marks go), odd parts were `code` (kept as written).
    for index in range(0, len(parts), 2):
        prose = re.sub(r"\*([^*\n]+)\*", r"\1", parts[index])
        parts[index] = re.sub(r"(?<!\w)_([^_\n]+)_(?!\w)", r"\1", prose)
    text = "".join(parts)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def terminal_text(blocks: Sequence[Mapping[str, Any]], config: ShipbotConfig) -> str:
    """The blocks of a report as lines of text for a terminal."""
    lines: list[str] = []
    for block in blocks:
        kind = block.get("type")
        if kind == "header":
            title = block["text"]["text"]
            lines += [title, "=" * len(title)]
        elif kind == "section":
            if "text" in block:
                lines.append(plain(block["text"]["text"], config))
            for field in block.get("fields", []):
                first, _, rest = plain(field["text"], config).partition("\n")
                lines.append(f"{first}: {rest.replace(chr(10), ' · ')}" if rest else first)
        elif kind == "context":
            lines += [plain(e.get("text", ""), config) for e in block.get("elements", [])]
        elif kind == "divider":
            lines.append("-" * 40)
    return "\n".join(lines)


__all__ = ["add_parser", "plain", "report_command", "terminal_text"]
