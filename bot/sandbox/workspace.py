"""Identity of the emulated Slack workspace, shared by the Web API fake and the request builders.

The values look like real Slack ids so code that pattern-matches ids (``U…``, ``C…``) works
unchanged against the sandbox."""

from __future__ import annotations

TEAM_ID = "T0SHIPBOT"
TEAM_DOMAIN = "shipbot-sandbox"
TEAM_NAME = "shipbot sandbox"
APP_ID = "A0SHIPBOT"
BOT_ID = "B0SHIPBOT"
BOT_USER_ID = "U0SHIPBOT"
BOT_USER_NAME = "shipbot"
# The deprecated verification token Slack still puts into every payload.
VERIFICATION_TOKEN = "sandbox-verification-token"
