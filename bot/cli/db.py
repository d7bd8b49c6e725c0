"""`shipbot db upgrade` and `shipbot db current`: the schema (Alembic migrations)."""

from __future__ import annotations

import argparse

from bot.cli._common import EXIT_FAILED, EXIT_OK, SubParsers
from bot.settings import load_settings
from workflows.store.db import Database


def add_parser(sub: SubParsers) -> None:
    db = sub.add_parser("db", help="the database schema")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="COMMAND")
    db_sub.add_parser("upgrade", help="apply migrations (Alembic) up to the newest")
    db_sub.add_parser("current", help="print the schema revision and whether it is current")
    db.set_defaults(handler=db_command)


def db_command(args: argparse.Namespace) -> int:
    database = Database(load_settings().database_url)
    try:
        if args.db_command == "upgrade":
            database.upgrade()
            print(f"database at revision {database.current_revision()} (newest)")
            return EXIT_OK
        current, head = database.current_revision(), database.head_revision()
        print(f"database at revision {current or 'none'}; newest is {head}")
        return EXIT_OK if current == head else EXIT_FAILED
    finally:
        database.dispose()
