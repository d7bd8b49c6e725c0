"""`shipbot explain <service> <env> --user <id>`: the same answer as `/deploy explain`."""

from __future__ import annotations

import argparse
import re
import sys

from bot.cli._common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, SubParsers
from bot.settings import Settings, load_settings
from workflows.clock import SystemClock
from workflows.config import load_config
from workflows.deploys.directory import Directory, NoDirectory
from workflows.deploys.policy import evaluate
from workflows.errors import UserError
from workflows.store.db import Database


def add_parser(sub: SubParsers) -> None:
    explain = sub.add_parser(
        "explain", help="why a user can or cannot deploy a service to an environment now"
    )
    explain.add_argument("service")
    explain.add_argument("environment")
    explain.add_argument("--user", required=True, help="Slack user id, e.g. U0ALICE")
    explain.set_defaults(handler=explain_command)


def _directory(settings: Settings) -> Directory:
    """Slack user groups are expanded when a bot token is set; otherwise they are empty
    and the output says so."""
    token = settings.slack_bot_token
    if token is None or not token.get_secret_value():
        return NoDirectory()
    from bot.slack_client import make_client
    from commands.common.directory import SlackDirectory

    client = make_client(
        token=token.get_secret_value(),
        base_url=settings.api_url,
        metrics=None,
    )
    return SlackDirectory(client, clock=SystemClock())


def explain_command(args: argparse.Namespace) -> int:
    settings = load_settings()
    config = load_config(settings.config_path)
    directory = _directory(settings)
    database = Database(settings.database_url)
    try:
        with database.read_session() as session:
            verdict = evaluate(
                session=session,
                clock=SystemClock(),
                config=config,
                directory=directory,
                user=args.user,
                service=args.service,
                environment=args.environment,
            )
    except UserError as error:
        print(f"shipbot: {error.message} {error.hint or ''}".rstrip(), file=sys.stderr)
        return EXIT_USAGE
    finally:
        database.dispose()
    marks = {True: "ok     ", False: "BLOCKED"}

    def plain(text: str) -> str:  # Slack mentions read as user ids in a terminal
        return re.sub(r"<@([A-Z0-9]+)>", r"\1", text)

    print(f"{args.user} deploying {verdict.service} to {verdict.environment}:")
    for check in verdict.checks:
        print(f"  {marks[check.ok]} {check.name.replace('_', ' ')}: {plain(check.detail)}")
    if isinstance(directory, NoDirectory) and config.groups:
        print("  (Slack user groups not expanded: set SLACK_BOT_TOKEN to include them)")
    if verdict.allowed:
        print("=> allowed now")
        return EXIT_OK
    if verdict.allowed_with_break_glass:
        print("=> blocked; this user may override with --break-glass and a reason")
    else:
        print("=> blocked")
    return EXIT_FAILED
