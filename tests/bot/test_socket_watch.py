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
