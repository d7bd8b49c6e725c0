"""What each `shipbot` sub-command does. Parsing lives in bot/cli.py."""

from __future__ import annotations

import argparse
import logging
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import IO

from pydantic import SecretStr

from bot.cli import EXIT_FAILED, EXIT_OK, print_json
from bot.settings import Settings, SettingsError, load_settings
from workflows.clock import SystemClock
from workflows.config import load_config
from workflows.errors import ConfigError
from workflows.store.db import Database

log = logging.getLogger("shipbot.cli")


def _config_path(settings: Settings, given: Path | None) -> Path:
    return given if given is not None else settings.config_path


def check_config(args: argparse.Namespace) -> int:
    path = _config_path(load_settings(), args.file)
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
    return EXIT_OK


def config_schema(args: argparse.Namespace) -> int:
    from workflows.config import config_json_schema

    print_json(config_json_schema())
    return EXIT_OK


def db(args: argparse.Namespace) -> int:
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


def audit(args: argparse.Namespace) -> int:
    from workflows import audit as audit_log

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
            target: IO[str] | nullcontext[IO[str]]
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


def jobs(args: argparse.Namespace) -> int:
    from workflows import jobs as job_store

    database = Database(load_settings().database_url)
    try:
        if args.jobs_command == "retry":
            with database.transaction() as session:
                job = job_store.retry_job(session=session, clock=SystemClock(), job_id=args.job_id)
            print(f"job {job.id} ({job.kind}) is pending again")
            return EXIT_OK
        with database.read_session() as session:
            rows = job_store.list_jobs(
                session=session, state=args.state, kind=args.kind, limit=args.limit
            )
        if not rows:
            print("no jobs")
            return EXIT_OK
        print(f"{'id':>6}  {'state':<9}  {'kind':<16}  {'tries':>5}  {'run after':<25}  last error")
        for job in rows:
            error = (job.last_error or "").splitlines()[0][:60] if job.last_error else ""
            print(
                f"{job.id:>6}  {job.state:<9}  {job.kind:<16}  "
                f"{job.attempts:>2}/{job.max_attempts:<2}  "
                f"{job.run_after.isoformat(timespec='seconds'):<25}  {error}"
            )
        return EXIT_OK
    finally:
        database.dispose()


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from bot.logging_setup import configure_logging
    from bot.runtime import Runtime
    from bot.server_thread import GracefulServer
    from workflows.config import secret_values

    settings = load_settings()
    token, secret = settings.require_http_credentials()
    config = load_config(settings.config_path)
    app_token = settings.require_app_token() if args.socket_mode else None
    configure_logging(
        settings.log_level,
        secrets=(token, secret, _secret(settings.slack_app_token), *secret_values(config)),
    )
    runtime = Runtime(settings, config=config)
    runtime.start_background(worker=not args.no_worker, scheduler=not args.no_scheduler)
    socket_mode = None
    try:
        if app_token is not None:
            from slack_bolt.adapter.socket_mode import SocketModeHandler

            # Slack requests arrive over the socket; HTTP still serves health and metrics.
            # The handler asks apps.connections.open through the Bolt app's client, so
            # SLACK_API_URL applies to the socket URL too.
            socket_mode = SocketModeHandler(runtime.bolt, app_token)
            socket_mode.connect()
            if socket_mode.client.is_connected():
                log.info("connected to Slack in socket mode")
            else:  # slack_sdk keeps retrying in the background
                log.warning("socket mode: WebSocket not connected yet; retrying")
        config = uvicorn.Config(
            runtime.http,
            host=args.host or settings.host,
            port=args.port if args.port is not None else settings.port,
            log_config=None,
            access_log=False,
        )
        GracefulServer(config).run()
    finally:
        if socket_mode is not None:
            # No new Slack requests once shutdown starts; the runtime stops after.
            socket_mode.close()
        runtime.stop()
    return EXIT_OK


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


def dev(args: argparse.Namespace) -> int:
    from bot.dev import run_dev

    return run_dev(args)


__all__ = ["audit", "check_config", "config_schema", "db", "dev", "jobs", "serve"]
