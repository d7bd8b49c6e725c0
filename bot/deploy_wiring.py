"""Plugs the deploy flow into a shipbot process (see ``bot.wiring``)."""

from __future__ import annotations

from bot.wiring import Wiring


def wire(wiring: Wiring) -> None:
    """Nothing to wire yet."""
