"""`shipbot check-config [FILE]` and `shipbot config schema`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.cli._common import EXIT_FAILED, EXIT_OK, SubParsers, print_json
from bot.settings import load_settings
from workflows.config import config_json_schema, load_config
from workflows.deploys.policy import UnreachableQuorum, unreachable_quorums
from workflows.errors import ConfigError


def add_parser(sub: SubParsers) -> None:
    check = sub.add_parser("check-config", help="validate a config file")
    check.add_argument(
        "file", nargs="?", type=Path, help="default: SHIPBOT_CONFIG or ./shipbot.yaml"
    )
    check.set_defaults(handler=check_config)

    config = sub.add_parser("config", help="config helpers")
    config_sub = config.add_subparsers(dest="config_command", required=True, metavar="COMMAND")
    config_sub.add_parser("schema", help="print the config's JSON Schema")
    config.set_defaults(handler=config_schema)


def check_config(args: argparse.Namespace) -> int:
    path = args.file if args.file is not None else load_settings().config_path
    try:
        config = load_config(path)
    except ConfigError as error:
        print(f"{path}: invalid configuration", file=sys.stderr)
        for line in str(error).splitlines():
            print(f"  {line}", file=sys.stderr)
        return EXIT_FAILED
    counts = {
        "service": len(config.services),
        "environment": len(config.environments),
        "group": len(config.groups),
        "report": len(config.reports),
    }
    summary = ", ".join(f"{n} {noun}{'' if n == 1 else 's'}" for noun, n in counts.items())
    print(f"{path}: ok ({summary})")
    for warning in unreachable_quorums(config):
        print(f"warning: {warning_text(warning)}", file=sys.stderr)
    return EXIT_OK


def warning_text(warning: UnreachableQuorum) -> str:
    approvers = ", ".join(sorted(warning.approvers)) or "nobody"
    if warning.requester is None:
        why = f"only {warning.eligible} approver(s) exist ({approvers})"
    else:
        why = (
            f"a request from {warning.requester} leaves {warning.eligible} approver(s) "
            f"({approvers}, less the requester, who may not approve their own)"
        )
    return (
        f"{warning.path}: needs {warning.required} approval(s), but {why}; such requests "
        "can never be approved"
    )


def config_schema(args: argparse.Namespace) -> int:
    print_json(config_json_schema())
    return EXIT_OK
