"""The Slack transport, one package per domain. Each exposes ``register(registry)``
(``commands.common.seams.Registry``); the runtime registers every domain listed here."""

from __future__ import annotations

from collections.abc import Callable

from commands import alerts, deploys, home, incidents, oncall, reports, shipbot
from commands.common.seams import Registry

DOMAINS: tuple[Callable[[Registry], None], ...] = (
    deploys.register,
    incidents.register,
    oncall.register,
    alerts.register,
    reports.register,
    shipbot.register,
    home.register,
)
