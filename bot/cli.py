"""The `shipbot` command line. Exit codes: 0 ok, 1 a check failed, 2 bad usage or setup."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from bot.settings import SettingsError
from workflows.errors import ConfigError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _parse_when(text: str) -> datetime:
    """ISO-8601 date or datetime; a value without a zone is taken as UTC."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO-8601 date or time (e.g. 2026-11-01 or 2026-11-01T09:00Z)"
        ) from error
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="shipbot",
        description="ChatOps for platform teams: deploys, approvals, incidents, audit.",
        epilog="Environment: SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET, SLACK_APP_TOKEN, "
        "SLACK_API_URL, SHIPBOT_DATABASE_URL, SHIPBOT_CONFIG, SHIPBOT_PORT. See README.md.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the bot (HTTP mode unless --socket-mode)")
    serve.add_argument(
        "--socket-mode", action="store_true", help="connect out with SLACK_APP_TOKEN"
    )
    serve.add_argument("--no-worker", action="store_true", help="do not run job workers here")
    serve.add_argument("--no-scheduler", action="store_true", help="do not run the cron clock here")
    serve.add_argument("--port", type=int, help="listen port (default: SHIPBOT_PORT or 3000)")
    serve.add_argument("--host", help="listen address (default 0.0.0.0)")

    dev = sub.add_parser(
        "dev", help="try the bot in a browser against a local Slack emulator (no workspace)"
    )
    dev.add_argument("--web-port", type=int, default=3002, help="the page's port (default 3002)")
    dev.add_argument("--port", type=int, default=3000, help="the bot's port (default 3000)")
    dev.add_argument("--slack-port", type=int, default=0, help="emulator port (default: any)")
    dev.add_argument("--database", help="database URL (default: a new SQLite file per run)")
    dev.add_argument("--config", type=Path, default=Path("examples/shipbot.yaml"))
    dev.add_argument("--terminal", action="store_true", help="a line prompt instead of the page")

    check = sub.add_parser("check-config", help="validate a config file")
    check.add_argument(
        "file", nargs="?", type=Path, help="default: SHIPBOT_CONFIG or ./shipbot.yaml"
    )

    config = sub.add_parser("config", help="config helpers")
    config_sub = config.add_subparsers(dest="config_command", required=True, metavar="COMMAND")
    config_sub.add_parser("schema", help="print the config's JSON Schema")

    audit = sub.add_parser("audit", help="the tamper-evident audit log")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True, metavar="COMMAND")
    verify = audit_sub.add_parser("verify", help="check the hash chain; non-zero if broken")
    verify.add_argument(
        "--expect-head",
        metavar="SEQ:HASH",
        help="an anchor kept outside the database (e.g. an audit checkpoint message)",
    )
    export = audit_sub.add_parser("export", help="write entries as JSON lines or CSV")
    export.add_argument("--since", type=_parse_when, help="from this time (ISO-8601, UTC default)")
    export.add_argument("--until", type=_parse_when, help="before this time")
    export.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
    export.add_argument("--output", "-o", type=Path, help="file to write (default: stdout)")

    db = sub.add_parser("db", help="the database schema")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="COMMAND")
    db_sub.add_parser("upgrade", help="apply migrations (Alembic) up to the newest")
    db_sub.add_parser("current", help="print the schema revision and whether it is current")

    jobs = sub.add_parser("jobs", help="durable background jobs")
    jobs_sub = jobs.add_subparsers(dest="jobs_command", required=True, metavar="COMMAND")
    jobs_list = jobs_sub.add_parser("list", help="list jobs, newest first")
    jobs_list.add_argument("--state", choices=["pending", "running", "succeeded", "dead"])
    jobs_list.add_argument("--kind")
    jobs_list.add_argument("--limit", type=int, default=50)
    jobs_retry = jobs_sub.add_parser("retry", help="run a dead job again")
    jobs_retry.add_argument("job_id", type=int)

    report = sub.add_parser("report", help="scheduled reports: list them or run one now")
    report_sub = report.add_subparsers(dest="report_command", required=True, metavar="COMMAND")
    report_sub.add_parser("list", help="the configured reports, their next and last runs")
    report_run = report_sub.add_parser("run", help="compute a report now and post it")
    report_run.add_argument("name", help="the report's name in the config")
    report_run.add_argument("--dry-run", action="store_true", help="print it here, post nothing")
    report_run.add_argument("--at", type=_parse_when, help="with --dry-run: as of this time")

    from bot import cli_explain

    cli_explain.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from bot import cli_commands as run
    from bot import cli_explain, cli_reports

    handlers = {
        "serve": run.serve,
        "dev": run.dev,
        "check-config": run.check_config,
        "config": run.config_schema,
        "audit": run.audit,
        "db": run.db,
        "jobs": run.jobs,
        "report": cli_reports.report,
        "explain": cli_explain.explain,
    }
    try:
        return handlers[args.command](args)
    except (SettingsError, ConfigError) as error:
        print(f"shipbot: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_OK


def print_json(value: object) -> None:
    print(json.dumps(value, indent=2, sort_keys=True, default=str))


if __name__ == "__main__":
    sys.exit(main())
