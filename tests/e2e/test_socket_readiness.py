"""Socket Mode health as an operator sees it: a real `shipbot serve --socket-mode` process,
the loopback Socket Mode server dropping its connection, and /readyz plus /metrics read
over HTTP while slack_sdk reconnects."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

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
    # Slack closes the link (as on an edge restart). A silent TCP drop
    # (server.drop_connections()) is not covered yet: see the report of issue 14.
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
