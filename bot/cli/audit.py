"""`shipbot audit verify` and `shipbot audit export`."""

from __future__ import annotations

import argparse
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import TextIO

from bot.cli._common import EXIT_FAILED, EXIT_OK, SubParsers, parse_when
from bot.settings import SettingsError, load_settings
from workflows import audit as audit_log
from workflows.store.db import Database


def add_parser(sub: SubParsers) -> None:
    audit = sub.add_parser("audit", help="the tamper-evident audit log")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True, metavar="COMMAND")
    verify = audit_sub.add_parser("verify", help="check the hash chain; non-zero if broken")
    verify.add_argument(
        "--expect-head",
        metavar="SEQ:HASH",
        help="an anchor kept outside the database (e.g. an audit checkpoint message)",
    )
    export = audit_sub.add_parser("export", help="write entries as JSON lines or CSV")
    export.add_argument("--since", type=parse_when, help="from this time (ISO-8601, UTC default)")
    export.add_argument("--until", type=parse_when, help="before this time")
    export.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
    export.add_argument("--output", "-o", type=Path, help="file to write (default: stdout)")
    audit.set_defaults(handler=audit_command)


def audit_command(args: argparse.Namespace) -> int:
    database = Database(load_settings().database_url)
    try:
        with database.read_session() as session:
            if args.audit_command == "verify":
                expected = _parse_anchor(args.expect_head) if args.expect_head else None
                report = audit_log.verify(session=session, expected_head=expected)
                if report.ok:
                    print(
                        f"audit log intact: {report.entries} entries, head {report.head_seq} "
                        f"{report.head_hash}"
                    )
                    return EXIT_OK
                print(f"audit log BROKEN: {report.problem}", file=sys.stderr)
                return EXIT_FAILED
            target: TextIO | nullcontext[TextIO]
            target = args.output.open("w", newline="") if args.output else nullcontext(sys.stdout)
            with target as out:
                written = audit_log.export(
                    session=session, out=out, fmt=args.format, since=args.since, until=args.until
                )
            print(f"exported {written} entries", file=sys.stderr)
            return EXIT_OK
    finally:
        database.dispose()


def _parse_anchor(text: str) -> tuple[int, str]:
    seq, _, digest = text.partition(":")
    if not seq.isdigit() or len(digest) != 64:
        raise SettingsError(
            f"--expect-head wants SEQ:HASH (a number and a 64-hex sha256), got {text!r}"
        )
    return int(seq), digest
