"""A truly bare Bolt app, the baseline of bench/ack_latency.py: Bolt's own Starlette
adapter (``slack_bolt.adapter.starlette.SlackRequestHandler``) on uvicorn, one listener per
request kind the bench sends that only acks. No shipbot code runs in this process.

    python bench/bare_bolt.py --port 3001 --signing-secret S --slack-url http://...
"""

from __future__ import annotations

import argparse
from typing import Any

import uvicorn
from slack_bolt import Ack, App
from slack_bolt.adapter.starlette import SlackRequestHandler
from slack_sdk import WebClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


def build(signing_secret: str, slack_url: str) -> Starlette:
    # Bolt's authorization calls auth.test once; it goes to the emulator, as shipbot's does.
    app = App(
        signing_secret=signing_secret,
        client=WebClient(token="xoxb-bare", base_url=slack_url),
        token_verification_enabled=False,
        process_before_response=True,
    )

    def ack_only(ack: Ack) -> None:
        ack()

    # The bench sends these three kinds; each gets the same do-nothing listener.
    app.command("/deploy")(ack_only)
    app.command("/incident")(ack_only)
    app.action("deploy.approve")(ack_only)
    handler = SlackRequestHandler(app)

    async def events(request: Request) -> Response:
        response: Any = await handler.handle(request)
        return response  # type: ignore[no-any-return]

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route("/slack/events", events, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--signing-secret", required=True)
    parser.add_argument("--slack-url", required=True)
    args = parser.parse_args()
    uvicorn.run(
        build(args.signing_secret, args.slack_url),
        host="127.0.0.1",
        port=args.port,
        log_config=None,
        access_log=False,
    )


if __name__ == "__main__":
    main()
