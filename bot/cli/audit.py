"""`shipbot audit verify` and `shipbot audit export`.

``verify --against-checkpoints`` reads the newest anchor from every store configured under
``audit.anchors`` (see docs/audit.md) and fails unless the chain still reaches it.
"""

from __future__ import annotations

import argparse
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import TextIO

from sqlmodel import Session

from bot.cli._common import EXIT_FAILED, EXIT_OK, SubParsers, parse_when
from bot.settings import SettingsError, load_settings
from workflows import audit as audit_log
from workflows.audit.anchors import Anchor, AnchorError, anchor_stores
from workflows.config import load_config
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
    verify.add_argument(
        "--against-checkpoints",
        action="store_true",
        help="also check the newest anchor in each store of audit.anchors (config file)",
    )
    verify.add_argument(
        "--workers", type=int, help="processes checking ranges (default: one per CPU)"
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
                return _verify(session, args)
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


def _checkpoints() -> list[tuple[str, Anchor]]:
    """The newest anchor of every configured store, with the store's name."""
    path = load_settings().config_path
    stores = anchor_stores(load_config(path).audit.anchors)
    if not stores:
        raise SettingsError(
            f"--against-checkpoints needs audit.anchors.file or audit.anchors.s3 in {path}"
        )
    found = []
    for store in stores:
        latest = store.latest()
        if latest is None:
            raise AnchorError(f"{store.describe()} holds no checkpoint yet")
        found.append((store.describe(), latest))
    return found


def _verify(session: Session, args: argparse.Namespace) -> int:
    anchors = [("--expect-head", _parse_anchor(args.expect_head))] if args.expect_head else []
    try:
        if args.against_checkpoints:
            anchors += [(where, (a.seq, a.hash)) for where, a in _checkpoints()]
    except AnchorError as error:
        print(f"audit log NOT VERIFIED: {error}", file=sys.stderr)
        return EXIT_FAILED
    # One full walk against the furthest anchor; the others are single lookups.
    anchors.sort(key=lambda named: named[1][0], reverse=True)
    furthest = anchors[0][1] if anchors else None
    report = audit_log.verify(session=session, expected_head=furthest, workers=args.workers)
    problem = report.problem
    if report.ok:
        for _, anchor in anchors[1:]:
            problem = problem or audit_log.anchor_mismatch(session=session, anchor=anchor)
    if problem is None:
        print(
            f"audit log intact: {report.entries} entries, head {report.head_seq} {report.head_hash}"
        )
        for where, (seq, digest) in anchors:
            print(f"  reaches the anchor in {where}: entry {seq} {digest}")
        return EXIT_OK
    print(f"audit log BROKEN: {problem}", file=sys.stderr)
    if anchors:
        print(
            "  anchors checked: " + ", ".join(f"{w} (entry {a[0]})" for w, a in anchors),
            file=sys.stderr,
        )
    return EXIT_FAILED


def _parse_anchor(text: str) -> tuple[int, str]:
    seq, _, digest = text.partition(":")
    if not seq.isdigit() or len(digest) != 64:
        raise SettingsError(
            f"--expect-head wants SEQ:HASH (a number and a 64-hex sha256), got {text!r}"
        )
    return int(seq), digest
