"""The `shipbot` command line. Exit codes: 0 ok, 1 a check failed, 2 bad usage or setup.

Each subcommand is one module here with ``add_parser(sub)``, which registers its
arguments and its handler (``set_defaults(handler=...)``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from bot.cli import audit, config, db, explain, imports, jobs, reports, serve
from bot.cli._common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, print_json
from bot.settings import SettingsError
from workflows.errors import ConfigError

SUBCOMMANDS = (serve, config, audit, db, jobs, reports, explain, imports)


class _VersionAction(argparse.Action):
    """``--version``: the installed package's version, the one `/shipbot version` shows."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, help="print the version and exit")

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        from commands.shipbot.handlers import shipbot_version

        print(f"shipbot {shipbot_version()}")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="shipbot",
        description="ChatOps for platform teams: deploys, approvals, incidents, audit.",
        epilog="Environment: SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET, SLACK_APP_TOKEN, "
        "SLACK_API_URL, SHIPBOT_DATABASE_URL, SHIPBOT_CONFIG, SHIPBOT_PORT. See README.md.",
    )
    parser.add_argument("--version", action=_VersionAction)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in SUBCOMMANDS:
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result: int = args.handler(args)
        return result
    except (SettingsError, ConfigError) as error:
        print(f"shipbot: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_OK


__all__ = ["EXIT_FAILED", "EXIT_OK", "EXIT_USAGE", "build_parser", "main", "print_json"]
