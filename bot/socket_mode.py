"""Socket Mode for `shipbot serve --socket-mode`: the connection, watched.

slack_sdk reconnects by itself; what it does not do is say so. ``SocketWatch`` follows
the client: the ``shipbot_socket_mode_connected`` gauge, a reconnect counter, a log line
for each change, and a readiness check that fails once the socket has been down for
longer than ``SHIPBOT_SOCKET_DOWN_GRACE`` seconds (a replica that cannot hear Slack should
not count as ready), and passes again as soon as it is back.

A link that dies without a close frame (a dropped TCP connection, a killed edge) still
looks connected to slack_sdk until its pings go unanswered for four to five intervals.
The watch does not wait for that: the socket counts as down once no pong has come back
for ``SILENT_PINGS`` ping intervals (``SHIPBOT_SOCKET_PING_INTERVAL``), and the time down
is counted from the last pong. So /readyz turns 503 ``max(grace, SILENT_PINGS x
interval)`` after the last pong, within that plus one interval of the link's death.
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
# Unanswered ping intervals after which a socket that looks open counts as down; slack_sdk
# itself gives up on it after four, so this is sooner, with one interval of slack for a
# busy process.
SILENT_PINGS = 3
Readiness = tuple[bool, dict[str, Any]]


class SocketWatch:
    def __init__(
        self,
        is_connected: Callable[[], bool],
        *,
        metrics: Metrics,
        grace: float,
        silent_for: Callable[[], float | None] = lambda: None,
        silence_limit: float = float("inf"),
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """``silent_for``: seconds since Slack last answered a ping on the current
        connection (None: not known); past ``silence_limit`` the socket counts as down."""
        self._is_connected = is_connected
        self._silent_for = silent_for
        self._silence_limit = silence_limit
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
        up, silent = self._is_connected(), self._silent_for()
        if up and silent is not None and silent > self._silence_limit:
            up = False  # open as far as the client knows, but Slack has stopped answering
        with self._lock:
            if up and self._down_since is not None and self._connections:
                self._down_since = None
            elif not up and self._down_since is None:
                self._down_since = self._monotonic() - (silent or 0.0)
                if silent:
                    log.warning("socket mode: no pong from Slack for %.1f s; link lost", silent)
                else:
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
    bolt: App, *, app_token: str, metrics: Metrics, grace: float, ping_interval: float = 10.0
) -> tuple[SocketModeHandler, SocketWatch]:
    """Connect Bolt over Socket Mode, watched. The handler asks apps.connections.open
    through the Bolt app's client, so SLACK_API_URL applies to the socket URL too.
    slack_sdk pings Slack every ``ping_interval`` seconds (Bolt's default is 10)."""
    handler = SocketModeHandler(bolt, app_token, ping_interval=ping_interval)
    client = handler.client
    connected_at = [time.time()]  # wall clock, as slack_sdk stamps its pings

    def silent_for() -> float | None:
        """Seconds since the last pong (or since connecting, before the first)."""
        session = client.current_session
        if session is None or not session.is_active():
            return None
        heard = max(session.last_ping_pong_time or 0.0, connected_at[0])
        return max(0.0, time.time() - heard)

    watch = SocketWatch(
        client.is_connected,
        metrics=metrics,
        grace=grace,
        silent_for=silent_for,
        silence_limit=SILENT_PINGS * ping_interval,
    )
    connect = client.connect

    def watched_connect() -> None:
        # slack_sdk calls self.connect() for the first connection and for every reconnect.
        connect()
        connected_at[0] = time.time()
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
