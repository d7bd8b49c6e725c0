"""`shipbot import deploys --from github|argocd --service NAME --since DATE [--dry-run]`:
past deploys recorded as external deploys (docs/notifications.md). Idempotent and
resumable (workflows.external.importer); a progress bar on a terminal, a summary line at
the end. Exit 1 when the source cannot be read (run it again: it resumes)."""

from __future__ import annotations

import argparse
import sys
import time
from typing import TextIO

import httpx

from bot.cli._common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, SubParsers, parse_when
from bot.settings import load_settings
from workflows.alerts.model import HookRejected
from workflows.clock import SystemClock
from workflows.config import ShipbotConfig, load_config
from workflows.external.history import (
    ArgocdHistory,
    GithubHistory,
    HistorySource,
    ImportFailed,
    RateLimited,
)
from workflows.external.importer import import_deploys
from workflows.store.db import Database

BAR_WIDTH = 30


def add_parser(sub: SubParsers) -> None:
    imports = sub.add_parser("import", help="import history from outside shipbot")
    imports_sub = imports.add_subparsers(dest="import_command", required=True, metavar="WHAT")
    deploys = imports_sub.add_parser("deploys", help="past deploys from GitHub or Argo CD")
    deploys.add_argument("--from", dest="source", choices=["github", "argocd"], required=True)
    deploys.add_argument("--service", required=True)
    deploys.add_argument("--since", type=parse_when, required=True, help="e.g. 2026-01-01")
    deploys.add_argument("--dry-run", action="store_true", help="count, write nothing")
    imports.set_defaults(handler=import_command)


class ProgressBar:
    """``[#####.....] page 12/50 · 1200 imported`` redrawn in place on a terminal."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.shown = stream.isatty()

    def __call__(self, pages: int, total: int | None, imported: int) -> None:
        if not self.shown:
            return
        if total:
            filled = min(BAR_WIDTH, BAR_WIDTH * pages // total)
            bar = f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] page {pages}/{total}"
        else:
            bar = f"page {pages}"
        self.stream.write(f"\r{bar} · {imported} imported")
        self.stream.flush()

    def close(self) -> None:
        if self.shown:
            self.stream.write("\n")


def _history(
    args: argparse.Namespace, config: ShipbotConfig, http: httpx.Client
) -> HistorySource | str:
    """The source to read, or why it cannot be read."""
    if args.service not in config.services:
        return f"unknown service {args.service!r}"
    if args.source == "github":
        hooks = config.hooks.github
        repository = config.services[args.service].github_repository()
        if hooks is None or repository is None:
            return "needs hooks.github and services.<name>.repository (or source.github)"
        limiter = RateLimited(clock=SystemClock(), sleep=time.sleep)
        return GithubHistory(
            config=config,
            hooks=hooks,
            service=args.service,
            repository=repository,
            since=args.since,
            http=http,
            limiter=limiter,
        )
    argocd = config.hooks.argocd
    if argocd is None or not config.services[args.service].argocd_applications:
        return "needs hooks.argocd and services.<name>.argocd_applications"
    return ArgocdHistory(
        config=config, hooks=argocd, service=args.service, since=args.since, http=http
    )


def import_command(args: argparse.Namespace) -> int:
    settings = load_settings()
    config = load_config(settings.config_path)
    database = Database(settings.database_url)
    bar = ProgressBar(sys.stderr)
    try:
        with httpx.Client(timeout=30.0, follow_redirects=False) as http:
            history = _history(args, config, http)
            if isinstance(history, str):
                print(f"shipbot import deploys: {history}", file=sys.stderr)
                return EXIT_USAGE
            summary = import_deploys(
                database=database,
                clock=SystemClock(),
                config=config,
                history=history,
                source=args.source,
                service=args.service,
                since=args.since,
                dry_run=args.dry_run,
                progress=bar,
            )
    except (ImportFailed, HookRejected, httpx.HTTPError) as error:  # resumable: say why
        bar.close()
        print(f"shipbot import deploys: {error}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        database.dispose()
    bar.close()
    print(summary.line())
    return EXIT_OK
