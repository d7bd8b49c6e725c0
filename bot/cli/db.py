"""`shipbot db upgrade`, `db current` and `db downgrade`: the schema (Alembic migrations).

``downgrade`` undoes the newest migration only: the way back from a release whose
rollout failed, to the previous release's schema (docs/operations.md, "Upgrading")."""

from __future__ import annotations

import argparse
import sys

from bot.cli._common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, SubParsers
from bot.settings import load_settings
from workflows.store.db import Database


def add_parser(sub: SubParsers) -> None:
    db = sub.add_parser("db", help="the database schema")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="COMMAND")
    db_sub.add_parser("upgrade", help="apply migrations (Alembic) up to the newest")
    db_sub.add_parser("current", help="print the schema revision and whether it is current")
    down = db_sub.add_parser(
        "downgrade", help="undo the newest migration (drops what it added: back up first)"
    )
    down.add_argument("--yes", action="store_true", help="really drop what the migration added")
    db.set_defaults(handler=db_command)


def db_command(args: argparse.Namespace) -> int:
    database = Database(load_settings().database_url)
    try:
        if args.db_command == "upgrade":
            database.upgrade()
            print(f"database at revision {database.current_revision()} (newest)")
            return EXIT_OK
        if args.db_command == "downgrade":
            return _downgrade(database, confirmed=args.yes)
        current, head = database.current_revision(), database.head_revision()
        print(f"database at revision {current or 'none'}; newest is {head}")
        return EXIT_OK if current == head else EXIT_FAILED
    finally:
        database.dispose()


def _downgrade(database: Database, *, confirmed: bool) -> int:
    current, head = database.current_revision(), database.head_revision()
    if current != head:
        # Only the step this release added may be undone by this release's code.
        print(
            f"database at revision {current or 'none'}, not this release's {head}: "
            "nothing to downgrade here",
            file=sys.stderr,
        )
        return EXIT_FAILED
    if not confirmed:
        print(
            f"this undoes migration {head} and drops what it added; run again with --yes",
            file=sys.stderr,
        )
        return EXIT_USAGE
    database.downgrade("-1")
    print(f"database at revision {database.current_revision() or 'none'} (was {head})")
    return EXIT_OK
