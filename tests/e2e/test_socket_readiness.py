"""Socket Mode health as an operator sees it: a real `shipbot serve --socket-mode` process,
the loopback Socket Mode server dropping its connection, and /readyz plus /metrics read
over HTTP while slack_sdk reconnects."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qsl

import httpx
import pytest

from bot.sandbox.signing import slash_command_body
from bot.sandbox.slack.api import FakeSlackApi
from bot.sandbox.socket_mode import SocketModeServer
from tests.e2e.test_processes import stop
from tests.e2e.test_socket_mode import socket_mode_serve

GRACE_SECONDS = 1
# The reconnect's apps.connections.open is held this long, so the socket stays down well
# past the grace period and /readyz has time to be seen failing.
RECONNECT_DELAY_SECONDS = 6


def metric(base: str, name: str) -> float:
    text = httpx.get(f"{base}/metrics").text
    match = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    assert match is not None, f"{name} not exported"
    return float(match.group(1))


def poll_until(probe, expected, *, timeout: float = 20.0):  # type: ignore[no-untyped-def]
    """Probe until it returns ``expected``; every value seen, in order, deduplicated."""
    seen: list[object] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if not seen or seen[-1] != value:
            seen.append(value)
        if value == expected:
            return seen
        time.sleep(0.05)
    raise AssertionError(f"never saw {expected!r}; saw {seen}")


@pytest.fixture
def socket_bot(tmp_path: Path, slack: FakeSlackApi) -> Iterator[tuple[str, SocketModeServer]]:
    grace = {"SHIPBOT_SOCKET_DOWN_GRACE": str(GRACE_SECONDS)}
    with socket_mode_serve(tmp_path, slack, **grace) as bot:
        yield bot.url, bot.socket
        assert stop(bot.process) == 0


def test_readyz_fails_while_the_socket_is_down_and_recovers_after_the_reconnect(
    slack: FakeSlackApi, socket_bot: tuple[str, SocketModeServer]
) -> None:
    base, server = socket_bot
    first = server.wait_for_connection(timeout=10)
    assert httpx.get(f"{base}/readyz").status_code == 200
    assert metric(base, "shipbot_socket_mode_connected") == 1
    assert metric(base, "shipbot_socket_mode_reconnects_total") == 0

    slack.fail_next("apps.connections.open", delay=RECONNECT_DELAY_SECONDS)
    # Slack closes the link (as on an edge restart); the silent drop is the next test.
    first.close(reason="emulator closes the link")

    def readiness() -> tuple[int, str]:
        answer = httpx.get(f"{base}/readyz")
        return answer.status_code, answer.json().get("socket_mode", "")[:12]

    # Within the grace period it says "disconnected" and stays ready; after it, 503.
    went_down = poll_until(readiness, (503, "disconnected"))
    assert all(status == 200 for status, _ in went_down[:-1]), went_down
    assert metric(base, "shipbot_socket_mode_connected") == 0

    came_back = poll_until(readiness, (200, "connected"))
    assert came_back[0] == (503, "disconnected")
    assert server.wait_for_connection(timeout=5) is not first
    assert server.connections_opened == 2
    assert metric(base, "shipbot_socket_mode_connected") == 1
    assert metric(base, "shipbot_socket_mode_reconnects_total") == 1


# Pings every half second: the watch calls a link silent after three unanswered ones.
PING_SECONDS = 0.5


def test_readyz_fails_after_a_silent_drop_and_recovers_after_the_reconnect(
    tmp_path: Path, slack: FakeSlackApi
) -> None:
    """The emulator cuts the TCP connection without a close frame: the app's socket still
    looks open, only its pings go unanswered. /readyz must still turn 503 (grace 1 s) and
    come back once slack_sdk has given up on the dead link and opened a new one."""
    env = {
        "SHIPBOT_SOCKET_DOWN_GRACE": str(GRACE_SECONDS),
        "SHIPBOT_SOCKET_PING_INTERVAL": str(PING_SECONDS),
    }
    with socket_mode_serve(tmp_path, slack, **env) as bot:
        base, server = bot.url, bot.socket
        first = server.wait_for_connection(timeout=10)

        def readiness() -> tuple[int, str]:
            answer = httpx.get(f"{base}/readyz")
            return answer.status_code, answer.json().get("socket_mode", "")[:12]

        # Up, with pongs coming back (a busy machine may need a moment for the first).
        poll_until(readiness, (200, "connected"))
        assert metric(base, "shipbot_socket_mode_connected") == 1

        slack.fail_next("apps.connections.open", delay=RECONNECT_DELAY_SECONDS)
        assert server.drop_connections() == 1

        went_down = poll_until(readiness, (503, "disconnected"), timeout=30)
        assert went_down[0] == (200, "connected"), went_down
        assert metric(base, "shipbot_socket_mode_connected") == 0

        came_back = poll_until(readiness, (200, "connected"), timeout=30)
        assert came_back[0] == (503, "disconnected"), came_back
        assert server.wait_for_connection(timeout=5) is not first
        assert server.connections_opened == 2
        assert len(slack.calls_to("apps.connections.open")) == 2
        assert metric(base, "shipbot_socket_mode_connected") == 1
        assert metric(base, "shipbot_socket_mode_reconnects_total") == 1

        # The new link is live: a slash command over it is answered, and it keeps
        # answering pings (readiness holds over several ping intervals).
        body = slash_command_body(
            command="/shipbot", text="help", user_id="U0ALICE", channel_id="C0DEPLOYS"
        )
        envelope_id = server.send_envelope("slash_commands", dict(parse_qsl(body.decode())))
        assert server.wait_for_ack(envelope_id, timeout=20)["response_type"] == "ephemeral"
        time.sleep(8 * PING_SECONDS)  # long past slack_sdk's stale limit (4 intervals)
        assert len(slack.calls_to("apps.connections.open")) == 2  # the new link held
        assert readiness() == (200, "connected")
        assert stop(bot.process) == 0


def test_http_mode_exports_no_socket_mode_series(tmp_path: Path, slack: FakeSlackApi) -> None:
    from bot.runtime import Runtime
    from tests.e2e.conftest import settings_for
    from workflows.store.db import Database

    database = Database(f"sqlite:///{tmp_path / 'http.db'}")
    runtime = Runtime(settings_for(database, slack.url, tmp_path), database=database)
    try:
        text = runtime.metrics.render().decode()
    finally:
        runtime.stop()
    assert "shipbot_socket_mode_connected" not in text
    assert re.search(r'^shipbot_build_info\{python="[\d.]+",version="[^"]+"\} 1\.0$', text, re.M)
    assert re.search(r"^process_resident_memory_bytes \d", text, re.M)
