"""Socket Mode for `shipbot serve --socket-mode`: the connection, watched.

slack_sdk reconnects by itself; what it does not do is say so. ``SocketWatch`` follows
the client: the ``shipbot_socket_mode_connected`` gauge, a reconnect counter, a log line
for each change, and a readiness check that fails once the socket has been down for
longer than ``SHIPBOT_SOCKET_DOWN_GRACE`` seconds (a replica that cannot hear Slack should
not count as ready), and passes again as soon as it is back.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler

from bot.metrics import Metrics

log = logging.getLogger("shipbot.socket_mode")

POLL_SECONDS = 0.25  # how often the connection state is sampled between (re)connects
Readiness = tuple[bool, dict[str, Any]]


class SocketWatch:
    def __init__(
        self,
        is_connected: Callable[[], bool],
        *,
        metrics: Metrics,
        grace: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._is_connected = is_connected
        self._gauge, self._reconnects = metrics.socket_mode()
        self._grace = grace
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._connections = 0
        self._down_since: float | None = monotonic()  # down until the first connection
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def connected(self) -> None:
        """A connection was just opened (the first, or a reconnect)."""
        with self._lock:
            self._connections += 1
            if self._connections > 1:
                self._reconnects.inc()
                down_for = self._monotonic() - (self._down_since or self._monotonic())
                log.info("socket mode: reconnected after %.1f s", down_for)
            self._down_since = None
            self._gauge.set(1)

    def sample(self) -> None:
        """Look at the connection now (the watch thread calls this every POLL_SECONDS)."""
        up = self._is_connected()
        with self._lock:
            if up and self._down_since is not None and self._connections:
                self._down_since = None
            elif not up and self._down_since is None:
                self._down_since = self._monotonic()
                log.warning("socket mode: connection to Slack lost; slack_sdk is reconnecting")
            self._gauge.set(1 if up else 0)

    def readiness(self) -> Readiness:
        with self._lock:
            down_since = self._down_since
        if down_since is None:
            return True, {"socket_mode": "connected"}
        down_for = self._monotonic() - down_since
        detail = {"socket_mode": f"disconnected for {down_for:.1f} s"}
        return down_for <= self._grace, detail

    def start(self) -> SocketWatch:
        self._thread = threading.Thread(target=self._run, name="socket-mode-watch", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)

    def _run(self) -> None:
        while not self._stop.wait(POLL_SECONDS):
            try:
                self.sample()
            except Exception:  # a watch that dies silently would freeze the gauge
                log.exception("socket mode: could not sample the connection")


def open_socket_mode(
    bolt: App, *, app_token: str, metrics: Metrics, grace: float
) -> tuple[SocketModeHandler, SocketWatch]:
    """Connect Bolt over Socket Mode, watched. The handler asks apps.connections.open
    through the Bolt app's client, so SLACK_API_URL applies to the socket URL too."""
    handler = SocketModeHandler(bolt, app_token)
    client = handler.client
    watch = SocketWatch(client.is_connected, metrics=metrics, grace=grace)
    connect = client.connect

    def watched_connect() -> None:
        # slack_sdk calls self.connect() for the first connection and for every reconnect.
        connect()
        if client.is_connected():  # a connect that returns is not always a live socket
            watch.connected()

    client.connect = watched_connect  # type: ignore[method-assign]
    watch.start()
    handler.connect()
    if client.is_connected():
        log.info("connected to Slack in socket mode")
    else:  # slack_sdk keeps retrying in the background
        log.warning("socket mode: WebSocket not connected yet; retrying")
    return handler, watch
