"""`shipbot explain <service> <env> --user <id>`: the same answer as `/deploy explain`."""

from __future__ import annotations

import argparse
import sys

from bot.cli._common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, SubParsers
from bot.settings import Settings, load_settings
from commands.deploys.policy_text import Names, break_glass_note, describe, verdict_summary
from workflows.clock import SystemClock
from workflows.config import ShipbotConfig, load_config
from workflows.deploys.directory import Directory, NoDirectory
from workflows.deploys.policy import Verdict, evaluate
from workflows.errors import UserError
from workflows.store.db import Database


def add_parser(sub: SubParsers) -> None:
    explain = sub.add_parser(
        "explain", help="why a user can or cannot deploy a service to an environment now"
    )
    explain.add_argument("service")
    explain.add_argument("environment")
    explain.add_argument("--user", required=True, help="Slack user id, e.g. U0ALICE")
    explain.add_argument(
        "--version",
        dest="deploy_version",
        metavar="VERSION",
        help="judge this version too (promotion order: did it succeed in the stage before?)",
    )
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
                version=args.deploy_version,
            )
    except UserError as error:
        print(f"shipbot: {error.message} {error.hint or ''}".rstrip(), file=sys.stderr)
        return EXIT_USAGE
    finally:
        database.dispose()
    print(render_plain(verdict, name=_terminal_names(config)))
    if isinstance(directory, NoDirectory) and config.groups:
        print("  (Slack user groups not expanded: set SLACK_BOT_TOKEN to include them)")
    return EXIT_OK if verdict.allowed else EXIT_FAILED


def _terminal_names(config: ShipbotConfig) -> Names:
    """A user as the config names them (``@bob (U0BOB)``), else the bare id."""

    def name(user: str) -> str:
        known = config.users.get(user)
        return f"@{known.name} ({user})" if known is not None else user

    return name


def render_plain(verdict: Verdict, *, name: Names) -> str:
    """``explain`` for a terminal: one row per rule, then the answer."""
    marks = {True: "ok     ", False: "BLOCKED"}
    lines = [f"{name(verdict.user)} deploying {verdict.service} to {verdict.environment}:"]
    for check in verdict.checks:
        row = f"  {marks[check.ok]} {str(check.rule).replace('_', ' ')}: "
        row += describe(check, name=name)
        if not check.ok:
            row += f" ({break_glass_note(verdict, check, name=name)})"
        lines.append(row.replace("`", ""))
    lines.append("=> " + verdict_summary(verdict, name=name).replace("`", ""))
    return "\n".join(lines)
