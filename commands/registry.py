"""The slash commands shipbot registers; `app_manifest.yaml` must declare exactly these."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from commands.common.reply import Reply, SlashCommand
from commands.deploys import handlers as deploy
from commands.incidents import handlers as incident
from commands.shipbot import handlers as shipbot

SLASH_COMMANDS: Mapping[str, Callable[[SlashCommand, Any], Reply]] = {
    "/deploy": deploy.handle,
    "/incident": incident.SPEC.dispatch,
    "/shipbot": shipbot.handle,
}
