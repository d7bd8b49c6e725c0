"""The browser sandbox of ``shipbot dev``: a page showing the emulated Slack workspace,
and the routes that turn what a person does there into signed Slack requests."""

from bot.sandbox.web.app import SandboxPage, build_web_app
from bot.sandbox.web.frontend import SandboxError, SlackFrontend

__all__ = ["SandboxError", "SandboxPage", "SlackFrontend", "build_web_app"]
