"""The whole app on real HTTP: Runtime + uvicorn on port 0, the Slack fake, a real database."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from bot.runtime import Runtime
from bot.sandbox.seed import seed_workspace
from bot.sandbox.signing import SlackRequestSigner, slash_command_body
from bot.sandbox.slack.api import FakeSlackApi
from bot.server_thread import ServerThread
from bot.settings import Settings
from tests.e2e.listeners import register_test_listeners
from workflows.config import ShipbotConfig, load_config
from workflows.jobs import counts_by_state
from workflows.store.db import Database

EXAMPLE_CONFIG = Path(__file__).resolve().parents[2] / "examples" / "shipbot.yaml"
SIGNING_SECRET = "e2e-signing-secret-0123456789"
BOT_TOKEN = "xoxb-e2e"
FORM = "application/x-www-form-urlencoded"


@dataclass
class RunningBot:
    runtime: Runtime
    server: ServerThread
    http: httpx.Client
    signer: SlackRequestSigner

    def post_signed(
        self, body: bytes, *, content_type: str = FORM, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        body, signed = self.signer.signed(body, content_type)
        return self.http.post("/slack/events", content=body, headers={**signed, **(headers or {})})

    def command(
        self,
        text: str,
        *,
        user: str = "U0ALICE",
        command: str = "/shipbot",
        channel: str = "C0DEPLOYS",
        **fields: str,
    ) -> httpx.Response:
        return self.post_signed(
            slash_command_body(
                command=command, text=text, user_id=user, channel_id=channel, **fields
            )
        )


def wait_until(predicate: Callable[[], bool], *, timeout: float = 10.0, what: str = "") -> None:
    """For state with no event to wait on (rows in the database): a bounded poll."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up waiting for {what or predicate}")
        time.sleep(0.02)


def jobs_drained(runtime: Runtime) -> bool:
    with runtime.database.read_session() as session:
        counts = counts_by_state(session=session)
    return counts.get("pending", 0) == 0 and counts.get("running", 0) == 0


def settings_for(
    database: Database, slack_url: str, state_dir: Path | None = None, *, ack_mode: str = "inline"
) -> Settings:
    return Settings(
        SHIPBOT_STATE_DIR=str(state_dir or Path(".shipbot")),
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=slack_url,
        SHIPBOT_DATABASE_URL=database.url,
        SHIPBOT_CONFIG=str(EXAMPLE_CONFIG),
        SHIPBOT_WORKER_THREADS=2,
        SHIPBOT_ACK_MODE=ack_mode,
    )


@pytest.fixture
def running_bot(database: Database, slack, tmp_path: Path) -> Iterator[RunningBot]:  # type: ignore[no-untyped-def]
    with serving(load_config(EXAMPLE_CONFIG), database, slack, tmp_path) as bot:
        yield bot


@contextmanager
def serving(
    config: ShipbotConfig,
    database: Database,
    slack: FakeSlackApi,
    tmp_path: Path,
    *,
    ack_mode: str = "inline",
) -> Iterator[RunningBot]:
    """The app with ``config`` on real HTTP, the Slack fake seeded with its people."""
    seed_workspace(slack, config)
    runtime = Runtime(
        settings_for(database, slack.url, tmp_path / "state", ack_mode=ack_mode),
        config=config,
        database=database,
        upgrade_sqlite=False,
        extra_registrars=[register_test_listeners],
    )
    server = ServerThread(runtime.http).start()
    client = httpx.Client(base_url=server.url, timeout=10)
    try:
        yield RunningBot(runtime, server, client, SlackRequestSigner(SIGNING_SECRET))
    finally:
        client.close()
        server.stop()
        runtime.stop()
