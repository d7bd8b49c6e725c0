"""A bare Bolt app that only acks `/shipbot`, on shipbot's own server stack (uvicorn,
Starlette, Bolt dispatch in the thread pool): the baseline for bench/ack_latency.py."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.http import build_http_app
from bot.metrics import Metrics
from bot.server_thread import GracefulServer
from workflows.store.db import Database


def build(signing_secret: str, slack_url: str, database_path: Path):  # type: ignore[no-untyped-def]
    # Bolt's authorization calls auth.test once; it goes to the emulator, as shipbot's does.
    app = App(
        signing_secret=signing_secret,
        client=WebClient(token="xoxb-bare", base_url=slack_url),
        token_verification_enabled=False,
        process_before_response=True,
    )

    @app.command("/shipbot")
    def ack_only(ack: Ack) -> None:
        ack(text="ok")

    return build_http_app(
        bolt_app=app,
        signing_secret=signing_secret,
        database=Database(f"sqlite:///{database_path}"),
        metrics=Metrics(),
    )


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--signing-secret", required=True)
    parser.add_argument("--slack-url", required=True)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        http = build(args.signing_secret, args.slack_url, Path(tmp) / "bare.db")
        config = uvicorn.Config(
            http, host="127.0.0.1", port=args.port, log_config=None, access_log=False
        )
        GracefulServer(config).run()


if __name__ == "__main__":
    main()
