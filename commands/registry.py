"""The slash commands shipbot registers; `app_manifest.yaml` must declare exactly these."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from commands import deploy, incident, shipbot
from commands.reply import Reply, SlashCommand

SLASH_COMMANDS: Mapping[str, Callable[[SlashCommand, Any], Reply]] = {
    "/deploy": deploy.handle,
    "/incident": incident.SPEC.dispatch,
    "/shipbot": shipbot.handle,
}
