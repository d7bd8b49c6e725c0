"""`shipbot serve --socket-mode` as a real process: it finds the WebSocket through the Web
API fake's ``apps.connections.open``, answers a slash command envelope, and shuts down."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl

import pytest

from bot.sandbox.seed import seed_workspace
from bot.sandbox.signing import slash_command_body
from bot.sandbox.slack.api import FakeSlackApi
from bot.sandbox.socket_mode import SocketModeServer
from tests.e2e.conftest import EXAMPLE_CONFIG
from tests.e2e.test_processes import SHIPBOT, free_port, stop, wait_until_up
from workflows.config import load_config

APP_TOKEN = "xapp-1-A0SHIPBOT-1-e2e"


@dataclass
class SocketModeBot:
    process: subprocess.Popen[str]
    socket: SocketModeServer
    url: str


@contextmanager
def socket_mode_serve(
    tmp_path: Path, slack: FakeSlackApi, **extra_env: str
) -> Iterator[SocketModeBot]:
    """`shipbot serve --socket-mode` against the fakes, up and connected (``extra_env``
    adds or overrides variables)."""
    seed_workspace(slack, load_config(EXAMPLE_CONFIG))
    with SocketModeServer() as server:
        slack.attach_socket_mode(server)
        port = free_port()
        env = {
            **os.environ,
            "SLACK_BOT_TOKEN": "xoxb-socket",
            "SLACK_SIGNING_SECRET": "socket-mode-signing-secret",
            "SLACK_APP_TOKEN": APP_TOKEN,
            "SLACK_API_URL": slack.url,
            "SHIPBOT_DATABASE_URL": f"sqlite:///{tmp_path / 'socket.db'}",
            "SHIPBOT_CONFIG": str(EXAMPLE_CONFIG),
            "SHIPBOT_PORT": str(port),
            "SHIPBOT_HOST": "127.0.0.1",
            **extra_env,
        }
        process = subprocess.Popen(
            [SHIPBOT, "serve", "--socket-mode"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_up(url, process)
            yield SocketModeBot(process, server, url)
        finally:
            if process.poll() is None:
                stop(process)


@pytest.fixture
def socket_mode_bot(tmp_path: Path, slack: FakeSlackApi) -> Iterator[SocketModeBot]:
    with socket_mode_serve(tmp_path, slack) as bot:
        yield bot


def test_serve_in_socket_mode_answers_a_slash_command_over_the_socket(
    slack: FakeSlackApi, socket_mode_bot: SocketModeBot
) -> None:
    server = socket_mode_bot.socket
    # serve connects before it listens, so by the time /healthz answers the socket is up.
    server.wait_for_connection(timeout=10)
    (opened,) = slack.calls_to("apps.connections.open")
    assert opened.headers["Authorization"] == f"Bearer {APP_TOKEN}"

    # A slash command arrives over the socket with the same fields Slack would POST.
    body = slash_command_body(
        command="/shipbot", text="help", user_id="U0ALICE", channel_id="C0DEPLOYS"
    )
    envelope_id = server.send_envelope("slash_commands", dict(parse_qsl(body.decode())))
    answer = server.wait_for_ack(envelope_id, timeout=10)

    assert answer["response_type"] == "ephemeral"
    shown = answer["text"] + str(answer.get("blocks", ""))
    for command in ("/deploy", "/incident", "/shipbot"):
        assert command in shown

    process = socket_mode_bot.process
    assert stop(process) == 0
    server.wait_for(lambda: not server.connections, timeout=5)
    assert process.stdout is not None
    output = process.stdout.read()
    assert "connected to Slack in socket mode" in output
    assert " ERROR " not in output, output
