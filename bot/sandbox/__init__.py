"""The local Slack emulator: a loopback Web API fake, Slack's Socket Mode end, and
Slack-signed requests. Tests use it as their Slack; ``shipbot dev`` serves the same state
in a browser.

``slack/`` the Web API fake (server, workspace state, methods, Block Kit checks);
``socket_mode/`` the WebSocket end (needs the ``sandbox`` extra); ``web/`` the browser
page; ``signing`` requests as Slack signs them; ``seed`` and ``workspace`` the emulated
workspace; ``terminal`` the text rendering for ``shipbot dev --terminal``."""

from bot.sandbox.slack import (
    Call,
    Ephemeral,
    FakeSlackApi,
    InvalidBlocks,
    ResponsePost,
    SlackState,
    UploadedFile,
)
from bot.sandbox.socket_mode import SocketModeServer

__all__ = [
    "Call",
    "Ephemeral",
    "FakeSlackApi",
    "InvalidBlocks",
    "ResponsePost",
    "SlackState",
    "SocketModeServer",
    "UploadedFile",
]
