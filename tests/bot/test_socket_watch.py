"""SocketWatch's grace period on an injected clock: ready while the socket has been down
for at most the grace, unready after, ready again on reconnect, and the metrics follow."""

from __future__ import annotations

from bot.metrics import Metrics
from bot.socket_mode import SocketWatch


class Link:
    def __init__(self) -> None:
        self.up = False
        self.now = 100.0

    def is_connected(self) -> bool:
        return self.up

    def monotonic(self) -> float:
        return self.now


def _value(metrics: Metrics, name: str) -> float | None:
    return metrics.registry.get_sample_value(name)


def test_grace_then_unready_then_ready_again_on_reconnect() -> None:
    link, metrics = Link(), Metrics()
    watch = SocketWatch(link.is_connected, metrics=metrics, grace=30, monotonic=link.monotonic)
    link.now += 31
    assert watch.readiness()[0] is False  # never connected since start: down since then

    link.up = True
    watch.connected()
    watch.sample()
    assert watch.readiness() == (True, {"socket_mode": "connected"})
    assert _value(metrics, "shipbot_socket_mode_connected") == 1

    link.up = False
    watch.sample()
    link.now += 30
    ready, detail = watch.readiness()
    assert ready is True and detail == {"socket_mode": "disconnected for 30.0 s"}
    assert _value(metrics, "shipbot_socket_mode_connected") == 0
    link.now += 0.5
    assert watch.readiness()[0] is False

    link.up = True
    watch.connected()
    assert watch.readiness()[0] is True
    assert _value(metrics, "shipbot_socket_mode_reconnects_total") == 1
    assert _value(metrics, "shipbot_socket_mode_connected") == 1


class SilentLink(Link):
    """A socket the client still thinks open, whose pongs stop: a drop without a close."""

    def __init__(self) -> None:
        super().__init__()
        self.up = True
        self.last_pong = self.now

    def silent_for(self) -> float:
        return self.now - self.last_pong


def test_a_link_that_stops_answering_pings_counts_as_down_since_its_last_pong() -> None:
    link, metrics = SilentLink(), Metrics()
    watch = SocketWatch(
        link.is_connected,
        metrics=metrics,
        grace=10,
        silent_for=link.silent_for,
        silence_limit=3,
        monotonic=link.monotonic,
    )
    watch.connected()
    link.now += 1
    link.last_pong = link.now  # pongs keep coming: up
    watch.sample()
    assert watch.readiness() == (True, {"socket_mode": "connected"})

    link.now += 3  # exactly the limit: not yet
    watch.sample()
    assert watch.readiness()[0] is True
    assert _value(metrics, "shipbot_socket_mode_connected") == 1

    link.now += 0.5  # past it: down, counted from the last pong, still within the grace
    watch.sample()
    assert watch.readiness() == (True, {"socket_mode": "disconnected for 3.5 s"})
    assert _value(metrics, "shipbot_socket_mode_connected") == 0
    link.now += 7  # 10.5 s since the last pong: past the grace
    watch.sample()
    assert watch.readiness() == (False, {"socket_mode": "disconnected for 10.5 s"})

    watch.connected()  # slack_sdk gave up on the link and opened a new one
    link.last_pong = link.now
    watch.sample()
    assert watch.readiness() == (True, {"socket_mode": "connected"})
    assert _value(metrics, "shipbot_socket_mode_connected") == 1
    assert _value(metrics, "shipbot_socket_mode_reconnects_total") == 1


def test_silence_is_not_counted_when_the_client_cannot_say() -> None:
    link, metrics = Link(), Metrics()
    watch = SocketWatch(
        link.is_connected,
        metrics=metrics,
        grace=10,
        silent_for=lambda: None,
        silence_limit=3,
        monotonic=link.monotonic,
    )
    link.up = True
    watch.connected()
    link.now += 60
    watch.sample()
    assert watch.readiness() == (True, {"socket_mode": "connected"})
