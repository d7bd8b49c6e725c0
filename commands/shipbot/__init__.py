"""``/shipbot``: help for every command, the running version, reports run by hand."""

from __future__ import annotations

from commands.common.seams import Registry
from commands.shipbot import handlers


def register(registry: Registry) -> None:
    registry.command("/shipbot", handlers.handle)
