"""`shipbot serve` (HTTP or Socket Mode) and `shipbot dev` (the local sandbox)."""

from __future__ import annotations

import argparse
import gc
import logging
import sys
from pathlib import Path

from pydantic import SecretStr

from bot.cli._common import EXIT_OK, EXIT_USAGE, SubParsers
from bot.settings import load_settings
from workflows.config import load_config

log = logging.getLogger("shipbot.cli")


def add_parser(sub: SubParsers) -> None:
    serve_parser = sub.add_parser("serve", help="run the bot (HTTP mode unless --socket-mode)")
    serve_parser.add_argument(
        "--socket-mode", action="store_true", help="connect out with SLACK_APP_TOKEN"
    )
    serve_parser.add_argument(
        "--no-worker", action="store_true", help="do not run job workers here"
    )
    serve_parser.add_argument(
        "--no-scheduler", action="store_true", help="do not run the cron clock here"
    )
    serve_parser.add_argument(
        "--port", type=int, help="listen port (default: SHIPBOT_PORT or 3000)"
    )
    serve_parser.add_argument("--host", help="listen address (default 0.0.0.0)")
    serve_parser.set_defaults(handler=serve)

    dev_parser = sub.add_parser(
        "dev", help="try the bot in a browser against a local Slack emulator (no workspace)"
    )
    dev_parser.add_argument(
        "--web-port", type=int, default=3002, help="the page's port (default 3002)"
    )
    dev_parser.add_argument("--port", type=int, default=3000, help="the bot's port (default 3000)")
    dev_parser.add_argument(
        "--slack-port", type=int, default=0, help="emulator port (default: any)"
    )
    dev_parser.add_argument("--database", help="database URL (default: a new SQLite file per run)")
    dev_parser.add_argument("--config", type=Path, default=Path("examples/shipbot.yaml"))
    dev_parser.add_argument(
        "--terminal", action="store_true", help="a line prompt instead of the page"
    )
    dev_parser.set_defaults(handler=dev)


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
        fmt=settings.log_format,
    )
    runtime = Runtime(settings, config=config)
    # The config, wiring and Bolt app live as long as the process: like the imports
    # (bot/launch.py), they are moved out of the collector's sight, so a full collection
    # during a burst of acks does not walk them again (docs/performance.md, eighth pass).
    gc.freeze()
    runtime.start_background(worker=not args.no_worker, scheduler=not args.no_scheduler)
    socket_mode = watch = None
    try:
        if app_token is not None:
            from bot.socket_mode import open_socket_mode

            # Slack requests arrive over the socket; HTTP still serves health and metrics.
            socket_mode, watch = open_socket_mode(
                runtime.bolt,
                app_token=app_token,
                metrics=runtime.metrics,
                grace=settings.socket_down_grace,
                ping_interval=settings.socket_ping_interval,
            )
            runtime.readiness_checks.append(watch.readiness)
        server_config = uvicorn.Config(
            runtime.http,
            host=args.host or settings.host,
            port=args.port if args.port is not None else settings.port,
            log_config=None,
            access_log=False,
        )
        GracefulServer(server_config).run()
    finally:
        if socket_mode is not None and watch is not None:
            # No new Slack requests once shutdown starts; the runtime stops after.
            watch.stop()
            socket_mode.close()
        runtime.stop()
    return EXIT_OK


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


def dev(args: argparse.Namespace) -> int:
    try:
        from bot.dev import run_dev
    except ModuleNotFoundError as error:
        if error.name != "websockets":
            raise
        # The emulator's extra is left out of production installs; say how to add it.
        print(f"shipbot dev: {error}", file=sys.stderr)
        return EXIT_USAGE
    return run_dev(args)
